"""jopt.adan in lockstep with pytorch_optimizer's Adan (4.1.0), the authors' algorithm,
its optax switches against optax.adan, and its argument checks."""

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
@pytest.mark.parametrize("proximal", [True, False])
def test_adan_matches_pytorch_optimizer(dtype, proximal):
    params, grads = problem()
    lr, wd, betas = 0.05, 0.3, (0.9, 0.8, 0.95)
    theirs = torch_path(
        lambda ps: po.Adan(
            ps, lr=lr, betas=betas, weight_decay=wd, weight_decouple=not proximal, eps=1e-6
        ),
        params,
        grads,
        dtype,
    )
    tx = jopt.adan(lr, *betas, eps=1e-6, weight_decay=wd, proximal=proximal)
    assert_lockstep(jopt_path(tx, params, grads, dtype), theirs, dtype)


def test_defaults_are_the_references():
    params, grads = problem()
    theirs = torch_path(lambda ps: po.Adan(ps), params, grads, np.float64)
    assert_lockstep(jopt_path(jopt.adan(), params, grads, np.float64), theirs, np.float64)


def test_optax_switches_match_optax():
    params, grads = problem()
    ours = jopt.adan(0.05, eps_root=1e-8, weight_decay=0.1, proximal=False, optax_weights=True)
    theirs = optax.adan(0.05, weight_decay=0.1)
    assert_lockstep(
        jopt_path(ours, params, grads, np.float64),
        optax_path(theirs, params, grads, np.float64),
        np.float64,
    )


def test_bad_argument_names_the_call():
    with pytest.raises(ValueError, match=r"jopt.adan: b3=1.5 is invalid; b3 must be in \[0, 1\)"):
        jopt.adan(b3=1.5)
