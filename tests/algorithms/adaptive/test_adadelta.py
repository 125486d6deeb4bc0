"""jopt.adadelta and jopt.scale_by_adadelta against Zeiler's Adadelta written out in NumPy
(float64, real and complex), against optax where the rules coincide, and their checks."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jopt
from tests.support import trajectory
from tests.support.trajectory import assert_steps_close, gradients


def np_adadelta(grads, lr, rho, eps):
    e_g = np.zeros(grads[0].shape)
    e_x = np.zeros(grads[0].shape)
    out = []
    for g in grads:
        e_g = rho * e_g + (1 - rho) * np.abs(g) ** 2
        delta = np.sqrt(e_x + eps) / np.sqrt(e_g + eps) * g
        e_x = rho * e_x + (1 - rho) * np.abs(delta) ** 2
        out.append(-lr * delta)
    return out


FORMULAS = [
    ("defaults", jopt.adadelta(), lambda gs: np_adadelta(gs, 1.0, 0.95, 1e-6)),
    (
        "rho-eps-lr",
        jopt.adadelta(0.5, rho=0.8, eps=1e-3),
        lambda gs: np_adadelta(gs, 0.5, 0.8, 1e-3),
    ),
    # the primitive is the optimizer without the rate (−1 undoes the descent's sign)
    (
        "primitive",
        jopt.scale_by_adadelta(rho=0.8, eps=1e-3),
        lambda gs: np_adadelta(gs, -1.0, 0.8, 1e-3),
    ),
]


@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
@pytest.mark.parametrize("name, tx, reference", FORMULAS, ids=[f[0] for f in FORMULAS])
def test_adadelta_is_its_formula(name, tx, reference, complex_):
    grads = gradients(complex_=complex_)
    assert_steps_close(trajectory.updates(tx, grads), reference(grads))


def test_equal_to_optax():
    grads = gradients()
    with jax.numpy_dtype_promotion("standard"):  # optax mixes dtypes
        expected = trajectory.updates(optax.adadelta(0.5, rho=0.9, eps=1e-6), grads)
    assert_steps_close(trajectory.updates(jopt.adadelta(0.5, rho=0.9), grads), expected)


def test_state_holds_real_averages():
    state = jopt.scale_by_adadelta().init({"z": jnp.zeros(2, jnp.complex64)})
    assert isinstance(state, jopt.ScaleByAdadeltaState)
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(state))


def test_vmap_over_rho():
    params = {"w": jnp.linspace(-1.0, 1.0, 6, dtype=jnp.float64).reshape(2, 3)}
    grads = jax.tree.map(lambda p: 2.0 * p + 0.1, params)
    jopt.testing.check_vmap(lambda r: jopt.adadelta(1.0, rho=r), params, grads, [0.5, 0.9, 0.95])


BAD = [
    (jopt.adadelta, dict(rho=1.5), r"jopt.adadelta: rho=1.5 is invalid; rho must be in \[0, 1\]"),
    (jopt.adadelta, dict(eps=-1.0), r"jopt.adadelta: eps=-1.0"),
    (jopt.adadelta, dict(learning_rate=-1.0), r"jopt.adadelta: learning_rate=-1.0"),
    (jopt.scale_by_adadelta, dict(rho=-0.1), r"jopt.scale_by_adadelta: rho=-0.1"),
]


@pytest.mark.parametrize("factory, kwargs, match", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_configuration_raises_at_construction(factory, kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        factory(**kwargs)
