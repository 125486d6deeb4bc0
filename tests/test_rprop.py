"""Rprop: jopt.rprop / scale_by_rprop against the formula in NumPy; argument checks."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import jopt
import jopt.compat.torch as jt

CURV = np.array([1.0, 2.0, 0.5, 3.0, 1.0])
X0 = np.array([-3.0, 0.5, 4.0, 1.2, 1.0])  # the last coordinate has a zero gradient


def grad(x):
    return CURV * (x - 1.0) + 0.5 * np.sin(3.0 * x) * (x != 1.0)


def numpy_rprop(x, steps, d0, eta_minus, eta_plus, d_min, d_max):
    """Riedmiller & Braun's Rprop without backtracking (PyTorch's), written out."""
    size, prev, path = np.full_like(x, d0), np.zeros_like(x), []
    for _ in range(steps):
        g = grad(x)
        s = np.sign(g * prev)
        size = np.where(s > 0, size * eta_plus, np.where(s < 0, size * eta_minus, size))
        size = np.minimum(np.maximum(size, d_min), d_max)
        g = np.where(s < 0, 0.0, g)
        x = x - size * np.sign(g)
        prev = g
        path.append(x)
    return path


@pytest.mark.parametrize(
    "kwargs",
    [
        {},  # the paper's defaults
        dict(learning_rate=0.3, eta_minus=0.4, eta_plus=1.5, min_step_size=0.02, max_step_size=0.5),
        dict(learning_rate=2.0, max_step_size=1.0),  # Δ_0 above Δmax: clipped on step 1
    ],
    ids=["defaults", "all-options", "clipped-start"],
)
def test_rprop_matches_the_formula(kwargs):
    full = dict(
        learning_rate=0.1, eta_minus=0.5, eta_plus=1.2, min_step_size=1e-6, max_step_size=50.0
    )
    full.update(kwargs)
    expected = numpy_rprop(X0, 40, *full.values())
    for tx in (jopt.rprop(**kwargs), optax.chain(jopt.scale_by_rprop(**full), optax.scale(-1.0))):
        x, state, signs_changed = jnp.asarray(X0), tx.init(jnp.asarray(X0)), 0
        for i in range(40):
            updates, state = tx.update(jnp.asarray(grad(np.asarray(x))), state)
            x = optax.apply_updates(x, updates)
            np.testing.assert_allclose(np.asarray(x), expected[i], rtol=0, atol=1e-12)
            signs_changed += int(np.sum(np.asarray(updates) == 0))
        assert signs_changed > 5  # the run exercises the sign-change branch


def test_first_step_is_the_initial_step_size_times_the_sign():
    tx = jopt.rprop(0.25)
    updates, _ = tx.update(jnp.array([3.0, -0.01, 0.0]), tx.init(jnp.zeros(3)))
    np.testing.assert_array_equal(np.asarray(updates), [-0.25, 0.25, 0.0])


BAD = [
    (jopt.rprop, dict(eta_minus=1.0), r"jopt.rprop: eta_minus=1.0 .* \(0, 1\)"),
    (jopt.rprop, dict(eta_minus=0.0), r"eta_minus=0.0"),
    (jopt.rprop, dict(eta_plus=1.0), r"jopt.rprop: eta_plus=1.0 .* \(1, inf\)"),
    (jopt.rprop, dict(learning_rate=-0.1), r"learning_rate=-0.1"),
    (jopt.rprop, dict(min_step_size=-1.0), r"min_step_size=-1.0"),
    (jopt.rprop, dict(min_step_size=2.0, max_step_size=1.0), r"min_step_size=2.0 is larger"),
    (jopt.scale_by_rprop, dict(learning_rate=0.1, eta_plus=0.9), r"jopt.scale_by_rprop: eta_plus"),
    (jt.Rprop, dict(etas=(0.5,)), r"jopt.compat.torch.Rprop: etas must be a pair"),
    (jt.Rprop, dict(step_sizes=(1.0, 0.1)), r"step_sizes\[0\]=1.0 is larger than step_sizes\[1\]"),
]


@pytest.mark.parametrize("factory, kwargs, match", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_arguments(factory, kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        factory(**kwargs)


@pytest.mark.parametrize("factory", [jopt.rprop, jt.Rprop, jopt.scale_by_rprop])
def test_a_schedule_is_refused_not_ignored(factory):
    # PyTorch reads Rprop's lr once, to fill the step sizes: a scheduler does nothing there.
    with pytest.raises(TypeError, match="initial step size .* pass a number"):
        factory(jopt.schedules.step_lr(0.1, step_size=10))


def test_complex_params_need_the_torch_preset():
    params = jnp.array([1.0 + 2.0j, -1.0j])
    with pytest.raises(TypeError, match=r"complex parameter \(root\); .*jopt.compat.torch.Rprop"):
        jopt.rprop().init(params)
    # jt.Rprop steps the real and imaginary parts separately, as torch does
    p = torch.tensor([1.0 + 2.0j, -1.0j], dtype=torch.complex128, requires_grad=True)
    opt = torch.optim.Rprop([p], lr=0.1)
    tx = jt.Rprop(lr=0.1)
    state = tx.init(params)
    for g in ([0.5 - 1.0j, 2.0 + 0.5j], [1.0 + 1.0j, -1.0 + 0.5j], [0.2 - 0.1j, 3.0 + 1j]):
        p.grad = torch.tensor(g, dtype=torch.complex128)
        opt.step()
        updates, state = tx.update(jnp.asarray(g), state, params)
        params = optax.apply_updates(params, updates)
        np.testing.assert_allclose(np.asarray(params), p.detach().numpy(), rtol=0, atol=1e-15)
