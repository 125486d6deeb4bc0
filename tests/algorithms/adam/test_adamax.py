"""jopt.adamax and jopt.scale_by_adamax against AdaMax written out in NumPy (float64, real
and complex; ε in the max or added to it, β1 scheduled), against optax, and their checks."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jopt
from tests.support import trajectory
from tests.support.trajectory import assert_steps_close, b1_ramp, gradients, jopt_b1_ramp


def constant(b):
    return lambda count: b


def np_adamax(grads, lr, b1, b2, eps, eps_in_max=True):
    m = np.zeros_like(grads[0])
    u = np.zeros(grads[0].shape)
    out = []
    for k, g in enumerate(grads):
        t, beta1 = k + 1, b1(k)
        m = beta1 * m + (1 - beta1) * g
        if eps_in_max:
            u = np.maximum(b2 * u, np.abs(g) + eps)
            denom = u
        else:
            u = np.maximum(b2 * u, np.abs(g))
            denom = u + eps
        out.append(-lr / (1 - beta1**t) * m / denom)
    return out


FORMULAS = [
    ("defaults", jopt.adamax(), lambda gs: np_adamax(gs, 2e-3, constant(0.9), 0.999, 1e-8)),
    (
        "keras-eps-b1-schedule",
        jopt.adamax(0.1, b1=jopt_b1_ramp, b2=0.9, eps=1e-2, eps_in_max=False),
        lambda gs: np_adamax(gs, 0.1, b1_ramp, 0.9, 1e-2, eps_in_max=False),
    ),
    (
        "eps-in-max-b1-schedule",
        jopt.adamax(0.1, b1=jopt_b1_ramp, b2=0.9, eps=1e-2),
        lambda gs: np_adamax(gs, 0.1, b1_ramp, 0.9, 1e-2),
    ),
    # the primitive is the optimizer without the rate (−1 undoes the descent's sign)
    (
        "primitive",
        jopt.scale_by_adamax(b2=0.9, eps=1e-2, eps_in_max=False),
        lambda gs: np_adamax(gs, -1.0, constant(0.9), 0.9, 1e-2, eps_in_max=False),
    ),
]


@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
@pytest.mark.parametrize("name, tx, reference", FORMULAS, ids=[f[0] for f in FORMULAS])
def test_adamax_is_its_formula(name, tx, reference, complex_):
    grads = gradients(complex_=complex_)
    assert_steps_close(trajectory.updates(tx, grads), reference(grads))


def test_equal_to_optax():
    grads = gradients()
    with jax.numpy_dtype_promotion("standard"):  # optax mixes dtypes
        expected = trajectory.updates(optax.adamax(0.1, b2=0.9, eps=1e-3), grads)
    assert_steps_close(trajectory.updates(jopt.adamax(0.1, b2=0.9, eps=1e-3), grads), expected)


def test_state_keeps_a_real_infinity_norm():
    state = jopt.scale_by_adamax().init({"z": jnp.zeros(2, jnp.complex128)})
    assert isinstance(state, jopt.ScaleByAdamaxState)
    assert state.mu["z"].dtype == jnp.complex128 and state.nu["z"].dtype == jnp.float64
    assert state.count.dtype == jnp.int32


def test_vmap_over_b2():
    params = {"w": jnp.linspace(-1.0, 1.0, 6, dtype=jnp.float64).reshape(2, 3)}
    grads = jax.tree.map(lambda p: 2.0 * p + 0.1, params)
    jopt.testing.check_vmap(lambda b: jopt.adamax(0.05, b2=b), params, grads, [0.9, 0.99, 0.999])


BAD = [
    (jopt.adamax, dict(b1=1.0), r"jopt.adamax: b1=1.0 is invalid; b1 must be in \[0, 1\)"),
    (jopt.adamax, dict(b2=-0.5), r"jopt.adamax: b2=-0.5"),
    (jopt.adamax, dict(eps_in_max=1), r"jopt.adamax: eps_in_max=1 is invalid; .* True or False"),
    (jopt.scale_by_adamax, dict(mu_dtype="int32"), r"jopt.scale_by_adamax: mu_dtype='int32'"),
]


@pytest.mark.parametrize("factory, kwargs, match", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_configuration_raises_at_construction(factory, kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        factory(**kwargs)
