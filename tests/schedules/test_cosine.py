"""Cosine annealing (jopt/schedules/_cosine.py): CosineAnnealingLR and
CosineAnnealingWarmRestarts, against torch.optim.lr_scheduler as the oracle."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from torch.optim import lr_scheduler as tl

import jopt.schedules as schedules
from jopt import scale_by_learning_rate
from tests.support import torch_lr
from tests.support.tolerances import tol

STEPS = torch_lr.STEPS

# id -> (torch scheduler factory (opt, base), jopt schedule factory (base), base rate)
CASES = {
    "cosine_100": (
        lambda o, b: tl.CosineAnnealingLR(o, T_max=100),
        lambda b: schedules.cosine_annealing_lr(b, t_max=100),
        0.1,
    ),
    "cosine_50_eta": (
        lambda o, b: tl.CosineAnnealingLR(o, T_max=50, eta_min=1e-3),
        lambda b: schedules.cosine_annealing_lr(b, 50, eta_min=1e-3),
        0.5,
    ),
    "cosine_7": (
        lambda o, b: tl.CosineAnnealingLR(o, T_max=7),
        lambda b: schedules.cosine_annealing_lr(b, 7),
        1.0,
    ),
    "cosine_full": (
        lambda o, b: tl.CosineAnnealingLR(o, T_max=STEPS, eta_min=0.01),
        lambda b: schedules.cosine_annealing_lr(b, STEPS, 0.01),
        0.1,
    ),
    "warm_restarts_10": (
        lambda o, b: tl.CosineAnnealingWarmRestarts(o, T_0=10),
        lambda b: schedules.cosine_annealing_warm_restarts(b, t_0=10),
        0.1,
    ),
    "warm_restarts_10x2": (
        lambda o, b: tl.CosineAnnealingWarmRestarts(o, T_0=10, T_mult=2),
        lambda b: schedules.cosine_annealing_warm_restarts(b, 10, t_mult=2),
        0.5,
    ),
    "warm_restarts_5x3_eta": (
        lambda o, b: tl.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=3, eta_min=1e-4),
        lambda b: schedules.cosine_annealing_warm_restarts(b, 5, 3, eta_min=1e-4),
        1.0,
    ),
    "warm_restarts_1x2": (
        lambda o, b: tl.CosineAnnealingWarmRestarts(o, T_0=1, T_mult=2),
        lambda b: schedules.cosine_annealing_warm_restarts(b, 1, 2),
        0.1,
    ),
}

# Real counts: id -> (torch scheduler (opt), jopt schedule (f applied to the base rate 0.1))
FRACTIONAL = {
    "warm_restarts_t_mult2": (
        lambda o: tl.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2),
        lambda f: schedules.cosine_annealing_warm_restarts(f(0.1), 3, 2),
    ),
    "warm_restarts_eta_min": (
        lambda o: tl.CosineAnnealingWarmRestarts(o, T_0=5, eta_min=1e-3),
        lambda f: schedules.cosine_annealing_warm_restarts(f(0.1), 5, eta_min=1e-3),
    ),
    "warm_restarts_t_mult3": (  # torch's log misplaces restarts only from cycle 5 (epoch 121)
        lambda o: tl.CosineAnnealingWarmRestarts(o, T_0=1, T_mult=3),
        lambda f: schedules.cosine_annealing_warm_restarts(f(0.1), 1, 3),
    ),
    "cosine": (
        lambda o: tl.CosineAnnealingLR(o, T_max=17, eta_min=0.01),
        lambda f: schedules.cosine_annealing_lr(f(0.1), 17, 0.01),
    ),
}


def _cos(base, t_cur, t_i, eta=0.0):
    return eta + (base - eta) * (1 + math.cos(math.pi * t_cur / t_i)) / 2


def _restarts(base, t, t_0, t_mult):
    start, length = 0, t_0
    while t >= start + length:
        start, length = start + length, length * t_mult
    return _cos(base, t - start, length)


BIG = torch_lr.BIG
# Periods up to int32's max: id -> (schedule, PyTorch's formula in float64)
LARGE = {
    "cosine_1.5e9": (
        lambda: schedules.cosine_annealing_lr(0.1, 1_500_000_000),
        lambda t: _cos(0.1, t, 1_500_000_000),
    ),
    "cosine_max": (
        lambda: schedules.cosine_annealing_lr(0.1, BIG, eta_min=0.01),
        lambda t: _cos(0.1, t, BIG, 0.01),
    ),
    "warm_restarts_max_t_mult2": (
        lambda: schedules.cosine_annealing_warm_restarts(0.1, BIG, 2),
        lambda t: _restarts(0.1, t, BIG, 2),
    ),
}


def _per_batch(x):
    """The README's per-batch SGDR (7 updates per epoch)."""
    scope = {"iters_per_epoch": torch_lr.ITERS}
    exec(compile(torch_lr.readme_block("per_batch"), "README.md", "exec"), scope)
    return jax.vmap(scope["per_batch"])(x["fractional"])


@pytest.fixture(scope="session")
def values():
    """Every case of this file, evaluated in one compiled call."""
    # The README's k / iters_per_epoch: JAX divides an int32 count into a float32 one (the
    # division done eagerly: fused into the compiled call, XLA rounds it otherwise).
    sched = FRACTIONAL["warm_restarts_t_mult2"][1](float)
    k = jnp.arange(torch_lr.ITERS * torch_lr.EPOCHS, dtype=jnp.int32)
    float32_counts = k / torch_lr.ITERS
    assert float32_counts.dtype == jnp.float32
    return torch_lr.file_values(
        CASES,
        fractional={n: m for n, (_, m) in FRACTIONAL.items()},
        large={n: m for n, (m, _) in LARGE.items()},
        extra={
            "readme/per_batch": _per_batch,
            "readme/float32_count": lambda x: jax.vmap(sched)(x["float32_counts"]),
        },
        extra_inputs={"float32_counts": float32_counts},
    )


@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch(name, values):
    torch_make, _, base = CASES[name]
    torch_lr.assert_lockstep(values[f"lockstep/{name}"], torch_make, base)


@pytest.mark.parametrize("name", list(FRACTIONAL))
def test_fractional_counts_match_torch_epoch_stepping(name, values):
    torch_make, _ = FRACTIONAL[name]
    want = torch_lr.assert_fractional(values[f"fractional/{name}"], torch_make)
    if name == "warm_restarts_t_mult2":  # the README's spelling, a float32 count
        torch_lr.assert_close(values["readme/float32_count"], want, np.float32)


def test_readme_per_batch_snippet_matches_torch(values):
    want = torch_lr.torch_fractional(
        lambda o: tl.CosineAnnealingWarmRestarts(o, T_0=10, T_mult=2),
        0.1,
        torch_lr.ITERS,
        torch_lr.EPOCHS,
        before=True,
    )
    torch_lr.assert_close(values["readme/per_batch"], want)


@pytest.mark.parametrize("name", list(LARGE))
def test_large_periods_compute_correctly(name, values):
    torch_lr.assert_large(values[f"large/{name}"], LARGE[name][1])


def test_large_periods_without_x64():
    torch_lr.assert_large_without_x64(*LARGE["cosine_1.5e9"])


def test_as_jopt_learning_rate_matches_torch_lrs():
    want = torch_lr.torch_lrs(
        lambda o, b: tl.CosineAnnealingWarmRestarts(o, T_0=4, T_mult=2), 0.3, 30
    )
    tx = scale_by_learning_rate(schedules.cosine_annealing_warm_restarts(0.3, 4, 2))
    state = tx.init(jnp.zeros(2, jnp.float32))
    step = jax.jit(tx.update)
    for k in range(30):
        updates, state = step(jnp.ones(2, jnp.float32), state)
        np.testing.assert_allclose(updates, -want[k] * np.ones(2), rtol=tol("schedule", np.float32))
        assert updates.dtype == jnp.float32


INVALID = [
    (
        lambda: schedules.cosine_annealing_lr(0.1, t_max=0),
        r"cosine_annealing_lr: t_max=0 is invalid; t_max must be an integer >= 1",
    ),
    (
        lambda: schedules.cosine_annealing_lr(0.1, t_max=-3),
        r"cosine_annealing_lr: t_max=-3 is invalid",
    ),
    (
        lambda: schedules.cosine_annealing_lr(0.1, 10, eta_min=-1.0),
        r"cosine_annealing_lr: eta_min=-1\.0 is invalid",
    ),
    (
        lambda: schedules.cosine_annealing_warm_restarts(0.1, t_0=0),
        r"cosine_annealing_warm_restarts: t_0=0 is invalid",
    ),
    (
        lambda: schedules.cosine_annealing_warm_restarts(0.1, 10, t_mult=0),
        r"cosine_annealing_warm_restarts: t_mult=0 is invalid",
    ),
    (
        lambda: schedules.cosine_annealing_warm_restarts(0.1, 10, t_mult=1.5),
        r"t_mult=1\.5 is invalid; t_mult must be an integer >= 1",
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
    with pytest.raises(ValueError, match=r"cosine_annealing_lr: t_max=2147483648"):
        schedules.cosine_annealing_lr(0.1, 2**31)
