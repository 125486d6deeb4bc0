"""jopt.compat.torch.ASGD (jopt/compat/torch/_averaging.py) against torch.optim.ASGD: lockstep
trajectories and torch's argument checks."""

from __future__ import annotations

import pytest

from tests.support import parity

CASES = parity.torch_cases("averaging")
QUICK = parity.select(parity.TORCH_QUICK, CASES)
SLOW = parity.select(parity.TORCH_SLOW, CASES)


@pytest.mark.parametrize("case, dtype", QUICK, ids=parity.ids(QUICK))
def test_first_case_of_each_preset_matches_torch(case, dtype, torch_quick):
    parity.check(torch_quick, case, dtype)


@pytest.mark.slow
@pytest.mark.parametrize("case, dtype", SLOW, ids=parity.ids(SLOW))
def test_every_other_case_matches_torch(case, dtype, torch_slow):
    parity.check(torch_slow, case, dtype)


BAD = [
    ("ASGD", dict(lr=-1.0)),
    ("ASGD", dict(weight_decay=-0.1)),
]


@pytest.mark.parametrize("name, kwargs", BAD, ids=[f"{n}-{i}" for i, (n, _) in enumerate(BAD)])
def test_bad_arguments_raise_like_torch(name, kwargs):
    parity.raises_like_torch(name, kwargs)
