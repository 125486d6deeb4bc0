"""jopt.dadapt_adamw: D-Adaptation's Adam written out in NumPy, optax.contrib.dadapt_adamw
through the ``bias_correction`` switch, and the argument checks (dadaptation's lockstep is
in tests/compat/dadaptation)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jopt
from tests.algorithms.dadapt.test_prodigy import _gap, _trajectory
from tests.support import reference_lockstep as lockstep
from tests.support.tolerances import tol


def test_dadapt_adamw_is_the_papers_algorithm():
    # D-Adapted Adam (the paper's Algorithm 3 with dadaptation's defaults: no bias
    # correction), AdamW's decoupled decay
    b1, b2, d0, lr, wd, eps, steps = 0.9, 0.999, 1e-3, 0.7, 0.01, 1e-8, 8
    sb2 = np.sqrt(b2)
    x = lockstep.init_params()
    m, v, s = ({n: np.zeros_like(p) for n, p in x.items()} for _ in range(3))
    r, d, theirs = 0.0, d0, []
    for k in range(steps):
        g = lockstep.gradient(x, k)
        dlr = lr * d
        r = sb2 * r + (1 - sb2) * dlr * sum(np.vdot(g[n], s[n] / (np.sqrt(v[n]) + eps)) for n in x)
        for n in x:
            m[n] = b1 * m[n] + (1 - b1) * dlr * g[n]
            v[n] = b2 * v[n] + (1 - b2) * g[n] ** 2
            s[n] = sb2 * s[n] + (1 - sb2) * dlr * g[n]
        d = max(d, r / ((1 - sb2) * sum(np.abs(s[n]).sum() for n in x)))
        x = {n: x[n] - m[n] / (np.sqrt(v[n]) + eps) - dlr * wd * x[n] for n in x}
        theirs.append({n: jnp.asarray(p) for n, p in x.items()})
    ours, state = _trajectory(
        jopt.dadapt_adamw(lr, estim_lr0=d0, weight_decay=wd), jnp.float64, steps
    )
    assert _gap(ours, theirs) <= tol("formula", np.float64)
    assert float(state.estim_lr) == pytest.approx(d, rel=1e-12) and d > 5 * d0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bias_correction_is_optax_contrib_dadapt_adamw(dtype):
    kwargs = dict(estim_lr0=1e-3, weight_decay=0.05)
    ours, state = _trajectory(jopt.dadapt_adamw(0.8, bias_correction=True, **kwargs), dtype, 8)
    with jax.numpy_dtype_promotion("standard"):  # optax's dadapt_adamw mixes dtypes
        theirs, optax_state = _trajectory(optax.contrib.dadapt_adamw(0.8, **kwargs), dtype, 8)
    assert _gap(ours, theirs) <= tol("lockstep", dtype)
    assert float(state.estim_lr) == pytest.approx(
        float(optax_state.estim_lr), rel=tol("lockstep", dtype)
    )


def test_the_rate_is_recorded():
    tx = jopt.dadapt_adamw(jopt.schedules.step_lr(0.5, step_size=1, gamma=0.5))
    params = {"w": jnp.ones(3)}
    state = tx.init(params)
    for _ in range(2):
        _, state = tx.update({"w": jnp.ones(3)}, state, params)
    assert float(jopt.get_learning_rate(state)) == 0.25


def test_bad_arguments_name_the_call_and_the_range():
    with pytest.raises(ValueError, match=r"jopt\.dadapt_adamw.*betas\[0\]=1\.0.*\[0, 1\)"):
        jopt.dadapt_adamw(betas=(1.0, 0.9))
    with pytest.raises(ValueError, match=r"jopt\.dadapt_adamw.*growth_rate"):
        jopt.dadapt_adamw(growth_rate=0.0)
