"""jopt.polyak_sgd and jopt.scale_by_polyak against the paper's SPS_max in NumPy and
against optax.polyak_sgd (its order through scaled_norm)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jopt
from tests.support.trajectory import assert_steps_close

A = np.random.default_rng(0).normal(size=(6, 4))
B = np.random.default_rng(1).normal(size=6)
X0 = np.random.default_rng(2).normal(size=4)


def run(tx, steps=10, shift=0.0, dtype=np.float64):
    """jopt's iterates on the loss, ``value=`` the loss − shift·t at step t = 0, 1, …"""
    a, b = jnp.asarray(A, dtype), jnp.asarray(B, dtype)

    def loss(x):
        r = a @ x - b
        return 0.5 * jnp.sum(r * r)

    @jax.jit
    def step(x, state, t):
        value, g = jax.value_and_grad(loss)(x)
        u, state = tx.update(g, state, x, value=value - shift * t)
        return optax.apply_updates(x, u), state

    x0 = jnp.asarray(X0, dtype)
    x, state, path = x0, tx.init(x0), []
    for t in range(steps):
        x, state = step(x, state, jnp.asarray(t, dtype))
        path.append(np.asarray(x))
    return np.stack(path)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("variant", ["sps", "sps+"])
def test_polyak_sgd_is_the_papers_sps_max(variant, dtype):
    # Loizou et al. 2021, SPS_max (c = 1): γ = min((f − f*)/‖g‖², γ_b), x ← x − s γ g;
    # the value f − 3t (a loss that drifts down) makes f − f* negative after a few steps
    # (sps+ clips it to 0; sps steps uphill)
    s, f_min, gmax, eps, shift = 0.8, -0.5, 0.3, 1e-3, 3.0
    x, theirs = X0.copy(), []
    for t in range(10):
        r = A @ x - B
        f, g = 0.5 * r @ r - shift * t, A.T @ r
        gap = max(f - f_min, 0.0) if variant == "sps+" else f - f_min
        x = x - s * min(gap / (g @ g + eps), gmax) * g
        theirs.append(x.copy())
    tx = jopt.polyak_sgd(gmax, s, f_min, eps, variant)
    kind = "formula" if dtype is np.float64 else "lockstep"
    assert_steps_close(run(tx, shift=shift, dtype=dtype), theirs, kind, dtype)


@pytest.mark.parametrize("scaling", [1.0, 0.5])
def test_scaled_norm_matches_optax(scaling):
    ours = run(jopt.polyak_sgd(0.3, scaling, -0.5, 1e-3, scaled_norm=True))
    with jax.numpy_dtype_promotion("standard"):
        theirs = run(optax.polyak_sgd(0.3, scaling, -0.5, 1e-3))
    assert_steps_close(ours, theirs, "rounding")
    if scaling == 1.0:  # the same formula: the order only matters for s ≠ 1
        assert_steps_close(run(jopt.polyak_sgd(0.3, 1.0, -0.5, 1e-3)), theirs, "rounding")


def test_zero_gradient_value_and_bad_arguments():
    tx = jopt.scale_by_polyak()
    g = {"a": jnp.zeros(2, jnp.float32), "b": jnp.zeros((), jnp.float64)}
    out, _ = tx.update(g, tx.init(g), value=jnp.array(1.0))
    assert out["a"].dtype == jnp.float32 and float(out["a"].sum()) == 0.0
    with pytest.raises(TypeError, match=r"jopt\.polyak_sgd: update\(\) needs the loss"):
        jopt.polyak_sgd().update(g, jopt.polyak_sgd().init(g))
    with pytest.raises(ValueError, match=r"jopt\.polyak_sgd: variant='sps-' .*'sps', 'sps\+'"):
        jopt.polyak_sgd(variant="sps-")
