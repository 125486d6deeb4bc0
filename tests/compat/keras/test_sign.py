"""jopt.compat.keras.Lion (jopt/compat/keras/_sign.py) against keras.optimizers.Lion: lockstep
trajectories, Keras' checks (its own rule for β1), jopt's."""

from __future__ import annotations

import pytest

import jopt.compat.keras as jk
from jopt._core.checks import declaration
from tests.support import parity

CASES = parity.keras_cases("sign")
QUICK = parity.select(parity.KERAS_QUICK, CASES)
SLOW = parity.select(parity.KERAS_SLOW, CASES)


@pytest.mark.parametrize("case, dtype", QUICK, ids=parity.ids(QUICK))
def test_first_case_of_each_preset_matches_keras(case, dtype, keras_quick):
    parity.check(keras_quick, case, dtype)


@pytest.mark.slow
@pytest.mark.parametrize("case, dtype", SLOW, ids=parity.ids(SLOW))
def test_every_other_case_matches_keras(case, dtype, keras_slow):
    parity.check(keras_slow, case, dtype)


@pytest.mark.parametrize("kwargs", [dict(beta_1=0.0), dict(beta_1=1.5)])
def test_bad_arguments_raise_like_keras(kwargs):
    parity.raises_like_keras("Lion", kwargs)


# Keras checks none of these; jopt refuses values that cannot give a sensible step.
JOPT_ONLY = [
    ("Lion", dict(beta_2=1.5), r"beta_2=1.5 is invalid; beta_2 must be in \[0, 1\]"),
]


@pytest.mark.parametrize(
    "name, kwargs, match", JOPT_ONLY, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(JOPT_ONLY)]
)
def test_bad_arguments_jopt_only(name, kwargs, match):
    with pytest.raises(ValueError, match=rf"^jopt.compat.keras.{name}: .*{match}"):
        getattr(jk, name)(**kwargs)


BETA_1 = declaration(jk.Lion).rules["beta_1"]  # Keras' rule for Lion's β1: (0, 1]


def test_beta_1_rule_accepts_its_valid_values():
    for value in (1e-12, 0.5, 0.9, 1.0):
        assert BETA_1("x", value) == value


@pytest.mark.parametrize("label, value", list(BETA_1.bad().items()), ids=list(BETA_1.bad()))
def test_beta_1_rule_rejects_each_class_of_bad_value(label, value):
    with pytest.raises((TypeError, ValueError)) as error:
        BETA_1("x", value)
    message = str(error.value)
    assert "x" in message, message
