"""SWALR (jopt/schedules/_swa.py), alone and after another schedule as in PyTorch's SWA
recipe, against torch.optim.swa_utils as the oracle."""

from __future__ import annotations

import math

import pytest
import torch
from torch.optim import lr_scheduler as tl
from torch.optim import swa_utils

import jopt.schedules as schedules
from tests.support import torch_lr


class _SwaAfter:
    """PyTorch's SWA recipe: ``scheduler.step()`` until update ``swa_start``, then
    ``swa_scheduler.step()`` (both built up front on the same optimizer)."""

    def __init__(self, opt, first, swa, swa_start):
        self.first, self.swa, self.swa_start, self.i = first, swa, swa_start, 0

    def step(self):
        (self.swa if self.i > self.swa_start else self.first).step()
        self.i += 1


def _swa_after_cosine(b):
    first = schedules.cosine_annealing_lr(b, 200)
    m = 150 + 1  # swa_start + 1: the first count at SWALR's rate
    return schedules.sequential_lr([first, schedules.swalr(first(m), 0.005, 30)], [m])


# id -> (torch scheduler factory (opt, base), jopt schedule factory (base), base rate)
CASES = {
    "swalr_cos": (
        lambda o, b: swa_utils.SWALR(o, swa_lr=0.01, anneal_epochs=50),
        lambda b: schedules.swalr(b, 0.01, anneal_epochs=50),
        0.1,
    ),
    "swalr_linear_up": (
        lambda o, b: swa_utils.SWALR(o, 0.5, anneal_epochs=120, anneal_strategy="linear"),
        lambda b: schedules.swalr(b, 0.5, 120, "linear"),
        0.05,
    ),
    "swalr_zero_epochs": (
        lambda o, b: swa_utils.SWALR(o, swa_lr=0.02, anneal_epochs=0),
        lambda b: schedules.swalr(b, 0.02, 0),
        0.1,
    ),
    "swalr_after_cosine": (
        lambda o, b: _SwaAfter(
            o,
            tl.CosineAnnealingLR(o, T_max=200),
            swa_utils.SWALR(o, swa_lr=0.005, anneal_epochs=30),
            swa_start=150,
        ),
        _swa_after_cosine,
        0.1,
    ),
}

BIG = torch_lr.BIG
# The longest annealing (int32's max): id -> (schedule, PyTorch's formula in float64)
LARGE = {
    "swalr_max": (
        lambda: schedules.swalr(0.1, 0.01, BIG),
        lambda t: 0.01 + (0.1 - 0.01) * (1 + math.cos(math.pi * min(1.0, t / BIG))) / 2,
    ),
}


@pytest.fixture(scope="session")
def values():
    """Every case of this file, evaluated in one compiled call."""
    return torch_lr.file_values(CASES, large={n: m for n, (m, _) in LARGE.items()})


@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch(name, values):
    torch_make, _, base = CASES[name]
    torch_lr.assert_lockstep(values[f"lockstep/{name}"], torch_make, base)


@pytest.mark.parametrize("name", list(LARGE))
def test_large_periods_compute_correctly(name, values):
    torch_lr.assert_large(values[f"large/{name}"], LARGE[name][1])


def test_large_periods_without_x64():
    torch_lr.assert_large_without_x64(*LARGE["swalr_max"])


INVALID = [
    (
        lambda: schedules.swalr(0.1, 0.01, anneal_epochs=-1),
        r"swalr: anneal_epochs=-1 is invalid; anneal_epochs must be an integer >= 0",
    ),
    (
        lambda: schedules.swalr(0.1, 0.01, anneal_strategy="exp"),
        r"swalr: anneal_strategy='exp' is invalid; anneal_strategy must be one of 'cos', "
        r"'linear'",
    ),
    (lambda: schedules.swalr(0.1, -0.01), r"swalr: swa_lr=-0\.01 is invalid"),
]


@pytest.mark.parametrize(
    "make, message",
    INVALID,
    ids=[f"{m.split(':')[0].split('.')[-1]}-{i}" for i, (_, m) in enumerate(INVALID)],
)
def test_invalid_configuration_raises(make, message):
    with pytest.raises((TypeError, ValueError), match=message):
        make()


def test_periods_beyond_int32_are_rejected():
    with pytest.raises(ValueError, match=r"swalr: anneal_epochs=2147483648"):
        schedules.swalr(0.1, 0.01, 2**31)


def test_torch_rejects_what_we_reject():
    # The same configurations raise in PyTorch (ours add the call and argument names).
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    for make in (
        lambda: swa_utils.SWALR(opt, 0.01, anneal_epochs=-1),
        lambda: swa_utils.SWALR(opt, 0.01, anneal_strategy="exp"),
    ):
        with pytest.raises(ValueError):
            make()
