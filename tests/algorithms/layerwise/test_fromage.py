"""jopt.fromage and jopt.scale_by_fromage in lockstep with pytorch_optimizer's Fromage,
with optax.fromage through min_norm, and against the paper's update in NumPy."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from pytorch_optimizer import Fromage

import jopt
from tests.support import pto_lockstep, trajectory
from tests.support.trajectory import assert_steps_close


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fromage_matches_pytorch_optimizer(dtype):
    params = pto_lockstep.tree(0)
    params["z"] = np.zeros(3)  # ‖θ‖ = 0: ratio 1
    shapes = {**pto_lockstep.SHAPES, "z": (3,)}
    pto_lockstep.assert_lockstep(
        jopt.fromage(0.2, p_bound=1.05),
        lambda ps: Fromage(ps, lr=0.2, p_bound=1.05),
        dtype,
        params=params,
        shapes=shapes,
    )


def test_defaults_are_pytorch_optimizers():
    pto_lockstep.assert_lockstep(jopt.fromage(), lambda ps: Fromage(ps), np.float64)


def test_fromage_is_the_papers_algorithm():
    # Bernstein et al. 2020, Algorithm 1: W ← (W − η ‖W‖/‖g‖ g) / sqrt(1 + η²)
    params, gs = pto_lockstep.tree(3), pto_lockstep.grads(8)
    lr, theta, theirs = 0.1, dict(pto_lockstep.tree(3)), []
    for g in gs:
        theta = {
            k: (w - lr * np.linalg.norm(w) / np.linalg.norm(g[k]) * g[k]) / np.sqrt(1 + lr**2)
            for k, w in theta.items()
        }
        theirs.append(theta)
    assert_steps_close(trajectory.fed(jopt.fromage(lr), params, gs)[0], theirs)


def test_min_norm_matches_optax_fromage():
    params, gs = pto_lockstep.tree(4), pto_lockstep.grads(8)
    params["w"] = params["w"] * 1e-7  # under the floor
    ours, _ = trajectory.fed(jopt.fromage(0.1, 1e-6), params, gs)
    with jax.numpy_dtype_promotion("standard"):
        theirs, _ = trajectory.fed(optax.fromage(0.1, 1e-6), params, gs)
    assert_steps_close(ours, theirs, "lockstep")


def test_schedule_and_bad_arguments():
    # a schedule: α_t read at each step by both the rate and the shrink
    rate = jopt.schedules.step_lr(0.2, step_size=1, gamma=0.5)
    params, g = jnp.array([3.0, 4.0]), jnp.array([1.0, 0.0])
    tx = jopt.fromage(rate)
    state = tx.init(params)
    for lr in (0.2, 0.1):
        u, state = tx.update(g, state, params)
        want = (params - lr * np.linalg.norm(params) * g) / np.sqrt(1 + lr**2)
        np.testing.assert_allclose(params + u, want, rtol=1e-6)
        params = params + u
    with pytest.raises(ValueError, match=r"jopt\.fromage: p_bound=0\.0 .*\(0, inf\)"):
        jopt.fromage(p_bound=0.0)
