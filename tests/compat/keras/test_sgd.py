"""jopt.compat.keras.SGD (jopt/compat/keras/_sgd.py) against keras.optimizers.SGD: lockstep
trajectories, Keras' checks and expected values, tf.keras 2's legacy ``decay``."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jopt
import jopt.compat.keras as jk
from tests.support import parity

CASES = parity.keras_cases("sgd")
QUICK = parity.select(parity.KERAS_QUICK, CASES)
SLOW = parity.select(parity.KERAS_SLOW, CASES)


@pytest.mark.parametrize("case, dtype", QUICK, ids=parity.ids(QUICK))
def test_first_case_of_each_preset_matches_keras(case, dtype, keras_quick):
    parity.check(keras_quick, case, dtype)


@pytest.mark.slow
@pytest.mark.parametrize("case, dtype", SLOW, ids=parity.ids(SLOW))
def test_every_other_case_matches_keras(case, dtype, keras_slow):
    parity.check(keras_slow, case, dtype)


@pytest.mark.parametrize("kwargs", [dict(momentum=1.5), dict(momentum=-0.1)])
def test_bad_arguments_raise_like_keras(kwargs):
    parity.raises_like_keras("SGD", kwargs)


# Keras checks none of these; jopt refuses values that cannot give a sensible step.
JOPT_ONLY = [
    ("SGD", dict(learning_rate=-0.1), r"learning_rate=-0.1 is invalid"),
    ("SGD", dict(decay=-0.1), r"decay=-0.1 is invalid; decay must be in \[0, inf\)"),
    ("SGD", dict(weight_decay=-0.1), r"weight_decay=-0.1"),
]


@pytest.mark.parametrize(
    "name, kwargs, match", JOPT_ONLY, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(JOPT_ONLY)]
)
def test_bad_arguments_jopt_only(name, kwargs, match):
    with pytest.raises(ValueError, match=rf"^jopt.compat.keras.{name}: .*{match}"):
        getattr(jk, name)(**kwargs)


def test_correctness_with_golden():
    # keras/src/optimizers/sgd_test.py (Keras 3.15)
    golden = [
        [0.9999] * 10,
        [0.9989, 0.9979, 0.9969, 0.9959, 0.9949, 0.9939, 0.9929, 0.9919, 0.9909, 0.9899],
        [0.9979, 0.9959, 0.9939, 0.9919, 0.9899, 0.9879, 0.9859, 0.9839, 0.9819, 0.9799],
        [0.9969, 0.9939, 0.9909, 0.9879, 0.9849, 0.9819, 0.9789, 0.9759, 0.9729, 0.9699],
        [0.9959, 0.9919, 0.9879, 0.9839, 0.9799, 0.9759, 0.9719, 0.9679, 0.9639, 0.9599],
    ]
    np.testing.assert_allclose(parity.golden(jk.SGD(nesterov=True)), golden, rtol=5e-4, atol=5e-4)


def test_single_step():
    got = parity.single_step(jk.SGD(learning_rate=0.5))
    np.testing.assert_allclose(got, [0.5, -1.0, -0.5, 3.0], rtol=1e-4, atol=1e-4)


def test_legacy_decay_is_recorded_as_the_learning_rate():
    tx = jk.SGD(learning_rate=0.1, momentum=0.9, decay=0.5, weight_decay=0.01)
    params = jnp.ones(2)
    state = tx.init(params)
    for _ in range(3):
        _, state = tx.update(jnp.ones(2), state, params)
    assert float(jopt.get_learning_rate(state)) == pytest.approx(0.1 / (1 + 0.5 * 2))


@pytest.mark.slow
def test_legacy_decay_meets_the_contracts():
    # Not in the registry: its recorded learning rate is the decayed one, not the schedule's.
    params = {
        "w": jnp.ones((2, 3), jnp.float32),
        "b": jnp.ones(3, jnp.bfloat16),
        "s": jnp.asarray(0.5, jnp.float64),
    }
    grads = jax.tree.map(lambda p: (0.5 * p).astype(p.dtype), params)
    make = lambda lr: jk.SGD(lr, momentum=0.9, decay=0.5, weight_decay=0.01)  # noqa: E731
    jopt.testing.check_transformation(make(0.1), params, grads)
    jopt.testing.check_vmap(make, params, grads, [0.1, 0.2])


def test_decay_stays_out_of_the_momentum_buffer():
    # Two steps at θ = 1, g = 0, μ = 0.5, α = 0.1, λ = 1: Keras decays θ by αλθ each step
    # and the buffer stays 0; through the buffer the second step would be −0.15.
    tx = jk.SGD(learning_rate=0.1, momentum=0.5, weight_decay=1.0)
    params = jnp.ones(1)
    state = tx.init(params)
    u1, state = tx.update(jnp.zeros(1), state, params)
    u2, state = tx.update(jnp.zeros(1), state, params)
    np.testing.assert_allclose([float(u1[0]), float(u2[0])], [-0.1, -0.1], rtol=1e-12)
