"""jopt.cocob against COCOB-Backprop written out in NumPy (Orabona & Tommasi 2017,
Algorithm 2, with the authors' TensorFlow start L_0 = ε, G_0 = 0), and against
optax.contrib.cocob."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from optax import contrib

import jopt
from tests.algorithms.parameter_free._lockstep import DTYPES, assert_close, fed, inputs

STEPS = 8


def cocob_np(params, grads, alpha, eps, lr=1.0, wd=0.0):
    w1 = {k: v.copy() for k, v in params.items()}
    w, path = {k: v.copy() for k, v in params.items()}, []
    L = {k: np.full_like(v, eps) for k, v in w.items()}
    G = {k: np.zeros_like(v) for k, v in w.items()}
    reward = {k: np.zeros_like(v) for k, v in w.items()}
    theta = {k: np.zeros_like(v) for k, v in w.items()}
    for grad in grads:
        new = {}
        for k in w:
            g = lr * (grad[k] + wd * w[k])
            L[k] = np.maximum(L[k], np.abs(g))
            G[k] = G[k] + np.abs(g)
            reward[k] = np.maximum(reward[k] - (w[k] - w1[k]) * g, 0.0)
            theta[k] = theta[k] - g
            new[k] = w1[k] + theta[k] / (L[k] * np.maximum(G[k] + L[k], alpha * L[k])) * (
                L[k] + reward[k]
            )
        w = new
        path.append(w)
    return path


@pytest.mark.parametrize("dtype", DTYPES)
def test_cocob_is_the_papers_and_optaxs(dtype):
    params, grads = inputs(dtype, STEPS)
    tx = jopt.cocob(0.5, alpha=20.0, eps=1e-3, weight_decay=0.1)
    ours = fed(tx, params, grads, dtype)
    assert_close(ours, cocob_np(params, grads, 20.0, 1e-3, 0.5, 0.1), dtype)
    ref = contrib.cocob(0.5, alpha=20.0, eps=1e-3, weight_decay=0.1)
    assert_close(ours, fed(ref, params, grads, dtype), dtype)
    default = fed(jopt.cocob(), params, grads, dtype)
    assert_close(default, cocob_np(params, grads, 100.0, 1e-8), dtype)


def test_state_and_bad_alpha():
    state = jopt.scale_by_cocob(eps=0.5).init({"w": jnp.ones(3)})
    assert isinstance(state, jopt.COCOBState)
    assert float(state.scale["w"][0]) == 0.5 and float(state.init_particles["w"][0]) == 1.0
    with pytest.raises(ValueError, match=r"jopt.cocob: alpha=0.0 is invalid; alpha must be in"):
        jopt.cocob(alpha=0.0)
