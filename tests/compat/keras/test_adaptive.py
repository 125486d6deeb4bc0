"""jopt.compat.keras.Adagrad, RMSprop and Adadelta (jopt/compat/keras/_adaptive.py) against
keras.optimizers: lockstep trajectories, jopt's checks, Keras' expected values."""

from __future__ import annotations

import numpy as np
import pytest

import jopt.compat.keras as jk
from tests.support import parity

CASES = parity.keras_cases("adaptive")
QUICK = parity.select(parity.KERAS_QUICK, CASES)
SLOW = parity.select(parity.KERAS_SLOW, CASES)


@pytest.mark.parametrize("case, dtype", QUICK, ids=parity.ids(QUICK))
def test_first_case_of_each_preset_matches_keras(case, dtype, keras_quick):
    parity.check(keras_quick, case, dtype)


@pytest.mark.slow
@pytest.mark.parametrize("case, dtype", SLOW, ids=parity.ids(SLOW))
def test_every_other_case_matches_keras(case, dtype, keras_slow):
    parity.check(keras_slow, case, dtype)


# Keras checks none of these; jopt refuses values that cannot give a sensible step.
JOPT_ONLY = [
    ("Adagrad", dict(initial_accumulator_value=-1.0), r"initial_accumulator_value=-1.0"),
    ("Adagrad", dict(epsilon=-1.0), r"epsilon=-1.0"),
    ("RMSprop", dict(rho=1.0), r"rho=1.0 is invalid; rho must be in \[0, 1\)"),
    ("RMSprop", dict(momentum=-0.5), r"momentum=-0.5"),
    ("Adadelta", dict(rho=1.5), r"rho=1.5 is invalid; rho must be in \[0, 1\]"),
    ("Adadelta", dict(epsilon=-1.0), r"epsilon=-1.0"),
    ("Adadelta", dict(learning_rate=-1.0), r"learning_rate=-1.0"),
]


@pytest.mark.parametrize(
    "name, kwargs, match", JOPT_ONLY, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(JOPT_ONLY)]
)
def test_bad_arguments_jopt_only(name, kwargs, match):
    with pytest.raises(ValueError, match=rf"^jopt.compat.keras.{name}: .*{match}"):
        getattr(jk, name)(**kwargs)


# keras/src/optimizers/*_test.py (Keras 3.15): test_correctness_with_golden
GOLDEN = {
    "Adagrad": (
        lambda: jk.Adagrad(learning_rate=0.2, initial_accumulator_value=0.3, epsilon=1e-6),
        [
            [0.9963] * 10,
            [0.9604, 0.9278, 0.9003, 0.8784, 0.8615, 0.8487, 0.8388, 0.8313, 0.8255, 0.8209],
            [0.9251, 0.8629, 0.8137, 0.7768, 0.7497, 0.7298, 0.7151, 0.704, 0.6956, 0.6891],
            [0.8903, 0.8012, 0.7342, 0.6862, 0.6521, 0.6277, 0.6099, 0.5967, 0.5867, 0.579],
            [0.856, 0.7422, 0.6604, 0.6037, 0.5644, 0.5367, 0.5168, 0.5021, 0.491, 0.4825],
        ],
    ),
    "RMSprop": (
        lambda: jk.RMSprop(centered=True),
        [[v] * 10 for v in (0.9967, 0.9933, 0.9908, 0.9885, 0.9864)],
    ),
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_correctness_with_golden(name):
    make, golden = GOLDEN[name]
    np.testing.assert_allclose(parity.golden(make()), golden, rtol=5e-4, atol=5e-4)


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: jk.Adagrad(learning_rate=0.5), [0.5233, 1.5007, 2.5005, 3.5061]),
        (lambda: jk.RMSprop(learning_rate=0.5), [-0.5811, 0.4189, 1.4189, 2.4189]),
    ],
)
def test_single_step(make, expected):
    np.testing.assert_allclose(parity.single_step(make()), expected, rtol=1e-4, atol=1e-4)
