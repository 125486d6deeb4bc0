"""jopt.adabelief in lockstep with pytorch_optimizer's AdaBelief (4.1.0) and with
optax.adabelief, and its argument checks."""

from __future__ import annotations

import numpy as np
import optax
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
def test_adabelief_matches_pytorch_optimizer(dtype):
    params, grads = problem()
    lr, wd = 0.05, 0.1
    theirs = torch_path(
        lambda ps: po.AdaBelief(ps, lr=lr, betas=(0.8, 0.95), weight_decay=wd, eps=1e-10),
        params,
        grads,
        dtype,
    )
    tx = jopt.adabelief(lr, 0.8, 0.95, eps=1e-10, eps_root=1e-10, weight_decay=wd)
    assert_lockstep(jopt_path(tx, params, grads, dtype), theirs, dtype)


@pytest.mark.parametrize("degenerated_to_sgd", [True, False])
def test_rectified_adabelief_matches_pytorch_optimizer(degenerated_to_sgd):
    # β2 = 0.9: ρ_t passes 5 at step 6, so both branches run in 8 steps
    params, grads = problem()
    theirs = torch_path(
        lambda ps: po.AdaBelief(
            ps, lr=0.05, betas=(0.8, 0.9), rectify=True, degenerated_to_sgd=degenerated_to_sgd
        ),
        params,
        grads,
        np.float64,
    )
    tx = jopt.adabelief(0.05, 0.8, 0.9, rectify=True, degenerated_to_sgd=degenerated_to_sgd)
    assert_lockstep(jopt_path(tx, params, grads, np.float64), theirs, np.float64)


def test_defaults_are_the_references_and_optax():
    params, grads = problem()
    theirs = torch_path(lambda ps: po.AdaBelief(ps), params, grads, np.float64)
    ours = jopt_path(jopt.adabelief(), params, grads, np.float64)
    assert_lockstep(ours, theirs, np.float64)
    assert_lockstep(ours, optax_path(optax.adabelief(1e-3), params, grads, np.float64), np.float64)


def test_nesterov_matches_optax():
    params, grads = problem()
    ours = jopt_path(jopt.adabelief(0.1, nesterov=True), params, grads, np.float64)
    theirs = optax_path(optax.adabelief(0.1, nesterov=True), params, grads, np.float64)
    assert_steps_close(ours, theirs, "lockstep")


def test_bad_argument_names_the_call():
    with pytest.raises(
        ValueError, match=r"jopt.adabelief: b2=1.0 is invalid; b2 must be in \[0, 1\)"
    ):
        jopt.adabelief(b2=1.0)
