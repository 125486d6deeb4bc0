"""jopt.lars and jopt.scale_by_lars in lockstep with pytorch_optimizer's LARS, with
optax.lars through its switches, and against the paper's update in NumPy."""

from __future__ import annotations

import jax
import numpy as np
import optax
import pytest
from pytorch_optimizer import LARS

import jopt
from tests.support import pto_lockstep, trajectory
from tests.support.trajectory import assert_steps_close


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("nesterov", [False, True])
def test_lars_matches_pytorch_optimizer(dtype, nesterov):
    kw = dict(weight_decay=0.1, trust_coefficient=0.02, momentum=0.8, nesterov=nesterov)
    params = pto_lockstep.tree(0)
    params["z"] = np.zeros((2, 2))  # ‖θ‖ = 0: ratio 1
    shapes = {**pto_lockstep.SHAPES, "z": (2, 2)}
    pto_lockstep.assert_lockstep(
        jopt.lars(0.5, **kw),
        lambda ps: LARS(ps, lr=0.5, **kw),
        dtype,
        params=params,
        shapes=shapes,
    )


def test_defaults_are_pytorch_optimizers():
    pto_lockstep.assert_lockstep(jopt.lars(), lambda ps: LARS(ps), np.float64)


def test_lars_is_the_papers_algorithm():
    # You et al. 2017, Algorithm 1: λ = η‖w‖/(‖∇L‖ + β‖w‖), v ← m v + γ λ (∇L + β w), w ← w − v
    # (applied here to every leaf: both masks True)
    params, gs = pto_lockstep.tree(3), pto_lockstep.grads(8)
    lr, eta, beta, mom = 0.3, 0.01, 0.05, 0.9
    theta, v, theirs = {k: x.copy() for k, x in params.items()}, dict.fromkeys(params, 0.0), []
    for g in gs:
        for k in theta:
            w_norm = np.linalg.norm(theta[k])
            local = eta * w_norm / (np.linalg.norm(g[k]) + beta * w_norm)
            v[k] = mom * v[k] + lr * local * (g[k] + beta * theta[k])
            theta[k] = theta[k] - v[k]
        theirs.append({k: x.copy() for k, x in theta.items()})
    tx = jopt.lars(lr, beta, True, eta, trust_ratio_mask=True, momentum=mom)
    assert_steps_close(trajectory.fed(tx, params, gs)[0], theirs)


@pytest.mark.parametrize("nesterov", [False, True])
def test_optax_switches_match_optax_lars(nesterov):
    params, gs = pto_lockstep.tree(4), pto_lockstep.grads(10)
    kw = dict(weight_decay=0.1, trust_coefficient=0.02, eps=1e-3, momentum=0.8, nesterov=nesterov)
    ours = jopt.lars(0.5, weight_decay_mask=True, trust_ratio_mask=True, decayed_norm=True, **kw)
    with jax.numpy_dtype_promotion("standard"):
        theirs, _ = trajectory.fed(optax.lars(0.5, **kw), params, gs)
    assert_steps_close(trajectory.fed(ours, params, gs)[0], theirs, "lockstep")


def test_masks_pick_the_leaves():
    params = {"w": np.ones((2, 2)), "b": np.ones(3)}
    g = {"w": np.full((2, 2), 2.0), "b": np.full(3, 2.0)}
    tx = jopt.scale_by_lars(0.5, 1.0)  # default masks: ndim > 1
    out, _ = tx.update(g, tx.init(params), params)
    np.testing.assert_allclose(out["b"], g["b"])  # no decay, no ratio
    # ‖θ‖ = 2, ‖g‖ = 4: r = 2/(4 + 0.5·2) = 0.4; u = r (g + 0.5θ)
    np.testing.assert_allclose(out["w"], 0.4 * 2.5 * np.ones((2, 2)))
    tx = jopt.scale_by_lars(0.5, 1.0, weight_decay_mask={"w": False, "b": True})
    out, _ = tx.update(g, tx.init(params), params)
    np.testing.assert_allclose(out["b"], np.full(3, 2.5))  # decayed, not scaled
    np.testing.assert_allclose(out["w"], 0.5 * g["w"])  # r = 2/4


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"jopt\.lars: trust_coefficient=-1\.0 .*\[0, inf\)"):
        jopt.lars(trust_coefficient=-1.0)
    with pytest.raises(ValueError, match=r"jopt\.lars: Nesterov momentum requires"):
        jopt.lars(momentum=0.0, nesterov=True)
    tx = jopt.lars()
    with pytest.raises(ValueError, match=r"jopt\.lars: update\(\) needs params"):
        tx.update(np.ones(2), tx.init(np.ones(2)))


def test_lars_at_zero_momentum_is_sgd_on_the_scaled_gradient():
    # the registry's β = 0 property leaves LARS out (its twin is the scaled gradient, not −αg)
    params, gs = pto_lockstep.tree(5), pto_lockstep.grads(5)
    kw = dict(weight_decay=0.1, trust_coefficient=0.05)
    ours, _ = trajectory.fed(jopt.lars(0.3, momentum=jax.numpy.asarray(0.0), **kw), params, gs)
    twin = jopt.chain(jopt.scale_by_lars(**kw), jopt.scale_by_learning_rate(0.3))
    assert_steps_close(ours, trajectory.fed(twin, params, gs)[0], "rounding")
