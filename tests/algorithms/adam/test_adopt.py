"""jopt.adopt in lockstep with pytorch_optimizer's ADOPT (4.1.0), the authors' algorithm
with its clipping, optax's clipping schedule against optax.contrib.adopt, and its
argument checks."""

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
def test_adopt_matches_pytorch_optimizer(dtype):
    # small gradients after the first: the clip t^(1/4) binds on some coordinates
    params, grads = problem()
    grads = [grads[0]] + [{k: 3.0 * g for k, g in gs.items()} for gs in grads[1:]]
    theirs = torch_path(
        lambda ps: po.ADOPT(ps, lr=0.05, betas=(0.8, 0.9), eps=1e-3), params, grads, dtype
    )
    ours = jopt_path(jopt.adopt(0.05, 0.8, 0.9, 1e-3), params, grads, dtype)
    assert_lockstep(ours, theirs, dtype)


def test_defaults_are_the_references():
    params, grads = problem()
    theirs = torch_path(lambda ps: po.ADOPT(ps), params, grads, np.float64)
    assert_lockstep(jopt_path(jopt.adopt(), params, grads, np.float64), theirs, np.float64)


@pytest.mark.parametrize("nesterov", [False, True])
def test_optax_clipping_matches_optax(nesterov):
    params, grads = problem()
    grads = [grads[0]] + [{k: 3.0 * g for k, g in gs.items()} for gs in grads[1:]]
    clip = lambda count: count.astype(jnp.float64) ** 0.25  # noqa: E731
    ours = jopt.adopt(0.05, nesterov=nesterov, clip_value_fn=clip)
    theirs = optax.contrib.adopt(0.05, nesterov=nesterov)
    assert_lockstep(
        jopt_path(ours, params, grads, np.float64),
        optax_path(theirs, params, grads, np.float64),
        np.float64,
    )


def test_bad_argument_names_the_call():
    with pytest.raises(TypeError, match=r"jopt.adopt: clip_value_fn=3 is invalid"):
        jopt.adopt(clip_value_fn=3)  # pyright: ignore[reportArgumentType]
