"""jopt.optimistic_gradient_descent and jopt.optimistic_adam against Daskalakis et al.'s
updates written out in NumPy, and against optax's through their switches."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jopt
from tests.support import pto_lockstep, trajectory
from tests.support.trajectory import assert_steps_close

STEPS = 8
DTYPES = [np.float64, np.float32]


def kind(dtype):
    return "formula" if dtype is np.float64 else "lockstep"


@pytest.mark.parametrize("dtype", DTYPES)
def test_ogd_is_the_papers_update(dtype):
    # Daskalakis et al. 2018 (OMD): θ_{t+1} = θ_t − 2η g_t + η g_{t−1}, g_0 = 0;
    # optax's α, β: θ_{t+1} = θ_t − η ((α + β) g_t − β g_{t−1})
    params, gs = pto_lockstep.tree(0), pto_lockstep.grads(STEPS)
    for (alpha, beta), eta in (((1.0, 1.0), 0.1), ((0.7, 0.4), 0.05)):
        theta, prev, theirs = dict(params), dict.fromkeys(params, 0.0), []
        for g in gs:
            theta = {
                k: w - eta * ((alpha + beta) * g[k] - beta * prev[k]) for k, w in theta.items()
            }
            prev = g
            theirs.append(theta)
        tx = jopt.optimistic_gradient_descent(eta, alpha, beta)
        ours, _ = trajectory.fed(
            tx, pto_lockstep.cast(params, dtype), [pto_lockstep.cast(g, dtype) for g in gs]
        )
        assert_steps_close(ours, theirs, kind(dtype), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_optimistic_adam_is_the_papers_algorithm(dtype):
    # Algorithm 1 (Optimistic Adam): r_t = m̂_t/(sqrt(v̂_t) + ε), θ ← θ − 2η r_t + η r_{t−1}
    params, gs = pto_lockstep.tree(1), pto_lockstep.grads(STEPS)
    eta, b1, b2, eps = 0.01, 0.5, 0.9, 1e-8
    theta = dict(params)
    m, v, r_prev = (dict.fromkeys(params, 0.0) for _ in range(3))
    theirs = []
    for t, g in enumerate(gs, start=1):
        new = {}
        for k, w in theta.items():
            m[k] = b1 * m[k] + (1 - b1) * g[k]
            v[k] = b2 * v[k] + (1 - b2) * g[k] ** 2
            r = (m[k] / (1 - b1**t)) / (np.sqrt(v[k] / (1 - b2**t)) + eps)
            new[k] = w - 2 * eta * r + eta * r_prev[k]
            r_prev[k] = r
        theta = new
        theirs.append(theta)
    tx = jopt.optimistic_adam(eta, b1=b1, b2=b2, eps=eps)
    ours, _ = trajectory.fed(
        tx, pto_lockstep.cast(params, dtype), [pto_lockstep.cast(g, dtype) for g in gs]
    )
    assert_steps_close(ours, theirs, kind(dtype), dtype)


def test_switches_match_optax():
    params, gs = pto_lockstep.tree(2), pto_lockstep.grads(STEPS)
    cases = [
        (
            jopt.optimistic_gradient_descent(0.05, 0.7, 0.4, repeat_first=True),
            lambda: optax.optimistic_gradient_descent(0.05, 0.7, 0.4),
        ),
        (
            jopt.optimistic_adam(0.01, nesterov=True, repeat_first=True),
            lambda: optax.optimistic_adam(0.01),
        ),
        (
            jopt.optimistic_adam(0.01, 0.03, eps_root=1e-6, nesterov=True, repeat_first=True),
            lambda: optax.optimistic_adam(0.01, 0.03, eps_root=1e-6),
        ),
    ]
    for ours, theirs in cases:
        with jax.numpy_dtype_promotion("standard"), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # optax's optimistic_adam
            ref, _ = trajectory.fed(theirs(), params, gs)
        assert_steps_close(trajectory.fed(ours, params, gs)[0], ref, "lockstep")


def test_state_and_bad_arguments():
    state = jopt.optimistic_gradient_descent(0.1).init({"w": jnp.zeros(3)})
    assert isinstance(state[0], jopt.ScaleByOptimisticGradientState)
    assert bool(state[0].is_initial_step)
    with pytest.raises(TypeError, match=r"jopt\.optimistic_adam: learning_rate is a schedule"):
        jopt.optimistic_adam(lambda c: 0.1, optimism=0.1)
    with pytest.raises(ValueError, match=r"jopt\.optimistic_adam: b1=1\.0 .*\[0, 1\)"):
        jopt.optimistic_adam(0.1, b1=1.0)
