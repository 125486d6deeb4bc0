"""jopt.nadam and jopt.scale_by_nadam against NAdam written out in NumPy (float64, real and
complex; PyTorch's momentum decay ψ, Keras' ψ = 1, β1 scheduled), the state, the checks."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jopt
from tests.support import trajectory
from tests.support.trajectory import assert_steps_close, b1_ramp, gradients, jopt_b1_ramp


def constant(b):
    return lambda count: b


def np_nadam(grads, lr, b1, b2, eps, psi):
    m = np.zeros_like(grads[0])
    v = np.zeros(grads[0].shape)
    product = 1.0
    out = []
    for k, g in enumerate(grads):
        t, beta1 = k + 1, b1(k)
        mu = beta1 * (1 - 0.5 * 0.96 ** (t * psi))
        mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        product *= mu
        m = beta1 * m + (1 - beta1) * g
        v = b2 * v + (1 - b2) * np.abs(g) ** 2
        denom = np.sqrt(v / (1 - b2**t)) + eps
        step = (1 - mu) / (1 - product) * g + mu_next / (1 - product * mu_next) * m
        out.append(-lr * step / denom)
    return out


FORMULAS = [
    ("defaults", jopt.nadam(), lambda gs: np_nadam(gs, 2e-3, constant(0.9), 0.999, 1e-8, 4e-3)),
    (
        "momentum_decay-b1-schedule",
        jopt.nadam(0.1, b1=jopt_b1_ramp, b2=0.9, eps=1e-3, momentum_decay=0.3),
        lambda gs: np_nadam(gs, 0.1, b1_ramp, 0.9, 1e-3, 0.3),
    ),
    # the primitive is the optimizer without the rate (−1 undoes the descent's sign)
    (
        "primitive-keras-decay",
        jopt.scale_by_nadam(b2=0.9, momentum_decay=1.0),
        lambda gs: np_nadam(gs, -1.0, constant(0.9), 0.9, 1e-8, 1.0),
    ),
]


@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
@pytest.mark.parametrize("name, tx, reference", FORMULAS, ids=[f[0] for f in FORMULAS])
def test_nadam_is_its_formula(name, tx, reference, complex_):
    grads = gradients(complex_=complex_)
    assert_steps_close(trajectory.updates(tx, grads), reference(grads))


def test_mu_product_is_a_wide_scalar():
    state = jopt.scale_by_nadam().init({"w": jnp.zeros(3, jnp.float32)})
    assert isinstance(state, jopt.ScaleByNadamState)
    assert state.mu_product.shape == () and state.mu_product.dtype == jnp.float64  # x64 on
    _, state = jopt.scale_by_nadam().update({"w": jnp.ones(3, jnp.float32)}, state)
    mu_1 = 0.9 * (1 - 0.5 * 0.96**4e-3)
    assert float(state.mu_product) == pytest.approx(mu_1, rel=1e-15)


@pytest.mark.parametrize(
    "make, values",
    [
        (lambda d: jopt.nadam(0.05, momentum_decay=d), [0.0, 4e-3, 1.0]),
        (lambda b: jopt.nadam(0.05, b1=b), [0.0, 0.5, 0.9]),
    ],
    ids=["momentum_decay", "b1"],
)
def test_vmap_over_hyperparameters(make, values):
    params = {"w": jnp.linspace(-1.0, 1.0, 6, dtype=jnp.float64).reshape(2, 3)}
    grads = jax.tree.map(lambda p: 2.0 * p + 0.1, params)
    jopt.testing.check_vmap(make, params, grads, values)


BAD = [
    (jopt.nadam, dict(momentum_decay=-1.0), r"jopt.nadam: momentum_decay=-1.0"),
    (jopt.nadam, dict(b2=1.0), r"jopt.nadam: b2=1.0"),
    (jopt.scale_by_nadam, dict(eps=float("nan")), r"jopt.scale_by_nadam: eps=nan"),
]


@pytest.mark.parametrize("factory, kwargs, match", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_configuration_raises_at_construction(factory, kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        factory(**kwargs)
