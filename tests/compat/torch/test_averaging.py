"""jopt.compat.torch.ASGD (jopt/compat/torch/_averaging.py) against torch.optim.ASGD: lockstep
trajectories and torch's argument checks."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import jopt
import jopt.compat.torch as jt
from tests.support import parity
from tests.support.parity import init_params, loss_jnp

CASES = parity.torch_cases("averaging")
QUICK = parity.select(parity.TORCH_QUICK, CASES)
SLOW = parity.select(parity.TORCH_SLOW, CASES)


@pytest.mark.parametrize("case, dtype", QUICK, ids=parity.ids(QUICK))
def test_first_case_of_each_preset_matches_torch(case, dtype, torch_quick):
    parity.check(torch_quick, case, dtype)


@pytest.mark.slow
@pytest.mark.parametrize("case, dtype", SLOW, ids=parity.ids(SLOW))
def test_every_other_case_matches_torch(case, dtype, torch_slow):
    parity.check(torch_slow, case, dtype)


BAD = [
    ("ASGD", dict(lr=-1.0)),
    ("ASGD", dict(weight_decay=-0.1)),
]


@pytest.mark.parametrize("name, kwargs", BAD, ids=[f"{n}-{i}" for i, (n, _) in enumerate(BAD)])
def test_bad_arguments_raise_like_torch(name, kwargs):
    parity.raises_like_torch(name, kwargs)


# ASGD: its average ax and complex parameters in lockstep with torch


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
