"""jopt.ademamix in lockstep with pytorch_optimizer's AdEMAMix (4.1.0) and with
optax.contrib.ademamix; jopt.simplified_ademamix against the paper's update in NumPy and
optax.contrib.simplified_ademamix; the argument checks."""

from __future__ import annotations

import numpy as np
import optax.contrib
import pytest
import pytorch_optimizer as po

import jopt
from tests.algorithms.adam.lockstep import (
    assert_lockstep,
    jopt_path,
    optax_path,
    problem,
    torch_path,
)
from tests.support.trajectory import assert_steps_close


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("warmup", [None, 5.0])
def test_ademamix_matches_pytorch_optimizer(dtype, warmup):
    params, grads = problem()
    lr, wd, betas = 0.05, 0.2, (0.8, 0.9, 0.99)
    theirs = torch_path(
        lambda ps: po.AdEMAMix(
            ps,
            lr=lr,
            betas=betas,
            alpha=4.0,
            t_alpha_beta3=warmup,
            weight_decay=wd,
            weight_decouple=True,
            eps=1e-6,
        ),
        params,
        grads,
        dtype,
    )
    tx = jopt.ademamix(lr, *betas, alpha=4.0, eps=1e-6, weight_decay=wd, t_alpha_beta3=warmup)
    assert_lockstep(jopt_path(tx, params, grads, dtype), theirs, dtype)


def test_ademamix_defaults_are_the_references_and_optax():
    params, grads = problem()
    theirs = torch_path(lambda ps: po.AdEMAMix(ps), params, grads, np.float64)
    ours = jopt_path(jopt.ademamix(), params, grads, np.float64)
    assert_lockstep(ours, theirs, np.float64)
    optax_tx = optax.contrib.ademamix(1e-3)
    assert_lockstep(ours, optax_path(optax_tx, params, grads, np.float64), np.float64)


def test_ademamix_schedules_match_optax():
    params, grads = problem()
    b3 = lambda c: 0.9 + 0.001 * c.astype(np.float64)  # noqa: E731
    alpha = lambda c: 1.0 + 0.5 * c.astype(np.float64)  # noqa: E731
    ours = jopt.ademamix(0.05, b3=b3, alpha=alpha, eps_root=1e-4, weight_decay=0.1)
    theirs = optax.contrib.ademamix(0.05, b3=b3, alpha=alpha, eps_root=1e-4, weight_decay=0.1)
    assert_lockstep(
        jopt_path(ours, params, grads, np.float64),
        optax_path(theirs, params, grads, np.float64),
        np.float64,
    )


def papers_simplified(params, grads, lr, b1, b2, alpha, eps, wd):
    """Morwani et al. (2025), Algorithm 1, written out (plus the decoupled decay)."""
    theta = {k: v.copy() for k, v in params.items()}
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(x) for k, x in params.items()}
    path = []
    for t, gs in enumerate(grads, start=1):
        for k, g in gs.items():
            m[k] = b1 * m[k] + g
            v[k] = b2 * v[k] + (1 - b2) * g * g
            v_hat = v[k] / (1 - b2**t)
            theta[k] = theta[k] - lr * ((m[k] + alpha * g) / (np.sqrt(v_hat) + eps) + wd * theta[k])
        path.append({k: x.copy() for k, x in theta.items()})
    return path


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_simplified_ademamix_is_the_papers_update(dtype):
    params, grads = problem()
    hp = dict(lr=0.01, b1=0.9, b2=0.95, alpha=2.0, eps=1e-6, wd=0.1)
    theirs = papers_simplified(params, grads, **hp)
    tx = jopt.simplified_ademamix(0.01, 0.9, 0.95, 2.0, 1e-6, weight_decay=0.1)
    assert_steps_close(jopt_path(tx, params, grads, dtype), theirs, "lockstep", dtype)


def test_simplified_ademamix_matches_optax():
    params, grads = problem()
    alpha = lambda c: 0.5 * c.astype(np.float64)  # noqa: E731
    ours = jopt.simplified_ademamix(0.01, alpha=alpha, eps_root=1e-4, weight_decay=0.1)
    theirs = optax.contrib.simplified_ademamix(0.01, alpha=alpha, eps_root=1e-4, weight_decay=0.1)
    assert_lockstep(
        jopt_path(ours, params, grads, np.float64),
        optax_path(theirs, params, grads, np.float64),
        np.float64,
    )


def test_bad_argument_names_the_call():
    with pytest.raises(ValueError, match=r"jopt.ademamix: t_alpha_beta3=0 is invalid"):
        jopt.ademamix(t_alpha_beta3=0)
    with pytest.raises(ValueError, match=r"jopt.simplified_ademamix: alpha=-1 is invalid"):
        jopt.simplified_ademamix(alpha=-1)
