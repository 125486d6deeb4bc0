"""jopt.compat.keras.Lamb (jopt/compat/keras/_layerwise.py) against keras.optimizers.Lamb:
lockstep trajectories and jopt's checks."""

from __future__ import annotations

import pytest

import jopt.compat.keras as jk
from tests.support import parity

CASES = parity.keras_cases("layerwise")
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
    ("Lamb", dict(beta_1=1.0), r"beta_1=1.0 is invalid; beta_1 must be in \[0, 1\)"),
    ("Lamb", dict(epsilon=-1.0), r"epsilon=-1.0"),
]


@pytest.mark.parametrize(
    "name, kwargs, match", JOPT_ONLY, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(JOPT_ONLY)]
)
def test_bad_arguments_jopt_only(name, kwargs, match):
    with pytest.raises(ValueError, match=rf"^jopt.compat.keras.{name}: .*{match}"):
        getattr(jk, name)(**kwargs)
