"""jopt.lamb and jopt.scale_by_trust_ratio against LAMB written out in NumPy (float64)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jopt
from tests.support import trajectory
from tests.support.trajectory import assert_steps_close

STEPS = 12


def tree(shapes, seed):
    rng = np.random.default_rng(seed)
    return {k: rng.normal(size=s) for k, s in shapes.items()}


def test_lamb_is_the_papers_algorithm():
    shapes = {"w": (3, 4), "b": (4,), "z": (2,), "s": ()}
    params, grads_seq = tree(shapes, 4), [tree(shapes, 50 + i) for i in range(STEPS)]
    params["z"] = np.zeros(2)  # ‖θ‖ = 0: ratio 1
    b1, b2, eps, lr, wd = 0.9, 0.99, 1e-6, 0.02, 0.1
    theta = {k: v.copy() for k, v in params.items()}
    m, v, theirs = dict.fromkeys(params, 0.0), dict.fromkeys(params, 0.0), []
    for t, grads in enumerate(grads_seq, start=1):
        for k, g in grads.items():
            m[k] = b1 * m[k] + (1 - b1) * g
            v[k] = b2 * v[k] + (1 - b2) * g * g
            r = (m[k] / (1 - b1**t)) / (np.sqrt(v[k] / (1 - b2**t)) + eps) + wd * theta[k]
            w_norm, r_norm = np.linalg.norm(theta[k]), np.linalg.norm(r)
            ratio = w_norm / r_norm if w_norm > 0 and r_norm > 0 else 1.0
            theta[k] = theta[k] - lr * ratio * r
        theirs.append({k: x.copy() for k, x in theta.items()})
    tx = jopt.lamb(lr, b1, b2, eps, weight_decay=wd)
    assert_steps_close(trajectory.fed(tx, params, grads_seq)[0], theirs)


def test_scale_by_trust_ratio_is_the_norm_ratio_per_leaf():
    # u ← (‖θ‖/‖u‖)·u per leaf, ‖·‖ Euclidean over all entries (|z|² for complex); 1 if a norm is 0
    rng = np.random.default_rng(0)
    params = {
        "w": rng.normal(size=(3, 4)),
        "z": rng.normal(size=3) + 1j * rng.normal(size=3),
        "zero_param": np.zeros(2),
        "zero_update": rng.normal(size=2),
    }
    updates = {
        "w": rng.normal(size=(3, 4)),
        "z": rng.normal(size=3) - 2j * rng.normal(size=3),
        "zero_param": rng.normal(size=2),
        "zero_update": np.zeros(2),
    }
    expected = {}
    for k, u in updates.items():
        p_norm, u_norm = np.sqrt(np.sum(np.abs(params[k]) ** 2)), np.sqrt(np.sum(np.abs(u) ** 2))
        expected[k] = u * (p_norm / u_norm if p_norm > 0 and u_norm > 0 else 1.0)
    tx = jopt.scale_by_trust_ratio()
    state = tx.init(params)
    assert state == optax.EmptyState()
    ours = trajectory.updates(tx, trajectory.stack([updates]), params)
    assert_steps_close(ours, trajectory.stack([expected]))


def test_trust_ratio_needs_params():
    tx = jopt.scale_by_trust_ratio()
    with pytest.raises(ValueError, match=r"jopt.scale_by_trust_ratio: update\(\) needs params"):
        tx.update(jnp.ones(2), tx.init(jnp.zeros(2)))
