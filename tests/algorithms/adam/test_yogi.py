"""jopt.yogi in lockstep with pytorch_optimizer's Yogi (4.1.0) and with optax.yogi,
and its argument checks."""

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


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_yogi_matches_pytorch_optimizer(dtype):
    params, grads = problem()
    lr, wd = 0.05, 0.1
    theirs = torch_path(
        lambda ps: po.Yogi(
            ps, lr=lr, betas=(0.8, 0.9), initial_accumulator=0.5, weight_decay=wd, eps=1e-4
        ),
        params,
        grads,
        dtype,
    )
    tx = jopt.yogi(lr, 0.8, 0.9, 1e-4, initial_accumulator_value=0.5, weight_decay=wd)
    assert_lockstep(jopt_path(tx, params, grads, dtype), theirs, dtype)


def test_defaults_are_the_references_and_optax():
    params, grads = problem()
    theirs = torch_path(lambda ps: po.Yogi(ps), params, grads, np.float64)
    ours = jopt_path(jopt.yogi(), params, grads, np.float64)
    assert_lockstep(ours, theirs, np.float64)
    assert_lockstep(ours, optax_path(optax.yogi(1e-2), params, grads, np.float64), np.float64)


def test_eps_root_matches_optax():
    params, grads = problem()
    ours = jopt.chain(jopt.scale_by_yogi(eps_root=1e-2), jopt.scale_by_learning_rate(0.1))
    theirs = optax.chain(optax.scale_by_yogi(eps_root=1e-2), optax.scale_by_learning_rate(0.1))
    assert_lockstep(
        jopt_path(ours, params, grads, np.float64),
        optax_path(theirs, params, grads, np.float64),
        np.float64,
    )


def test_bad_argument_names_the_call():
    with pytest.raises(ValueError, match=r"jopt.scale_by_yogi: eps=-1.0 is invalid; eps must be"):
        jopt.scale_by_yogi(eps=-1.0)
