"""CyclicLR (jopt/schedules/_cyclic.py): the rate's cycle and its momentum half, against
torch.optim.lr_scheduler as the oracle."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import pytest
from torch.optim import lr_scheduler as tl

import jopt.schedules as schedules
from tests.support import torch_lr

# id -> (torch scheduler factory (opt, base), jopt schedule factory (base), base rate)
CASES = {
    "cyclic_triangular": (
        lambda o, b: tl.CyclicLR(o, base_lr=b, max_lr=0.1, step_size_up=20, cycle_momentum=False),
        lambda b: schedules.cyclic_lr(b, 0.1, step_size_up=20),
        0.001,
    ),
    "cyclic_triangular2": (
        lambda o, b: tl.CyclicLR(
            o,
            b,
            0.5,
            step_size_up=15,
            step_size_down=35,
            mode="triangular2",
            cycle_momentum=False,
        ),
        lambda b: schedules.cyclic_lr(b, 0.5, 15, 35, mode="triangular2"),
        0.01,
    ),
    "cyclic_exp_range": (
        lambda o, b: tl.CyclicLR(
            o, b, 1.0, step_size_up=25, mode="exp_range", gamma=0.99, cycle_momentum=False
        ),
        lambda b: schedules.cyclic_lr(b, 1.0, 25, mode="exp_range", gamma=0.99),
        0.1,
    ),
    "cyclic_down_first": (
        lambda o, b: tl.CyclicLR(
            o, b, 0.01, step_size_up=1, step_size_down=9, cycle_momentum=False
        ),
        lambda b: schedules.cyclic_lr(b, 0.01, 1, 9),
        0.2,
    ),
    "cyclic_scale_fn_cycle": (
        lambda o, b: tl.CyclicLR(
            o, b, 1.0, 10, 15, scale_fn=lambda x: 1 / x**0.5, cycle_momentum=False
        ),
        lambda b: schedules.cyclic_lr(b, 1.0, 10, 15, scale_fn=lambda x: 1 / x**0.5),
        0.1,
    ),
    "cyclic_scale_fn_iterations": (
        lambda o, b: tl.CyclicLR(
            o,
            b,
            0.5,
            step_size_up=30,
            scale_fn=lambda x: 0.995**x,
            scale_mode="iterations",
            cycle_momentum=False,
        ),
        lambda b: schedules.cyclic_lr(
            b, 0.5, 30, scale_fn=lambda x: 0.995**x, scale_mode="iterations"
        ),
        0.01,
    ),
    "cyclic_fractional_triangular2": (
        lambda o, b: tl.CyclicLR(o, b, 0.3, 12.5, 7.25, mode="triangular2", cycle_momentum=False),
        lambda b: schedules.cyclic_lr(b, 0.3, 12.5, 7.25, mode="triangular2"),
        0.02,
    ),
    "cyclic_fractional_exp_range": (
        lambda o, b: tl.CyclicLR(
            o, b, 1.0, 2.5, 3.7, mode="exp_range", gamma=0.997, cycle_momentum=False
        ),
        lambda b: schedules.cyclic_lr(b, 1.0, 2.5, 3.7, mode="exp_range", gamma=0.997),
        0.1,
    ),
}

# id -> (torch scheduler (opt), jopt momentum schedule (f applied to the momenta), Adam?)
MOMENTUM_CASES = {
    "cyclic_triangular_sgd": (
        lambda o: tl.CyclicLR(o, 0.01, 0.1, step_size_up=20),
        lambda f: schedules.cyclic_momentum(f(0.8), f(0.9), 20),
        False,
    ),
    "cyclic_triangular2_adam": (
        lambda o: tl.CyclicLR(
            o, 0.01, 0.1, 15, 35, mode="triangular2", base_momentum=0.85, max_momentum=0.95
        ),
        lambda f: schedules.cyclic_momentum(f(0.85), f(0.95), 15, 35, mode="triangular2"),
        True,
    ),
    "cyclic_exp_range_sgd": (
        lambda o: tl.CyclicLR(o, 0.01, 0.1, 25, mode="exp_range", gamma=0.99),
        lambda f: schedules.cyclic_momentum(f(0.8), f(0.9), 25, mode="exp_range", gamma=0.99),
        False,
    ),
    "cyclic_scale_fn_fractional_adam": (
        lambda o: tl.CyclicLR(
            o,
            0.01,
            0.1,
            7.5,
            12.25,
            scale_fn=lambda x: 0.9**x,
            scale_mode="iterations",
            base_momentum=0.7,
            max_momentum=0.95,
        ),
        lambda f: schedules.cyclic_momentum(
            f(0.7), f(0.95), 7.5, 12.25, scale_fn=lambda x: 0.9**x, scale_mode="iterations"
        ),
        True,
    ),
}


def _torch_cyclic(t, base, peak, up, down, scale=lambda cycle: 1.0, momentum=False):
    """PyTorch's CyclicLR.get_lr, written out in float64."""
    total = up + down
    cycle = math.floor(1 + t / total)
    x = 1.0 + t / total - cycle
    ratio = up / total
    s = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
    if momentum:
        return peak - (peak - base) * s * scale(cycle)
    return base + (peak - base) * s * scale(cycle)


BIG = torch_lr.BIG
# Periods up to int32's max (the cycle beyond it): id -> (schedule, PyTorch's formula)
LARGE = {
    "cyclic_up_1.5e9": (
        lambda: schedules.cyclic_lr(0.1, 1.0, 1_500_000_000),
        lambda t: _torch_cyclic(t, 0.1, 1.0, 1_500_000_000, 1_500_000_000),
    ),
    "cyclic_triangular2_max_up": (
        lambda: schedules.cyclic_lr(0.1, 1.0, BIG, 1, mode="triangular2"),
        lambda t: _torch_cyclic(t, 0.1, 1.0, BIG, 1, lambda c: 1 / 2.0 ** (c - 1)),
    ),
    "cyclic_max_down": (
        lambda: schedules.cyclic_lr(0.1, 1.0, 1, BIG),
        lambda t: _torch_cyclic(t, 0.1, 1.0, 1, BIG),
    ),
    "cyclic_momentum_max": (
        lambda: schedules.cyclic_momentum(0.8, 0.9, BIG, BIG),
        lambda t: _torch_cyclic(t, 0.8, 0.9, BIG, BIG, momentum=True),
    ),
}


@pytest.fixture(scope="session")
def values():
    """Every case of this file, evaluated in one compiled call."""
    return torch_lr.file_values(
        CASES,
        momentum={n: m for n, (_, m, _) in MOMENTUM_CASES.items()},
        large={n: m for n, (m, _) in LARGE.items()},
    )


@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch(name, values):
    torch_make, _, base = CASES[name]
    torch_lr.assert_lockstep(values[f"lockstep/{name}"], torch_make, base)


@pytest.mark.parametrize("name", list(MOMENTUM_CASES))
def test_momentum_matches_torch(name, values):
    torch_make, _, adam = MOMENTUM_CASES[name]
    torch_lr.assert_momentum(values[f"momentum/{name}"], torch_make, adam)


@pytest.mark.parametrize("name", list(LARGE))
def test_large_periods_compute_correctly(name, values):
    torch_lr.assert_large(values[f"large/{name}"], LARGE[name][1])


@pytest.mark.parametrize("name", ["cyclic_up_1.5e9", "cyclic_triangular2_max_up"])
def test_large_periods_without_x64(name):
    torch_lr.assert_large_without_x64(*LARGE[name])


def test_scale_fn_checker_fails_on_a_wrong_scale_fn():
    # The comparison can fail: a scale_fn on the wrong argument (iterations vs cycle).
    want = torch_lr.torch_lrs(
        lambda o, b: tl.CyclicLR(o, b, 1.0, 10, scale_fn=lambda x: 0.9**x, cycle_momentum=False),
        0.1,
        60,
    )
    wrong = schedules.cyclic_lr(0.1, 1.0, 10, scale_fn=lambda x: 0.9**x, scale_mode="iterations")
    with pytest.raises(AssertionError):
        torch_lr.assert_close(jax.jit(jax.vmap(wrong))(jnp.arange(60)), want, jnp.float32)


INVALID = [
    (
        lambda: schedules.cyclic_lr(0.1, 1.0, mode="triangle"),
        r"cyclic_lr: mode='triangle' is invalid; "
        r"mode must be one of 'triangular', 'triangular2', 'exp_range'",
    ),
    (
        lambda: schedules.cyclic_lr(0.1, 1.0, step_size_up=0),
        r"cyclic_lr: step_size_up=0 is invalid",
    ),
    (
        lambda: schedules.cyclic_lr(0.1, 1.0, 10, step_size_down=0),
        r"cyclic_lr: step_size_down=0 is invalid",
    ),
    (lambda: schedules.cyclic_lr(0.1, -1.0), r"cyclic_lr: max_lr=-1\.0 is invalid"),
    (
        lambda: schedules.cyclic_lr(0.1, 1.0, mode="exp_range", gamma=0.0),
        r"cyclic_lr: gamma=0\.0 is invalid; gamma must be in \(0, inf\)",
    ),
    (lambda: schedules.cyclic_lr(0.1, 1.0, 0.0), r"cyclic_lr: step_size_up=0\.0 is invalid"),
    (lambda: schedules.cyclic_lr(0.1, 1.0, 5, -2.5), r"cyclic_lr: step_size_down=-2\.5 is invalid"),
    (
        lambda: schedules.cyclic_lr(0.1, 1.0, scale_fn=0.5),
        r"cyclic_lr: scale_fn=0\.5 is invalid; scale_fn must be a function",
    ),
    (
        lambda: schedules.cyclic_lr(0.1, 1.0, scale_fn=abs, scale_mode="epochs"),
        r"cyclic_lr: scale_mode='epochs' is invalid; scale_mode must be one of 'cycle', "
        r"'iterations'",
    ),
    (
        lambda: schedules.cyclic_momentum(base_momentum=1.5),
        r"cyclic_momentum: base_momentum=1\.5 is invalid; base_momentum must be in \[0, 1\]",
    ),
]


@pytest.mark.parametrize(
    "make, message",
    INVALID,
    ids=[f"{m.split(':')[0].split('.')[-1]}-{i}" for i, (_, m) in enumerate(INVALID)],
)
def test_invalid_configuration_raises(make, message):
    with pytest.raises((TypeError, ValueError), match=message):
        make()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: schedules.cyclic_lr(0.1, 1.0, 2**31), r"cyclic_lr: step_size_up=2147483648"),
        (lambda: schedules.cyclic_momentum(step_size_down=3e9), r"cyclic_momentum: step_size_down"),
    ],
)
def test_periods_beyond_int32_are_rejected(make, message):
    with pytest.raises(ValueError, match=message):
        make()
