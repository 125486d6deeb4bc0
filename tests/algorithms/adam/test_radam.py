"""jopt.radam and jopt.scale_by_radam against RAdam written out in NumPy (float64, real and
complex; the rectification threshold, β1 scheduled), against optax at ε = 0, the checks."""

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


def np_radam(grads, lr, b1, b2, eps, threshold=5.0):
    m = np.zeros_like(grads[0])
    v = np.zeros(grads[0].shape)
    rho_inf = 2 / (1 - b2) - 1
    out = []
    for k, g in enumerate(grads):
        t, beta1 = k + 1, b1(k)
        m = beta1 * m + (1 - beta1) * g
        v = b2 * v + (1 - b2) * np.abs(g) ** 2
        m_hat = m / (1 - beta1**t)
        rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
        if rho_t > threshold:
            r = np.sqrt(
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            )
            out.append(-lr * r * m_hat * np.sqrt(1 - b2**t) / (np.sqrt(v) + eps))
        else:
            out.append(-lr * m_hat)
    return out


FORMULAS = [
    ("defaults", jopt.radam(), lambda gs: np_radam(gs, 1e-3, constant(0.9), 0.999, 1e-8)),
    (
        "b2-eps-threshold-b1-schedule",
        jopt.radam(0.1, b1=jopt_b1_ramp, b2=0.9, eps=1e-3, threshold=8.0),
        lambda gs: np_radam(gs, 0.1, b1_ramp, 0.9, 1e-3, threshold=8.0),
    ),
    # the primitive is the optimizer without the rate (−1 undoes the descent's sign)
    (
        "primitive",
        jopt.scale_by_radam(b2=0.9),
        lambda gs: np_radam(gs, -1.0, constant(0.9), 0.9, 1e-8),
    ),
]


@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
@pytest.mark.parametrize("name, tx, reference", FORMULAS, ids=[f[0] for f in FORMULAS])
def test_radam_is_its_formula(name, tx, reference, complex_):
    grads = gradients(complex_=complex_)
    assert_steps_close(trajectory.updates(tx, grads), reference(grads))


def test_equal_to_optax_at_zero_eps():
    # optax adds ε to sqrt(v̂), PyTorch (and jopt) to sqrt(v): equal at ε = 0
    grads = gradients()
    with jax.numpy_dtype_promotion("standard"):  # optax mixes dtypes
        expected = trajectory.updates(optax.radam(0.1, b2=0.9, eps=0.0), grads)
    assert_steps_close(trajectory.updates(jopt.radam(0.1, b2=0.9, eps=0.0), grads), expected)


def test_first_steps_are_momentum_sgd_then_rectified():
    # β2 = 0.999: ρ_5 ≈ 4.99 (plain m̂), ρ_6 ≈ 5.99 (rectified)
    steps = trajectory.updates(jopt.radam(1.0), [np.ones(1)] * 6)[:, 0]
    assert list(steps[:5]) == pytest.approx([-1.0] * 5, rel=1e-12)  # m̂_t = 1 for g = 1
    assert 0.0 < -steps[5] < 0.1  # r_6 is small: the first rectified step is cautious


@pytest.mark.parametrize(
    "make, values",
    [
        (lambda b: jopt.radam(0.05, b2=b), [0.5, 0.99, 0.999]),
        (lambda th: jopt.radam(0.05, b2=0.9, threshold=th), [4.0, 5.0, 8.0]),
    ],
    ids=["b2", "threshold"],
)
def test_vmap_over_hyperparameters(make, values):
    # 8 steps: with β2 = 0.9, ρ_t passes 4 and 5 (not 8) by then
    params = {"w": jnp.linspace(-1.0, 1.0, 6, dtype=jnp.float64).reshape(2, 3)}
    grads = jax.tree.map(lambda p: 2.0 * p + 0.1, params)
    jopt.testing.check_vmap(make, params, grads, values, steps=8)


BAD = [
    (jopt.radam, dict(threshold=3.0), r"jopt.radam: threshold=3.0 is invalid; .*\[4, inf\)"),
    (jopt.radam, dict(b1=-0.1), r"jopt.radam: b1=-0.1"),
    (jopt.scale_by_radam, dict(eps="1e-8"), r"jopt.scale_by_radam: eps='1e-8'"),
]


@pytest.mark.parametrize("factory, kwargs, match", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_configuration_raises_at_construction(factory, kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        factory(**kwargs)
