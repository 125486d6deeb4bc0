"""jopt.novograd in lockstep with pytorch_optimizer's NovoGrad (4.1.0) and with
optax.novograd, and its argument checks."""

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
@pytest.mark.parametrize("grad_averaging", [False, True])
def test_novograd_matches_pytorch_optimizer(dtype, grad_averaging):
    params, grads = problem()
    theirs = torch_path(
        lambda ps: po.NovoGrad(
            ps,
            lr=0.05,
            betas=(0.8, 0.9),
            weight_decay=0.1,
            grad_averaging=grad_averaging,
            eps=1e-4,
            foreach=False,
        ),
        params,
        grads,
        dtype,
    )
    tx = jopt.novograd(0.05, 0.8, 0.9, 1e-4, weight_decay=0.1, grad_averaging=grad_averaging)
    assert_lockstep(jopt_path(tx, params, grads, dtype), theirs, dtype)


def test_defaults_are_the_references():
    params, grads = problem()
    theirs = torch_path(lambda ps: po.NovoGrad(ps), params, grads, np.float64)
    assert_lockstep(jopt_path(jopt.novograd(), params, grads, np.float64), theirs, np.float64)


def test_optax_defaults_match_optax():
    params, grads = problem()
    ours = jopt.novograd(0.05, 0.9, 0.25, 1e-6, eps_root=1e-3, weight_decay=0.1)
    theirs = optax.novograd(0.05, eps_root=1e-3, weight_decay=0.1)
    assert_lockstep(
        jopt_path(ours, params, grads, np.float64),
        optax_path(theirs, params, grads, np.float64),
        np.float64,
    )


def test_bad_argument_names_the_call():
    with pytest.raises(ValueError, match=r"jopt.novograd: weight_decay=-0.1 is invalid"):
        jopt.novograd(weight_decay=-0.1)
