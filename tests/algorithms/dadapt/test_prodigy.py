"""jopt.prodigy: the paper's algorithm written out in NumPy, optax.contrib.prodigy through
the ``bias_correction`` switch, and the argument checks (prodigyopt's lockstep is in
tests/compat/prodigyopt)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jopt
from tests.support import reference_lockstep as lockstep
from tests.support.tolerances import tol


def _trajectory(tx, dtype, steps):
    params = {n: jnp.asarray(x, dtype) for n, x in lockstep.init_params().items()}
    state, out = tx.init(params), []
    for k in range(steps):
        grads = {n: jnp.asarray(x, dtype) for n, x in lockstep.gradient(params, k).items()}
        updates, state = tx.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        out.append(params)
    return out, state


def _gap(ours, theirs):
    return max(
        float(jnp.max(jnp.abs(a[n].astype(jnp.float64) - b[n].astype(jnp.float64))))
        / float(jnp.max(jnp.abs(b[n].astype(jnp.float64))))
        for a, b in zip(ours, theirs, strict=True)
        for n in a
    )


def test_prodigy_is_the_papers_algorithm():
    # Algorithm 4 of the paper (Adam version), with its (1 − β3) factors and no 1/d0
    # scaling (prodigyopt drops both: they cancel in d̂), decoupled decay as prodigyopt.
    b1, b2, d0, lr, wd, eps, steps = 0.9, 0.999, 1e-3, 0.7, 0.01, 1e-8, 8
    b3 = np.sqrt(b2)
    start = lockstep.init_params()
    x0 = {n: v.copy() for n, v in start.items()}
    x = {n: v.copy() for n, v in start.items()}
    m, v, s = ({n: np.zeros_like(p) for n, p in start.items()} for _ in range(3))
    r, d, theirs = 0.0, d0, []
    for k in range(steps):
        g = lockstep.gradient(x, k)
        r = b3 * r + (1 - b3) * lr * d * d * sum(np.vdot(g[n], x0[n] - x[n]) for n in x)
        for n in x:
            m[n] = b1 * m[n] + (1 - b1) * d * g[n]
            v[n] = b2 * v[n] + (1 - b2) * d * d * g[n] ** 2
            s[n] = b3 * s[n] + (1 - b3) * lr * d * d * g[n]
        d_new = max(d, r / sum(np.abs(s[n]).sum() for n in x))
        x = {n: x[n] - lr * d * (m[n] / (np.sqrt(v[n]) + d_new * eps) + wd * x[n]) for n in x}
        d = d_new
        theirs.append({n: jnp.asarray(p) for n, p in x.items()})
    ours, state = _trajectory(jopt.prodigy(lr, estim_lr0=d0, weight_decay=wd), jnp.float64, steps)
    assert _gap(ours, theirs) <= tol("formula", np.float64)
    assert float(state[0].estim_lr) == pytest.approx(d, rel=1e-12) and d > 5 * d0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bias_correction_is_optax_contrib_prodigy(dtype):
    kwargs = dict(estim_lr0=1e-3, weight_decay=0.05, safeguard_warmup=True)
    ours, state = _trajectory(jopt.prodigy(0.8, bias_correction=True, **kwargs), dtype, 8)
    with jax.numpy_dtype_promotion("standard"):  # optax's prodigy mixes dtypes
        theirs, optax_state = _trajectory(optax.contrib.prodigy(0.8, **kwargs), dtype, 8)
    assert _gap(ours, theirs) <= tol("lockstep", dtype)
    assert float(state[0].estim_lr) == pytest.approx(
        float(optax_state.estim_lr), rel=tol("lockstep", dtype)
    )


def test_a_zero_gradient_step_is_skipped():
    tx = jopt.prodigy()
    params = {"w": jnp.ones(3)}
    updates, state = tx.update({"w": jnp.zeros(3)}, tx.init(params), params)
    assert float(jnp.max(jnp.abs(updates["w"]))) == 0.0  # optax's divides 0 by 0: NaN
    assert int(state[0].steps) == 0 and int(state[0].count) == 1


def test_slice_p_keeps_every_pth_entry():
    state = jopt.scale_by_prodigy(slice_p=3).init({"w": jnp.arange(12.0).reshape(3, 4)})
    assert state.grad_sum["w"].shape == state.params0["w"].shape == (4,)
    np.testing.assert_array_equal(state.params0["w"], [0.0, 3.0, 6.0, 9.0])


def test_bad_arguments_name_the_call_and_the_range():
    with pytest.raises(ValueError, match=r"jopt\.prodigy.*betas\[1\]=1\.0.*\[0, 1\)"):
        jopt.prodigy(betas=(0.9, 1.0))
    with pytest.raises(ValueError, match=r"jopt\.scale_by_prodigy.*estim_lr0.*\(0, inf\)"):
        jopt.scale_by_prodigy(estim_lr0=0.0)
    with pytest.raises(TypeError, match=r"jopt\.prodigy.*slice_p"):
        jopt.prodigy(slice_p=1.5)
