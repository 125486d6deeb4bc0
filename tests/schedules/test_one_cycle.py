"""OneCycleLR (jopt/schedules/_one_cycle.py): the 1cycle rate and its momentum half,
against torch.optim.lr_scheduler as the oracle."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as tl

import jopt.schedules as schedules
from tests.support import torch_lr
from tests.support.tolerances import tol

STEPS = torch_lr.STEPS

# id -> (torch scheduler factory (opt, base), jopt schedule factory (base), base rate)
CASES = {
    "one_cycle_cos": (
        lambda o, b: tl.OneCycleLR(o, max_lr=b, total_steps=STEPS, cycle_momentum=False),
        lambda b: schedules.one_cycle_lr(b, total_steps=STEPS),
        0.1,
    ),
    "one_cycle_linear": (
        lambda o, b: tl.OneCycleLR(
            o,
            b,
            total_steps=STEPS,
            anneal_strategy="linear",
            pct_start=0.25,
            cycle_momentum=False,
        ),
        lambda b: schedules.one_cycle_lr(b, STEPS, pct_start=0.25, anneal_strategy="linear"),
        1.0,
    ),
    "one_cycle_three_phase": (
        lambda o, b: tl.OneCycleLR(o, b, total_steps=STEPS, three_phase=True, cycle_momentum=False),
        lambda b: schedules.one_cycle_lr(b, STEPS, three_phase=True),
        0.5,
    ),
    "one_cycle_three_linear": (
        lambda o, b: tl.OneCycleLR(
            o,
            b,
            total_steps=STEPS,
            pct_start=0.123,
            anneal_strategy="linear",
            div_factor=10.0,
            final_div_factor=100.0,
            three_phase=True,
            cycle_momentum=False,
        ),
        lambda b: schedules.one_cycle_lr(
            b, STEPS, 0.123, "linear", div_factor=10.0, final_div_factor=100.0, three_phase=True
        ),
        0.1,
    ),
    "one_cycle_epochs": (
        lambda o, b: tl.OneCycleLR(
            o, b, epochs=8, steps_per_epoch=40, pct_start=0.2, cycle_momentum=False
        ),
        lambda b: schedules.one_cycle_lr(b, pct_start=0.2, epochs=8, steps_per_epoch=40),
        0.3,
    ),
}

# id -> (torch scheduler (opt), jopt momentum schedule (f applied to the momenta), Adam?)
MOMENTUM_CASES = {
    "one_cycle_cos_sgd": (
        lambda o: tl.OneCycleLR(o, 0.1, total_steps=STEPS),
        lambda f: schedules.one_cycle_momentum(STEPS, base_momentum=f(0.85), max_momentum=f(0.95)),
        False,
    ),
    "one_cycle_linear_adam": (
        lambda o: tl.OneCycleLR(
            o,
            0.1,
            total_steps=STEPS,
            pct_start=0.25,
            anneal_strategy="linear",
            base_momentum=0.8,
            max_momentum=0.9,
        ),
        lambda f: schedules.one_cycle_momentum(STEPS, 0.25, "linear", f(0.8), f(0.9)),
        True,
    ),
    "one_cycle_three_phase_epochs_sgd": (
        lambda o: tl.OneCycleLR(o, 0.1, epochs=10, steps_per_epoch=32, three_phase=True),
        lambda f: schedules.one_cycle_momentum(
            base_momentum=f(0.85),
            max_momentum=f(0.95),
            three_phase=True,
            epochs=10,
            steps_per_epoch=32,
        ),
        False,
    ),
}


def _torch_one_cycle(t, max_lr, total, pct=0.3):
    """PyTorch's OneCycleLR (cos, two phases), written out in float64."""
    initial = max_lr / 25.0
    phases = [(pct * total - 1, initial, max_lr), (total - 1, max_lr, initial / 1e4)]
    t, start = min(t, total - 1), 0.0
    for end, s, e in phases:
        if t <= end or end == total - 1:
            pct_done = (t - start) / (end - start)
            return e + (s - e) / 2.0 * (math.cos(math.pi * pct_done) + 1)
        start = end


# The longest cycle (int32's max): id -> (schedule, PyTorch's formula in float64)
LARGE = {
    "one_cycle_max": (
        lambda: schedules.one_cycle_lr(0.1, torch_lr.BIG),
        lambda t: _torch_one_cycle(t, 0.1, torch_lr.BIG),
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


@pytest.mark.parametrize("anneal_strategy", ["cos", "linear"])
@pytest.mark.parametrize("three_phase", [False, True], ids=["two-phase", "three-phase"])
def test_one_cycle_past_total_steps_holds_final_rate(anneal_strategy, three_phase):
    # PyTorch raises on the step after total_steps and, at count == total_steps,
    # extrapolates the last phase (negative in 'linear' mode); jopt holds the final rate
    # from the last step PyTorch runs (total - 1) on, for every count up to int32's max.
    total, max_lr = 100, 0.4
    kw = dict(anneal_strategy=anneal_strategy, three_phase=three_phase)
    want = torch_lr.torch_lrs(
        lambda o, b: tl.OneCycleLR(o, max_lr=b, total_steps=total, cycle_momentum=False, **kw),
        max_lr,
        steps=total,
    )
    sched = schedules.one_cycle_lr(max_lr, total_steps=total, **kw)
    counts = jnp.asarray([total - 1, total, total + 1, 10 * total, 2**31 - 1], jnp.int32)
    got = jax.jit(lambda c: jax.lax.map(sched, c))(counts)  # each count a traced scalar
    final = max_lr / 25.0 / 1e4
    torch_lr.assert_close(got[0], want[-1])
    torch_lr.assert_close(want[-1], final)
    np.testing.assert_allclose(got[1:], final, rtol=tol("schedule"))


def test_readme_cycling_snippet_runs():
    scope: dict = {}
    exec(compile(torch_lr.readme_block("one_cycle_momentum(1000)"), "README.md", "exec"), scope)
    for tx in (scope["sgd"], scope["adam"]):
        state = tx.init(jnp.zeros(2))
        updates, state = tx.update(jnp.ones(2), state, jnp.zeros(2))
        assert updates.shape == (2,)


INVALID = [
    (
        lambda: schedules.one_cycle_lr(0.1, 100, pct_start=0.0),
        r"one_cycle_lr: pct_start=0\.0 is invalid; pct_start must be in \(0, 1\)",
    ),
    (
        lambda: schedules.one_cycle_lr(0.1, 100, pct_start=1.0),
        r"one_cycle_lr: pct_start=1\.0 is invalid",
    ),
    (
        lambda: schedules.one_cycle_lr(0.1, 0),
        r"one_cycle_lr: total_steps=0 is invalid; total_steps must be an integer >= 1",
    ),
    (
        lambda: schedules.one_cycle_lr(0.1, 100, anneal_strategy="exp"),
        r"one_cycle_lr: anneal_strategy='exp' is invalid; "
        r"anneal_strategy must be one of 'cos', 'linear'",
    ),
    (
        lambda: schedules.one_cycle_lr(0.1, 100, div_factor=0.0),
        r"one_cycle_lr: div_factor=0\.0 is invalid",
    ),
    (
        lambda: schedules.one_cycle_lr(0.1, 100, final_div_factor=-1.0),
        r"one_cycle_lr: final_div_factor=-1\.0 is invalid",
    ),
    (
        lambda: schedules.one_cycle_lr(0.1, 10, pct_start=0.05),
        r"one_cycle_lr: pct_start=0\.05 is invalid with total_steps=10; "
        r"pct_start \* total_steps must be > 1",
    ),
    (
        lambda: schedules.one_cycle_lr(0.1, 10, pct_start=0.6, three_phase=True),
        r"one_cycle_lr: pct_start=0\.6 is invalid with total_steps=10 and three_phase=True",
    ),
    (
        lambda: schedules.one_cycle_lr(0.1),
        r"one_cycle_lr: total_steps is None and epochs=None, steps_per_epoch=None; give "
        r"total_steps OR \(epochs AND steps_per_epoch\)",
    ),
    (
        lambda: schedules.one_cycle_lr(0.1, epochs=3),
        r"one_cycle_lr: total_steps is None and epochs=3, steps_per_epoch=None",
    ),
    (
        lambda: schedules.one_cycle_lr(0.1, 100, epochs=4, steps_per_epoch=25),
        r"one_cycle_lr: total_steps=100 and epochs=4, steps_per_epoch=25 are both given",
    ),
    (
        lambda: schedules.one_cycle_lr(0.1, epochs=0, steps_per_epoch=25),
        r"one_cycle_lr: epochs=0 is invalid; epochs must be an integer >= 1",
    ),
    (
        lambda: schedules.one_cycle_lr(0.1, 100, three_phase=1),
        r"one_cycle_lr: three_phase=1 is invalid; three_phase must be True or False",
    ),
    (
        lambda: schedules.one_cycle_momentum(100, max_momentum=-0.1),
        r"one_cycle_momentum: max_momentum=-0\.1 is invalid",
    ),
    (
        lambda: schedules.one_cycle_momentum(10, pct_start=0.05),
        r"one_cycle_momentum: pct_start=0\.05 is invalid with total_steps=10",
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


def test_periods_beyond_int32_are_rejected():
    with pytest.raises(
        ValueError, match=r"one_cycle_lr: epochs \* steps_per_epoch = 4294967296 is invalid"
    ):
        schedules.one_cycle_lr(0.1, epochs=2**16, steps_per_epoch=2**16)


def test_torch_rejects_what_we_reject():
    # The same configurations raise in PyTorch (ours add the call and argument names).
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    for make in (
        lambda: tl.OneCycleLR(opt, 0.1),
        lambda: tl.OneCycleLR(opt, 0.1, epochs=0, steps_per_epoch=25),
    ):
        with pytest.raises(ValueError):
            make()
