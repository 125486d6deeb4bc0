"""jopt.madgrad in lockstep with pytorch_optimizer's MADGRAD (4.1.0) and with
optax.contrib.madgrad, and its argument checks."""

from __future__ import annotations

import jax.numpy as jnp
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


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("momentum", [0.9, 0.0])
def test_madgrad_matches_pytorch_optimizer(dtype, momentum):
    params, grads = problem()
    theirs = torch_path(
        lambda ps: po.MADGRAD(ps, lr=0.05, momentum=momentum, weight_decay=0.1, eps=1e-4),
        params,
        grads,
        dtype,
    )
    tx = jopt.madgrad(0.05, momentum, weight_decay=0.1, eps=1e-4)
    assert_lockstep(jopt_path(tx, params, grads, dtype), theirs, dtype)


def test_madgrad_matches_optax():
    # optax takes sqrt(k + 1) of an int32 count, in float32: 1e-8 relative in λ_k (the
    # trajectories then differ by ~5e-10), so the bound here is float32's, relaxed
    params, grads = problem()
    ours = jopt.madgrad(0.05, weight_decay=0.1)
    theirs = optax.contrib.madgrad(0.05, weight_decay=0.1)
    assert_lockstep(
        jopt_path(ours, params, grads, np.float64),
        optax_path(theirs, params, grads, np.float64),
        np.float32,
    )


def test_update_needs_params():
    tx = jopt.scale_by_madgrad()
    with pytest.raises(ValueError, match="jopt.scale_by_madgrad: update\\(\\) needs params"):
        tx.update(jnp.zeros(2), tx.init(jnp.zeros(2)))


def test_bad_argument_names_the_call():
    with pytest.raises(ValueError, match=r"jopt.madgrad: momentum=1.5 is invalid; momentum must"):
        jopt.madgrad(momentum=1.5)
