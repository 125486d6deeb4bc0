"""jopt.dog and jopt.dowg against the papers' updates written out in NumPy (Ivgi et al.
2023, Algorithm 1 with the authors' r_ε = reps_rel·(1 + ‖x₀‖) and ε added once to G;
Khaled et al. 2023, Algorithm 1), and against optax.contrib's dog and dowg."""

from __future__ import annotations

import numpy as np
import pytest
from optax import contrib

import jopt
from tests.algorithms.parameter_free._lockstep import DTYPES, assert_close, fed, inputs

STEPS = 8


def norm_sq(tree):
    return sum(float(np.sum(v * v)) for v in tree.values())


def dog_np(params, grads, lr, reps_rel, eps, wd=0.0):
    x0 = {k: v.copy() for k, v in params.items()}
    x, path = {k: v.copy() for k, v in params.items()}, []
    rbar, total = reps_rel * (1 + np.sqrt(norm_sq(x0))), eps
    for g in grads:
        g = {k: g[k] + wd * x[k] for k in g}
        rbar = max(rbar, np.sqrt(norm_sq({k: x[k] - x0[k] for k in x})))
        total += norm_sq(g)
        eta = rbar / np.sqrt(total)
        x = {k: x[k] - lr * eta * g[k] for k in x}
        path.append(x)
    return path


def dowg_np(params, grads, lr, r_eps_sq, eps=None):
    x0 = {k: v.copy() for k, v in params.items()}
    x, path = {k: v.copy() for k, v in params.items()}, []
    rbar_sq, v = r_eps_sq, 0.0
    for g in grads:
        rbar_sq = max(rbar_sq, norm_sq({k: x[k] - x0[k] for k in x}))
        v += rbar_sq * norm_sq(g)
        eta = rbar_sq / np.sqrt(v) if eps is None else rbar_sq / (np.sqrt(v) + eps)
        x = {k: x[k] - lr * eta * g[k] for k in x}
        path.append(x)
    return path


@pytest.mark.parametrize("dtype", DTYPES)
def test_dog_and_dowg_are_the_papers_and_optaxs(dtype):
    params, grads = inputs(dtype, STEPS)
    # r_ε large enough that the steps move: the distances enter from step 2 on
    dog = jopt.dog(0.5, ("heuristic", 0.05), eps=1e-3, weight_decay=0.1)
    assert_close(fed(dog, params, grads, dtype), dog_np(params, grads, 0.5, 0.05, 1e-3, 0.1), dtype)
    ref = contrib.dog(0.5, ("heuristic", 0.05), eps=1e-3, weight_decay=0.1)
    assert_close(fed(dog, params, grads, dtype), fed(ref, params, grads, dtype), dtype)

    dowg = jopt.dowg(0.7, init_estim_sq_dist=0.05)  # the paper's rate (no ε)
    assert_close(fed(dowg, params, grads, dtype), dowg_np(params, grads, 0.7, 0.05), dtype)
    optax_form = jopt.dowg(0.7, eps=1e-2, eps_in_rate=True)  # r_ε² = ε, ε in the rate
    theirs = dowg_np(params, grads, 0.7, 1e-2, eps=1e-2)
    assert_close(fed(optax_form, params, grads, dtype), theirs, dtype)
    ref = contrib.dowg(0.7, eps=1e-2)
    assert_close(fed(optax_form, params, grads, dtype), fed(ref, params, grads, dtype), dtype)


def test_init_step_tags_and_state():
    import jax.numpy as jnp

    params = {"w": jnp.array([3.0, 4.0])}
    g = {"w": jnp.array([1.0, 0.0])}
    # "learning_rate": the first step is η·g; "distance": r_ε = value
    tx = jopt.scale_by_dog(("learning_rate", 0.25))
    out, state = tx.update(g, tx.init(params), params)
    assert float(out["w"][0]) == 0.25 and not bool(state.is_init_step)
    state = jopt.scale_by_dog(("distance", 2.0)).init(params)
    assert isinstance(state, jopt.DoGState) and float(state.max_dist) == 2.0
    heuristic = jopt.scale_by_dog().init(params)  # 1e-6·(1 + ‖x₀‖) = 6e-6
    assert abs(float(heuristic.max_dist) - 6e-6) < 1e-12
    assert isinstance(jopt.scale_by_dowg().init(params), jopt.DoWGState)
    # a zero gradient before any other: the paper's 0/0 rate is taken as 0, no NaN
    out, _ = jopt.scale_by_dowg().update(
        {"w": jnp.zeros(2)}, jopt.scale_by_dowg().init(params), params
    )
    assert float(jnp.abs(out["w"]).max()) == 0.0


def test_bad_init_step_is_refused_naming_the_call():
    with pytest.raises(ValueError, match=r"jopt.dog: init_step\[0\]='nonsense' is invalid"):
        jopt.dog(init_step=("nonsense", 1e-6))
    with pytest.raises(ValueError, match=r"jopt.scale_by_dowg: eps=-1"):
        jopt.scale_by_dowg(eps=-1.0)
