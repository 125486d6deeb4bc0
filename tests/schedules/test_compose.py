"""Schedules built from schedules (jopt/schedules/_compose.py): SequentialLR and
ChainedScheduler, against torch.optim.lr_scheduler as the oracle."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from torch.optim import lr_scheduler as tl

import jopt.schedules as schedules
from tests.support import torch_lr
from tests.support.tolerances import tol

STEPS = torch_lr.STEPS


def _seq_torch(opt, b):
    return tl.SequentialLR(
        opt,
        [tl.LinearLR(opt, start_factor=0.1, total_iters=10), tl.CosineAnnealingLR(opt, T_max=300)],
        milestones=[10],
    )


# id -> (torch scheduler factory (opt, base), jopt schedule factory (base), base rate)
CASES = {
    "sequential_warmup_cosine": (
        _seq_torch,
        lambda b: schedules.sequential_lr(
            [
                schedules.linear_lr(b, start_factor=0.1, total_iters=10),
                schedules.cosine_annealing_lr(b, 300),
            ],
            milestones=[10],
        ),
        0.1,
    ),
    "sequential_constant_exp": (
        lambda o, b: tl.SequentialLR(
            o,
            [tl.ConstantLR(o, factor=0.1, total_iters=20), tl.ExponentialLR(o, gamma=0.99)],
            milestones=[20],
        ),
        lambda b: schedules.sequential_lr(
            [schedules.constant_lr(b, 0.1, 20), schedules.exponential_lr(b, 0.99)], [20]
        ),
        0.05,
    ),
    "sequential_three": (
        lambda o, b: tl.SequentialLR(
            o,
            [
                tl.LinearLR(o, start_factor=0.2, total_iters=5),
                tl.StepLR(o, 30, gamma=0.5),
                tl.CosineAnnealingWarmRestarts(o, T_0=20, T_mult=2),
            ],
            milestones=[5, 100],
        ),
        lambda b: schedules.sequential_lr(
            [
                schedules.linear_lr(b, 0.2, total_iters=5),
                schedules.step_lr(b, 30, 0.5),
                schedules.cosine_annealing_warm_restarts(b, 20, 2),
            ],
            [5, 100],
        ),
        0.3,
    ),
    "sequential_lambda_poly": (
        lambda o, b: tl.SequentialLR(
            o,
            [
                tl.ExponentialLR(o, gamma=0.9),
                tl.LambdaLR(o, lambda e: 1 / (1 + e)),
                tl.PolynomialLR(o, total_iters=100, power=2.0),
            ],
            milestones=[15, 150],
        ),
        lambda b: schedules.sequential_lr(
            [
                schedules.exponential_lr(b, 0.9),
                schedules.lambda_lr(b, lambda k: 1.0 / (1.0 + k.astype(float))),
                schedules.polynomial_lr(b, 100, 2.0),
            ],
            [15, 150],
        ),
        1.0,
    ),
    "chained_step_exp": (
        lambda o, b: tl.ChainedScheduler([tl.StepLR(o, 30, gamma=0.5), tl.ExponentialLR(o, 0.99)]),
        lambda b: schedules.chained_lr(
            b, schedules.step_lr(1.0, 30, 0.5), schedules.exponential_lr(1.0, 0.99)
        ),
        0.1,
    ),
    "chained_constant_exp": (
        lambda o, b: tl.ChainedScheduler(
            [tl.ConstantLR(o, factor=0.1, total_iters=20), tl.ExponentialLR(o, gamma=0.95)]
        ),
        lambda b: schedules.chained_lr(
            b, schedules.constant_lr(1.0, 0.1, 20), schedules.exponential_lr(1.0, 0.95)
        ),
        0.05,
    ),
    "chained_multistep_linear_poly": (
        lambda o, b: tl.ChainedScheduler(
            [
                tl.MultiStepLR(o, [40, 90], 0.3),
                tl.LinearLR(o, 0.1, 1.0, 25),
                tl.PolynomialLR(o, total_iters=400, power=0.7),
            ]
        ),
        lambda b: schedules.chained_lr(
            b,
            schedules.multi_step_lr(1.0, [40, 90], 0.3),
            schedules.linear_lr(1.0, 0.1, 1.0, 25),
            schedules.polynomial_lr(1.0, 400, 0.7),
        ),
        1.0,
    ),
    "chained_cosine_mult": (
        lambda o, b: tl.ChainedScheduler(
            [tl.CosineAnnealingLR(o, T_max=STEPS), tl.MultiplicativeLR(o, lambda e: 0.999)]
        ),
        lambda b: schedules.chained_lr(
            b,
            schedules.cosine_annealing_lr(1.0, STEPS),
            schedules.multiplicative_lr(1.0, lambda k: 0.999),
        ),
        0.2,
    ),
}

BIG = torch_lr.BIG
# A milestone at int32's max: id -> (schedule, PyTorch's formula in float64)
LARGE = {
    "sequential_max": (
        lambda: schedules.sequential_lr(
            [schedules.constant_lr(0.1, 0.5, BIG), schedules.step_lr(0.1, 1, 0.5)], [BIG]
        ),
        lambda t: 0.05 if t < BIG else 0.1 * 0.5 ** (t - BIG),
    ),
}


def _restarted():
    """A MultiplicativeLR after another schedule (counts 10 to 39 are its 0 to 29)."""
    mult = schedules.multiplicative_lr(0.1, lambda k: 0.9)
    return schedules.sequential_lr([schedules.constant_lr(0.1, 0.5, 10), mult], [10])


@pytest.fixture(scope="session")
def values():
    """Every case of this file, evaluated in one compiled call."""
    return torch_lr.file_values(
        CASES,
        large={n: m for n, (m, _) in LARGE.items()},
        extra={"restart": lambda x: jax.vmap(_restarted())(x["counts"][10:40])},
    )


@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch(name, values):
    torch_make, _, base = CASES[name]
    torch_lr.assert_lockstep(values[f"lockstep/{name}"], torch_make, base)


@pytest.mark.parametrize("name", list(LARGE))
def test_large_periods_compute_correctly(name, values):
    torch_lr.assert_large(values[f"large/{name}"], LARGE[name][1])


def test_sequential_restarts_multiplicative_from_its_base(values):
    # Documented difference: torch would continue from the previous schedule's last rate.
    np.testing.assert_allclose(values["restart"], 0.1 * 0.9 ** np.arange(30), rtol=tol("schedule"))


INVALID = [
    (
        lambda: schedules.sequential_lr([schedules.step_lr(0.1, 2)] * 3, [10, 5]),
        r"sequential_lr: milestones=\[10, 5\] is invalid; milestones must be strictly increasing",
    ),
    (
        lambda: schedules.sequential_lr([schedules.step_lr(0.1, 2)] * 3, [5, 5]),
        r"sequential_lr: milestones=\[5, 5\] is invalid; milestones must be strictly increasing",
    ),
    (
        lambda: schedules.sequential_lr([schedules.step_lr(0.1, 2)] * 2, [5, 6]),
        r"sequential_lr: milestones=\[5, 6\] is invalid with 2 schedules; "
        r"there must be exactly one milestone fewer",
    ),
    (
        lambda: schedules.sequential_lr([], []),
        r"sequential_lr: schedules has 0 entries, which is invalid",
    ),
    (
        lambda: schedules.sequential_lr([0.1, 0.2], [3]),
        r"sequential_lr: schedules\[0\]=0\.1 is invalid; schedules\[0\] must be a schedule",
    ),
    (
        lambda: schedules.chained_lr(0.1),
        r"chained_lr: factors has 0 entries, which is invalid; factors must have at least 1",
    ),
    (lambda: schedules.chained_lr(0.1, 0.5), r"chained_lr: factors\[0\]=0\.5 is invalid"),
]


@pytest.mark.parametrize(
    "make, message",
    INVALID,
    ids=[f"{m.split(':')[0].split('.')[-1]}-{i}" for i, (_, m) in enumerate(INVALID)],
)
def test_invalid_configuration_raises(make, message):
    with pytest.raises((TypeError, ValueError), match=message):
        make()
