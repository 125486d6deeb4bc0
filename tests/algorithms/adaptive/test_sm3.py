"""jopt.sm3 and jopt.scale_by_sm3 in lockstep with pytorch_optimizer's SM3, with optax's
through its switches, and against the paper's SM3-II in NumPy."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from pytorch_optimizer import SM3

import jopt
from tests.support import pto_lockstep, trajectory
from tests.support.trajectory import assert_steps_close

SHAPES = {**pto_lockstep.SHAPES, "t": (2, 3, 2)}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("beta", [0.0, 0.7])
def test_sm3_matches_pytorch_optimizer(dtype, beta):
    b2 = 1.0 if beta == 0.0 else beta  # its beta = 0 is the paper's sum: b2 = 1 here
    pto_lockstep.assert_lockstep(
        jopt.sm3(0.05, 0.6, b2=b2, eps=1e-12),
        lambda ps: SM3(ps, lr=0.05, momentum=0.6, beta=beta, eps=1e-12, foreach=False),
        dtype,
        shapes=SHAPES,
    )


def test_defaults_are_pytorch_optimizers():
    pto_lockstep.assert_lockstep(jopt.sm3(), lambda ps: SM3(ps), np.float64, shapes=SHAPES)


def test_sm3_is_the_papers_sm3_ii():
    # Anil et al. 2019, SM3-II with the cover of rows and columns of a matrix:
    # ν'(i,j) = min(μ_row(i), μ_col(j)) + g²(i,j); w −= η g/sqrt(ν'); μ_row(i) = max_j ν'(i,j)
    rng = np.random.default_rng(5)
    w0 = rng.normal(size=(3, 4))
    gs = [rng.normal(size=(3, 4)) for _ in range(8)]
    lr = 0.1
    w, row, col, theirs = w0.copy(), np.zeros(3), np.zeros(4), []
    for g in gs:
        nu = np.minimum(row[:, None], col[None, :]) + g * g
        w = w - lr * g / np.sqrt(nu)
        row, col = nu.max(axis=1), nu.max(axis=0)
        theirs.append(w.copy())
    assert_steps_close(trajectory.fed(jopt.sm3(lr, eps=0.0), w0, gs)[0], theirs)


@pytest.mark.parametrize("b2", [1.0, 0.8])
def test_switches_match_optax(b2):
    shapes = {"w": (3, 4), "b": (4,), "t": (2, 3, 2)}  # optax takes no scalar leaf
    params, gs = pto_lockstep.tree(1, shapes), pto_lockstep.grads(8, shapes)
    ours = jopt.chain(jopt.scale_by_sm3(0.9, b2, 1e-8, keep_max=False), optax.scale(-0.1))
    with jax.numpy_dtype_promotion("standard"):
        theirs, _ = trajectory.fed(
            optax.chain(optax.scale_by_sm3(0.9, b2, 1e-8), optax.scale(-0.1)), params, gs
        )
    assert_steps_close(trajectory.fed(ours, params, gs)[0], theirs, "lockstep")


def test_state_and_bad_arguments():
    state = jopt.scale_by_sm3().init({"s": jnp.zeros(()), "w": jnp.zeros((3, 4))})
    assert isinstance(state, jopt.ScaleBySM3State)
    assert [[a.shape for a in accs] for accs in state.mu] == [[()], [(3,), (4,)]]
    with pytest.raises(ValueError, match=r"jopt\.sm3: b2=0\.0 .*\(0, 1\]"):
        jopt.sm3(b2=0.0)
    with pytest.raises(TypeError, match=r"jopt\.sm3: .*complex"):
        jopt.sm3().init(jnp.zeros(2, jnp.complex64))
