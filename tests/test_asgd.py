"""ASGD: jopt.asgd against the formula in NumPy, and its average ax against PyTorch's."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from tests.support.parity import init_params, loss_jnp

import jopt
import jopt.compat.torch as jt


def numpy_asgd(x, grads, lr, lambd, alpha, t0):
    """PyTorch's ASGD step by step (η, μ as it computes them), written out in NumPy."""
    eta, mu, ax, out = lr(0), 1.0, np.zeros_like(x), []
    for t, g in enumerate(grads, start=1):
        x = x * (1 - lambd * eta) - eta * g
        ax = x.copy() if mu == 1 else ax + (x - ax) * mu
        out.append((x, ax, eta))
        eta = lr(t - 1) / (1 + lambd * lr(t - 1) * t) ** alpha
        mu = 1 / max(1, t - t0)
    return out


@pytest.mark.parametrize("scheduled", [False, True], ids=["constant", "step-schedule"])
def test_asgd_matches_the_formula(scheduled):
    rng = np.random.default_rng(1)
    grads = [rng.normal(size=5) for _ in range(25)]
    x0 = rng.normal(size=5)
    lr = (lambda c: 0.1 * 0.5 ** (c // 4)) if scheduled else (lambda c: 0.1)
    expected = numpy_asgd(x0, grads, lr, lambd=0.05, alpha=0.6, t0=3.0)
    rate = jopt.schedules.step_lr(0.1, 4, 0.5) if scheduled else 0.1
    tx = jopt.asgd(rate, lambd=0.05, alpha=0.6, t0=3.0)
    x = jnp.asarray(x0)
    state = tx.init(x)
    for g, (x_np, ax_np, eta_np) in zip(grads, expected, strict=True):
        updates, state = tx.update(jnp.asarray(g), state, x)
        x = optax.apply_updates(x, updates)
        np.testing.assert_allclose(np.asarray(x), x_np, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(
            np.asarray(jopt.averaged_params(state)), ax_np, rtol=1e-13, atol=1e-13
        )
        assert float(jopt.get_learning_rate(state)) == pytest.approx(eta_np, rel=1e-15)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_average_matches_torchs_ax(dtype):
    # Lockstep, as tests/parity.py: both get the gradient taken at jopt's params.
    kwargs = dict(lr=0.05, lambd=1e-2, alpha=0.6, t0=10.0, weight_decay=0.01, maximize=True)
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    params = {k: jnp.asarray(v, dtype) for k, v in init_params().items()}
    theirs = {k: torch.tensor(np.asarray(v), requires_grad=True) for k, v in params.items()}
    opt = torch.optim.ASGD(list(theirs.values()), **kwargs)
    tx = jt.ASGD(**kwargs)
    state = tx.init(params)
    grad_fn = jax.jit(jax.grad(loss_jnp), static_argnums=1)
    worst = 0.0
    for _ in range(60):
        grads = grad_fn(params, -1.0)
        updates, state = tx.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        for k, p in theirs.items():
            p.grad = torch.from_numpy(np.array(grads[k]))
        default = torch.get_default_dtype()
        torch.set_default_dtype(tdtype)  # η and μ in the run's precision (see ASGD's doc)
        try:
            opt.step()
        finally:
            torch.set_default_dtype(default)
        ours = jopt.averaged_params(state)
        for k, p in theirs.items():
            ax = opt.state[p]["ax"].numpy()
            assert ours[k].dtype == dtype
            err = np.max(np.abs(np.asarray(ours[k], np.float64) - ax))
            worst = max(worst, err / np.max(np.abs(ax)))
    assert worst <= {np.float64: 1e-10, np.float32: 2e-5}[dtype], worst


def test_asgd_needs_params():
    tx = jopt.asgd()
    with pytest.raises(ValueError, match="jopt.asgd: update\\(\\) needs params"):
        tx.update(jnp.ones(2), tx.init(jnp.zeros(2)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lambd=-1.0), r"jopt.asgd: lambd=-1.0 .* \[0, inf\)"),
        (dict(alpha=float("nan")), r"jopt.asgd: alpha=nan"),
        (dict(t0="10"), r"jopt.asgd: t0='10' is invalid; t0 must be a real number"),
        (dict(learning_rate=-1.0), r"learning_rate=-1.0"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        jopt.asgd(**kwargs)


def test_complex_params_step_as_torchs_and_keep_a_complex_average():
    p = torch.tensor([1.0 + 2.0j, -1.0j], dtype=torch.complex128, requires_grad=True)
    opt = torch.optim.ASGD([p], lr=0.1, lambd=0.01, t0=1.0, weight_decay=0.1)
    tx = jt.ASGD(lr=0.1, lambd=0.01, t0=1.0, weight_decay=0.1)
    params = jnp.asarray(p.detach().numpy())
    state = tx.init(params)
    for g in ([0.5 - 1.0j, 2.0 + 0.5j], [1.0 + 1.0j, -1.0 + 0.5j], [0.2 - 0.1j, 3.0 + 1j]) * 2:
        p.grad = torch.tensor(g, dtype=torch.complex128)
        default = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)
        try:
            opt.step()
        finally:
            torch.set_default_dtype(default)
        updates, state = tx.update(jnp.asarray(g), state, params)
        params = optax.apply_updates(params, updates)
        np.testing.assert_allclose(np.asarray(params), p.detach().numpy(), rtol=0, atol=1e-15)
        ax = jopt.averaged_params(state)
        assert ax.dtype == jnp.complex128 and ax.shape == (2,)
        np.testing.assert_allclose(np.asarray(ax), opt.state[p]["ax"].numpy(), rtol=0, atol=1e-15)
