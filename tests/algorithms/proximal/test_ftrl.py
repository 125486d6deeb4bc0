"""jopt.scale_by_ftrl against FTRL-Proximal written out in NumPy (float64), Keras' form
(McMahan et al. 2013), its state and its checks."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import jopt
from tests.support import trajectory
from tests.support.trajectory import assert_steps_close

STEPS = 12


def numpy_ftrl(theta, grads, lr, power, n0, l1, l2, shrinkage, beta):
    """n ← n + g²; σ = (n^(−p) − n_old^(−p))/α_t; z ← z + g + 2λs θ − σθ;
    θ ← (clip(z, −λ1, λ1) − z)/(n^(−p)/α_t + 2(λ2 + β/(2α_t))), θ kept where that is 0/0."""
    theta, n, z, out = theta.copy(), np.full_like(theta, n0), np.zeros_like(theta), []
    for k, g in enumerate(grads):
        alpha = lr(k)
        n_new = n + g * g
        sigma = (n_new ** (-power) - n ** (-power)) / alpha
        z = z + g + 2 * shrinkage * theta - sigma * theta
        quadratic = n_new ** (-power) / alpha + 2 * (l2 + beta / (2 * alpha))
        with np.errstate(invalid="ignore", divide="ignore"):
            solved = (np.clip(z, -l1, l1) - z) / quadratic
        theta = np.where(quadratic > 0, solved, theta)
        n = n_new
        out.append(theta)
    return out


def constant(value):
    return lambda k: value


NUMPY_DEFAULTS = dict(
    lr=constant(1e-3), power=-0.5, n0=0.1, l1=0.0, l2=0.0, shrinkage=0.0, beta=0.0
)
CASES = {
    "defaults": (dict(), dict()),
    "l1-l2": (dict(learning_rate=0.5, l1=0.3, l2=0.2), dict(lr=constant(0.5), l1=0.3, l2=0.2)),
    "all-options-schedule": (
        dict(
            learning_rate=jopt.schedules.exponential_lr(0.4, 0.9),
            learning_rate_power=-0.3,
            initial_accumulator_value=0.5,
            l1=0.05,
            l2=0.1,
            l2_shrinkage=0.2,
            beta=0.7,
        ),
        dict(
            lr=lambda k: 0.4 * 0.9**k, power=-0.3, n0=0.5, l1=0.05, l2=0.1, shrinkage=0.2, beta=0.7
        ),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_ftrl_is_its_formula(case):
    kwargs, reference = CASES[case]
    reference = NUMPY_DEFAULTS | reference
    rng = np.random.default_rng(0)
    theta0, grads = rng.normal(size=6), list(rng.normal(size=(STEPS, 6)))
    path, state = trajectory.fed(jopt.scale_by_ftrl(**kwargs), theta0, grads)
    assert_steps_close(path, numpy_ftrl(theta0, grads, **reference))
    assert float(jopt.get_learning_rate(state)) == pytest.approx(reference["lr"](STEPS - 1))


def test_a_coordinate_without_gradient_or_accumulator_stays():
    # n_0 = 0, λ2 = 0, g = 0: the denominator is 0 (Keras writes NaN there)
    grads = [np.array([0.0, 1.0]), np.array([0.0, -0.5]), np.array([2.0, 0.5])]
    tx = jopt.scale_by_ftrl(0.5, initial_accumulator_value=0.0)
    path, _ = trajectory.fed(tx, np.array([0.7, 0.7]), grads)
    reference = NUMPY_DEFAULTS | dict(lr=constant(0.5), n0=0.0)
    assert_steps_close(path, numpy_ftrl(np.array([0.7, 0.7]), grads, **reference))
    np.testing.assert_array_equal(path[:2, 0], [0.7, 0.7])
    assert np.all(np.isfinite(path))


def test_state_starts_the_accumulator_at_its_initial_value():
    params = {"w": jnp.zeros((2, 3)), "h": jnp.zeros(2, jnp.float16)}
    state = jopt.scale_by_ftrl(0.1, initial_accumulator_value=0.25).init(params)
    assert isinstance(state, jopt.ScaleByFtrlState)
    np.testing.assert_array_equal(state.accumulator["w"], np.full((2, 3), 0.25))
    np.testing.assert_array_equal(state.linear["w"], np.zeros((2, 3)))
    assert state.accumulator["h"].dtype == state.linear["h"].dtype == jnp.float32
    scheduled = jopt.scale_by_ftrl(lambda c: 0.1).init(params)
    assert isinstance(scheduled.rate, jopt.ScaleByScheduleState)


def test_needs_real_params_and_params():
    tx = jopt.scale_by_ftrl()
    with pytest.raises(TypeError, match="FTRL's clip and sign need real parameters"):
        tx.init(jnp.zeros(2, jnp.complex64))
    with pytest.raises(ValueError, match=r"jopt.scale_by_ftrl: update\(\) needs params"):
        tx.update(jnp.ones(2), tx.init(jnp.zeros(2)))


BAD = [
    (dict(learning_rate_power=0.5), r"learning_rate_power=0.5 is invalid; .*\(-inf, 0\]"),
    (dict(l2=-1.0), r"l2=-1.0 is invalid"),
    # FTRL divides by the rate: a rate of 0 is refused
    (dict(learning_rate=0.0), r"learning_rate=0.0 is invalid; .*\(0, inf\)"),
    (dict(initial_accumulator_value=-0.1), r"initial_accumulator_value=-0.1"),
    (dict(beta=float("inf")), r"beta=inf"),
]


@pytest.mark.parametrize("kwargs, match", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_configuration_raises_at_construction(kwargs, match):
    with pytest.raises(ValueError, match=r"^jopt.scale_by_ftrl: " + match):
        jopt.scale_by_ftrl(**kwargs)
