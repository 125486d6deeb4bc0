"""jopt.compat.torch.Adam, AdamW, Adamax, NAdam and RAdam (jopt/compat/torch/_adam.py) against
torch.optim: lockstep trajectories and torch's argument checks."""

from __future__ import annotations

import pytest

from tests.support import parity

CASES = parity.torch_cases("adam")
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
    ("Adam", dict(lr=-1.0)),
    ("Adam", dict(eps=-1.0)),
    ("Adam", dict(betas=(1.0, 0.999))),
    ("Adam", dict(betas=(0.9, -0.5))),
    ("Adam", dict(weight_decay=-0.1)),
    ("AdamW", dict(betas=(0.9, 1.0))),
    ("AdamW", dict(weight_decay=-0.1)),
    ("Adamax", dict(lr=-1.0)),
    ("Adamax", dict(eps=-1.0)),
    ("Adamax", dict(betas=(1.0, 0.999))),
    ("Adamax", dict(betas=(0.9, 1.5))),
    ("Adamax", dict(weight_decay=-0.1)),
    ("NAdam", dict(lr=-1.0)),
    ("NAdam", dict(eps=-1.0)),
    ("NAdam", dict(betas=(-0.1, 0.999))),
    ("NAdam", dict(betas=(0.9, 1.0))),
    ("NAdam", dict(weight_decay=-0.1)),
    ("NAdam", dict(momentum_decay=-0.1)),
    ("RAdam", dict(lr=-1.0)),
    ("RAdam", dict(eps=-1.0)),
    ("RAdam", dict(betas=(1.0, 0.999))),
    ("RAdam", dict(betas=(0.9, -0.5))),
    ("RAdam", dict(weight_decay=-0.1)),
]


@pytest.mark.parametrize("name, kwargs", BAD, ids=[f"{n}-{i}" for i, (n, _) in enumerate(BAD)])
def test_bad_arguments_raise_like_torch(name, kwargs):
    parity.raises_like_torch(name, kwargs)
