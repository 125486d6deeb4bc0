"""jopt.schedules against torch.optim.lr_scheduler (torch 2.13, CPU) as the oracle.

Every case runs a real PyTorch scheduler for >= 300 steps under
``opt.step(); sched.step()`` and records the lr each optimizer step used; the jopt
schedule, jitted and vmapped over counts (and over its base rate), must give the same
numbers: to 1e-9 in float64 and 1e-5 (relative) in float32.
"""

from __future__ import annotations

import importlib.util
import math
import re
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from torch.optim import lr_scheduler as tl
from torch.optim import swa_utils

import jopt
import jopt.compat.keras.schedules as keras_schedules
import jopt.schedules as schedules
from jopt import scale_by_learning_rate

STEPS = 320


def torch_lrs(make, base: float, steps: int = STEPS) -> np.ndarray:
    """The lr of each of ``steps`` optimizer steps under ``opt.step(); sched.step()``."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base)
    sched = make(opt, base)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.asarray(lrs, np.float64)


def _seq_torch(opt, b):
    return tl.SequentialLR(
        opt,
        [tl.LinearLR(opt, start_factor=0.1, total_iters=10), tl.CosineAnnealingLR(opt, T_max=300)],
        milestones=[10],
    )


# id -> (torch scheduler factory (opt, base), jopt schedule factory (base), base rate)
CASES = {
    "lambda_pow": (
        lambda o, b: tl.LambdaLR(o, lambda e: 0.95**e),
        lambda b: schedules.lambda_lr(b, lambda k: 0.95 ** k.astype(float)),
        0.1,
    ),
    "lambda_warmup_decay": (
        lambda o, b: tl.LambdaLR(o, lambda e: (e + 1) / 10 if e < 10 else 0.98 ** (e - 10)),
        lambda b: schedules.lambda_lr(
            b,
            lambda k: jnp.where(
                k < 10, (k + 1).astype(float) / 10, 0.98 ** jnp.maximum(k - 10, 0).astype(float)
            ),
        ),
        0.5,
    ),
    "multiplicative_const": (
        lambda o, b: tl.MultiplicativeLR(o, lambda e: 0.99),
        lambda b: schedules.multiplicative_lr(b, lambda k: 0.99),
        0.1,
    ),
    "multiplicative_every10": (
        lambda o, b: tl.MultiplicativeLR(o, lambda e: 0.9 if e % 10 == 0 else 1.0),
        lambda b: schedules.multiplicative_lr(b, lambda k: jnp.where(k % 10 == 0, 0.9, 1.0)),
        1.0,
    ),
    "multiplicative_varying": (
        lambda o, b: tl.MultiplicativeLR(o, lambda e: 1.0 - 0.003 * (e % 5)),
        lambda b: schedules.multiplicative_lr(b, lambda k: 1.0 - 0.003 * (k % 5).astype(float)),
        0.3,
    ),
    "step_30": (
        lambda o, b: tl.StepLR(o, step_size=30),
        lambda b: schedules.step_lr(b, step_size=30),
        0.1,
    ),
    "step_7_half": (
        lambda o, b: tl.StepLR(o, step_size=7, gamma=0.5),
        lambda b: schedules.step_lr(b, 7, gamma=0.5),
        1.0,
    ),
    "step_1": (
        lambda o, b: tl.StepLR(o, step_size=1, gamma=0.97),
        lambda b: schedules.step_lr(b, 1, 0.97),
        0.2,
    ),
    "multi_step": (
        lambda o, b: tl.MultiStepLR(o, milestones=[30, 80]),
        lambda b: schedules.multi_step_lr(b, [30, 80]),
        0.1,
    ),
    "multi_step_repeat": (
        lambda o, b: tl.MultiStepLR(o, milestones=[50, 50, 120, 290], gamma=0.5),
        lambda b: schedules.multi_step_lr(b, [50, 50, 120, 290], gamma=0.5),
        1.0,
    ),
    "multi_step_unsorted": (
        lambda o, b: tl.MultiStepLR(o, milestones=[200, 10], gamma=0.3),
        lambda b: schedules.multi_step_lr(b, [200, 10], gamma=0.3),
        0.05,
    ),
    "constant_default": (
        lambda o, b: tl.ConstantLR(o),
        lambda b: schedules.constant_lr(b),
        0.1,
    ),
    "constant_half_100": (
        lambda o, b: tl.ConstantLR(o, factor=0.5, total_iters=100),
        lambda b: schedules.constant_lr(b, factor=0.5, total_iters=100),
        0.3,
    ),
    "linear_default": (
        lambda o, b: tl.LinearLR(o),
        lambda b: schedules.linear_lr(b),
        0.1,
    ),
    "linear_warmup_50": (
        lambda o, b: tl.LinearLR(o, start_factor=0.01, end_factor=1.0, total_iters=50),
        lambda b: schedules.linear_lr(b, start_factor=0.01, end_factor=1.0, total_iters=50),
        0.5,
    ),
    "linear_to_zero": (
        lambda o, b: tl.LinearLR(o, start_factor=1.0, end_factor=0.0, total_iters=200),
        lambda b: schedules.linear_lr(b, start_factor=1.0, end_factor=0.0, total_iters=200),
        0.1,
    ),
    "linear_down_long": (
        lambda o, b: tl.LinearLR(o, start_factor=0.5, end_factor=0.25, total_iters=400),
        lambda b: schedules.linear_lr(b, 0.5, 0.25, 400),
        1.0,
    ),
    "exponential_099": (
        lambda o, b: tl.ExponentialLR(o, gamma=0.99),
        lambda b: schedules.exponential_lr(b, 0.99),
        0.1,
    ),
    "exponential_095": (
        lambda o, b: tl.ExponentialLR(o, gamma=0.95),
        lambda b: schedules.exponential_lr(b, gamma=0.95),
        1.0,
    ),
    "polynomial_default": (
        lambda o, b: tl.PolynomialLR(o),
        lambda b: schedules.polynomial_lr(b),
        0.1,
    ),
    "polynomial_sq_100": (
        lambda o, b: tl.PolynomialLR(o, total_iters=100, power=2.0),
        lambda b: schedules.polynomial_lr(b, total_iters=100, power=2.0),
        0.5,
    ),
    "polynomial_sqrt_250": (
        lambda o, b: tl.PolynomialLR(o, total_iters=250, power=0.5),
        lambda b: schedules.polynomial_lr(b, 250, 0.5),
        1.0,
    ),
    "polynomial_long": (
        lambda o, b: tl.PolynomialLR(o, total_iters=400, power=1.5),
        lambda b: schedules.polynomial_lr(b, 400, 1.5),
        0.1,
    ),
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
    "inverse_time": (
        lambda o, b: tl.LambdaLR(o, lambda e: 1 / (1 + 0.01 * e)),
        lambda b: schedules.inverse_time_decay(b, decay=0.01),
        0.1,
    ),
    "inverse_time_fast": (
        lambda o, b: tl.LambdaLR(o, lambda e: 1 / (1 + 0.5 * e)),
        lambda b: schedules.inverse_time_decay(b, 0.5),
        1.0,
    ),
}


# ---- every option of issue 14: CyclicLR scale_fn / scale_mode / fractional step sizes,
# OneCycleLR epochs * steps_per_epoch, SWALR alone and after another scheduler.


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


CASES.update(
    {
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
            lambda o, b: tl.CyclicLR(
                o, b, 0.3, 12.5, 7.25, mode="triangular2", cycle_momentum=False
            ),
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
        "one_cycle_epochs": (
            lambda o, b: tl.OneCycleLR(
                o, b, epochs=8, steps_per_epoch=40, pct_start=0.2, cycle_momentum=False
            ),
            lambda b: schedules.one_cycle_lr(b, pct_start=0.2, epochs=8, steps_per_epoch=40),
            0.3,
        ),
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
)


def _close(got, want, rtol):
    # Relative error; the absolute floor only admits exact zeros (cosine troughs).
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=rtol, atol=1e-30)


@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch(name):
    torch_make, jopt_make, base = CASES[name]
    counts = jnp.arange(STEPS, dtype=jnp.int32)
    bases = (base, base / 4)
    want = [torch_lrs(torch_make, b) for b in bases]

    # float64, jit + vmap over counts and over the base rate (traced inside the factory).
    batched = jax.jit(jax.vmap(lambda b: jax.vmap(jopt_make(b))(counts)))
    got = batched(jnp.asarray(bases, jnp.float64))
    assert got.dtype == jnp.float64
    for g, w in zip(got, want, strict=True):
        _close(g, w, 1e-9)

    # float32: a float32 base rate makes the whole computation float32.
    sched = jopt_make(jnp.float32(base))
    got32 = jax.jit(jax.vmap(sched))(counts)
    assert got32.dtype == jnp.float32
    _close(got32, want[0], 1e-5)

    # Scalar traced count under jit: no Python branching on the count.
    scalar = jax.jit(jopt_make(base))
    for k in (0, 1, 57, STEPS - 1):
        _close(scalar(jnp.int32(k)), want[0][k], 1e-9)


def test_inverse_time_decay_matches_keras():
    import keras

    decay, base = 0.02, 0.1
    oracle = keras.optimizers.schedules.InverseTimeDecay(base, decay_steps=1, decay_rate=decay)
    want = np.asarray([float(oracle(k)) for k in range(0, STEPS, 7)])
    got = jax.vmap(schedules.inverse_time_decay(base, decay))(jnp.arange(0, STEPS, 7))
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6)  # Keras computes in float32


@pytest.mark.parametrize("anneal_strategy", ["cos", "linear"])
@pytest.mark.parametrize("three_phase", [False, True], ids=["two-phase", "three-phase"])
def test_one_cycle_past_total_steps_holds_final_rate(anneal_strategy, three_phase):
    # PyTorch raises on the step after total_steps and, at count == total_steps,
    # extrapolates the last phase (negative in 'linear' mode); jopt holds the final rate
    # from the last step PyTorch runs (total - 1) on, for every count up to int32's max.
    total, max_lr = 100, 0.4
    kw = dict(anneal_strategy=anneal_strategy, three_phase=three_phase)
    want = torch_lrs(
        lambda o, b: tl.OneCycleLR(o, max_lr=b, total_steps=total, cycle_momentum=False, **kw),
        max_lr,
        steps=total,
    )
    sched = jax.jit(schedules.one_cycle_lr(max_lr, total_steps=total, **kw))
    final = max_lr / 25.0 / 1e4
    np.testing.assert_allclose(float(sched(jnp.int32(total - 1))), want[-1], rtol=1e-9)
    np.testing.assert_allclose(want[-1], final, rtol=1e-9)
    for k in (total, total + 1, 10 * total, 2**31 - 1):
        assert float(sched(jnp.int32(k))) == pytest.approx(final, rel=1e-12)


def _counted_factor(calls):
    """A MultiplicativeLR factor that records every evaluation (at run time, under jit)."""

    def factor(k):
        jax.debug.callback(lambda k: calls.append(int(k)), k)
        return jnp.where(k % 3 == 0, 0.5, 0.99)

    return factor


@pytest.mark.parametrize("base", [0.1, np.float32(0.1)], ids=["float64", "float32"])
def test_multiplicative_lr_costs_one_factor_call_per_update(base):
    # Issue 18: the rate was a product over 1..count at every update, O(count) (3.6 ms at
    # count 1e6). As PyTorch's, a jopt optimizer now advances it from the last rate: one
    # factor call per update, no loop, the same rates as the schedule called pointwise.
    calls, steps = [], 40
    sched = schedules.multiplicative_lr(jnp.asarray(base), _counted_factor(calls))
    # The rates pointwise (a loop over 1..k each), for the comparison only: not counted.
    plain = schedules.multiplicative_lr(
        jnp.asarray(base), lambda k: jnp.where(k % 3 == 0, 0.5, 0.99)
    )
    want = jax.jit(jax.vmap(plain))(jnp.arange(steps, dtype=jnp.int32))
    for tx in (scale_by_learning_rate(sched), jopt.adam(sched, eps=0.0)):
        state = tx.init(jnp.zeros(2, jnp.float32))
        update = jax.jit(tx.update)
        jaxpr = str(jax.make_jaxpr(tx.update)(jnp.ones(2, jnp.float32), state))
        assert "while" not in jaxpr  # no loop over the count in the step
        jax.effects_barrier()
        calls.clear()
        rates = []
        for _ in range(steps):
            _, state = update(jnp.ones(2, jnp.float32), state)
            rates.append(jopt.get_learning_rate(state))
        jax.effects_barrier()
        assert len(calls) == steps  # was 0 + 1 + ... + 39 = 780
        np.testing.assert_array_equal(np.asarray(rates), np.asarray(want, np.float64))
    # The pointwise schedule still evaluates the product: count calls.
    calls.clear()
    sched(jnp.int32(7))
    jax.effects_barrier()
    assert sorted(calls) == list(range(1, 8))


def test_multiplicative_lr_in_an_optimizer_matches_torch():
    # The recurrence multiplies as PyTorch does (lr * lr_lambda(k)): float64 rates equal.
    want = torch_lrs(lambda o, b: tl.MultiplicativeLR(o, lambda e: 1.0 - 0.003 * (e % 5)), 0.3)
    sched = schedules.multiplicative_lr(0.3, lambda k: 1.0 - 0.003 * (k % 5).astype(float))
    tx = scale_by_learning_rate(sched)
    state = tx.init(jnp.zeros(1))
    update = jax.jit(tx.update)
    got = []
    for _ in range(STEPS):
        _, state = update(jnp.ones(1), state)
        got.append(float(jopt.get_learning_rate(state)))
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_count_errors_name_the_schedule_that_refused():
    # Helpers raise unnamed errors; the public schedule names them: alone, under jit,
    # and nested inside another schedule (the innermost public one that refused).
    mult = schedules.multiplicative_lr(0.1, lambda k: 0.5)
    refused = r"^jopt\.schedules\.multiplicative_lr: count must be an integer array"
    for sched in (mult, jax.jit(mult)):
        with pytest.raises(TypeError, match=refused) as info:
            sched(jnp.float32(3.0))
        assert type(info.value) is TypeError
    nested = (
        schedules.sequential_lr([schedules.constant_lr(0.1), mult], [3]),
        schedules.chained_lr(0.1, mult),
    )
    for sched in nested:
        with pytest.raises(TypeError, match=refused):
            jax.jit(sched)(jnp.float32(4.0))
    for sched, call in [
        (schedules.chained_lr(0.1, mult), r"jopt\.schedules\.chained_lr"),
        (schedules.sequential_lr([mult], []), r"jopt\.schedules\.sequential_lr"),
        (schedules.inverse_time_decay(0.1, 0.5), r"jopt\.schedules\.inverse_time_decay"),
        (
            keras_schedules.InverseTimeDecay(0.1, 10, 0.5),
            r"jopt\.compat\.keras\.schedules\.InverseTimeDecay",
        ),
    ]:
        with pytest.raises(TypeError, match=rf"^{call}: count must be an integer or real array"):
            jax.jit(sched)(jnp.bool_(True))


def test_sequential_restarts_multiplicative_from_its_base():
    # Documented difference: torch would continue from the previous schedule's last rate.
    mult = schedules.multiplicative_lr(0.1, lambda k: 0.9)
    sched = schedules.sequential_lr([schedules.constant_lr(0.1, 0.5, 10), mult], [10])
    got = jax.vmap(sched)(jnp.arange(10, 40))
    np.testing.assert_allclose(got, 0.1 * 0.9 ** np.arange(30), rtol=1e-12)


def test_dtypes():
    counts = jnp.arange(5, dtype=jnp.int32)
    assert schedules.step_lr(0.1, 2)(jnp.int32(3)).dtype == jnp.float64  # default float (x64)
    assert schedules.step_lr(jnp.float32(0.1), 2)(jnp.int32(3)).dtype == jnp.float32
    per_base = jax.vmap(lambda b: schedules.cosine_annealing_lr(b, 10)(counts))
    assert per_base(jnp.ones(3, jnp.float32)).dtype == jnp.float32
    assert jax.vmap(schedules.exponential_lr(0.1, 0.9))(counts.astype(jnp.int64)).shape == (5,)
    # A real count is a fractional step; booleans and complex numbers are not counts.
    assert float(schedules.step_lr(0.1, 2)(jnp.float32(3.5))) == pytest.approx(0.01)
    for bad in (jnp.bool_(True), jnp.complex64(3.0)):
        with pytest.raises(TypeError, match="count must be an integer or real array"):
            schedules.step_lr(0.1, 2)(bad)
    with pytest.raises(TypeError, match="multiplicative_lr: count must be an integer array"):
        schedules.multiplicative_lr(0.1, lambda k: 0.5)(jnp.float32(3.0))


def test_default_dtype_without_x64():
    jax.config.update("jax_enable_x64", False)
    try:
        lr = schedules.one_cycle_lr(0.1, 50)(jnp.int32(7))
        assert lr.dtype == jnp.float32
    finally:
        jax.config.update("jax_enable_x64", True)


def test_as_optax_sgd_learning_rate_matches_torch_training():
    # torch SGD + StepLR on a quadratic; optax.sgd with the jopt schedule must follow it.
    target = np.array([1.0, -2.0, 3.0])
    p = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.2)
    sched = tl.StepLR(opt, step_size=3, gamma=0.5)
    tx = optax.sgd(schedules.step_lr(0.2, 3, 0.5))
    params = jnp.zeros(3, jnp.float32)
    state = tx.init(params)
    for _ in range(12):
        opt.zero_grad()
        ((p - torch.as_tensor(target)) ** 2).sum().backward()
        opt.step()
        sched.step()
        grads = 2 * (params - jnp.asarray(target, jnp.float32))
        updates, state = tx.update(grads, state)
        params = optax.apply_updates(params, updates)
    np.testing.assert_allclose(params, p.detach().numpy(), rtol=1e-5)
    assert params.dtype == jnp.float32


def test_as_jopt_learning_rate_matches_torch_lrs():
    want = torch_lrs(lambda o, b: tl.CosineAnnealingWarmRestarts(o, T_0=4, T_mult=2), 0.3, 30)
    tx = scale_by_learning_rate(schedules.cosine_annealing_warm_restarts(0.3, 4, 2))
    state = tx.init(jnp.zeros(2, jnp.float32))
    step = jax.jit(tx.update)
    for k in range(30):
        updates, state = step(jnp.ones(2, jnp.float32), state)
        np.testing.assert_allclose(updates, -want[k] * np.ones(2), rtol=1e-6)
        assert updates.dtype == jnp.float32


def test_inside_optax_inject_hyperparams():
    # inject_hyperparams evaluates the schedule at its own count, as optax schedules are.
    # optax.sgd does not cast an injected rate to the params' dtype: match it (float32).
    sched = schedules.linear_lr(jnp.float32(0.1), 0.5, 1.0, 4)
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=sched)
    state = tx.init(jnp.zeros(2, jnp.float32))
    got = []
    for _ in range(6):
        _, state = tx.update(jnp.ones(2, jnp.float32), state)
        got.append(float(state.hyperparams["learning_rate"]))  # the rate this update used
    want = torch_lrs(lambda o, b: tl.LinearLR(o, 0.5, 1.0, 4), 0.1, 6)
    np.testing.assert_allclose(got, want, rtol=1e-6)


INVALID = [
    (
        lambda: schedules.step_lr(0.1, 0),
        r"jopt\.schedules\.step_lr: step_size=0 is invalid; step_size must be an integer >= 1\.",
    ),
    (lambda: schedules.step_lr(0.1, 2.5), r"step_lr: step_size=2\.5 is invalid"),
    (
        lambda: schedules.step_lr(-0.1, 2),
        r"step_lr: base_lr=-0\.1 is invalid; base_lr must be in \[0, inf\)",
    ),
    (lambda: schedules.step_lr(0.1, 2, gamma=-1.0), r"step_lr: gamma=-1\.0 is invalid"),
    (
        lambda: schedules.multi_step_lr(0.1, [3, -1]),
        r"multi_step_lr: milestones\[1\]=-1 is invalid; milestones\[1\] must be an integer >= 0",
    ),
    (
        lambda: schedules.multi_step_lr(0.1, 5),
        r"multi_step_lr: milestones=5 is invalid; milestones must be a sequence",
    ),
    (
        lambda: schedules.constant_lr(0.1, factor=1.5),
        r"constant_lr: factor=1\.5 is invalid; factor must be in \[0, 1\]",
    ),
    (lambda: schedules.constant_lr(0.1, total_iters=0), r"constant_lr: total_iters=0 is invalid"),
    (
        lambda: schedules.linear_lr(0.1, start_factor=0.0),
        r"linear_lr: start_factor=0\.0 is invalid; start_factor must be in \(0, 1\]",
    ),
    (lambda: schedules.linear_lr(0.1, end_factor=1.2), r"linear_lr: end_factor=1\.2 is invalid"),
    (lambda: schedules.linear_lr(0.1, total_iters=0), r"linear_lr: total_iters=0 is invalid"),
    (lambda: schedules.exponential_lr(0.1, gamma=-0.5), r"exponential_lr: gamma=-0\.5 is invalid"),
    (
        lambda: schedules.polynomial_lr(0.1, total_iters=0),
        r"polynomial_lr: total_iters=0 is invalid",
    ),
    (lambda: schedules.polynomial_lr(0.1, power=-1.0), r"polynomial_lr: power=-1\.0 is invalid"),
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
    (
        lambda: schedules.lambda_lr(0.1, 0.9),
        r"lambda_lr: lr_lambda=0\.9 is invalid; lr_lambda must be a function",
    ),
    (
        lambda: schedules.multiplicative_lr(0.1, None),
        r"multiplicative_lr: lr_lambda=None is invalid",
    ),
    (
        lambda: schedules.inverse_time_decay(0.1, decay=-0.1),
        r"inverse_time_decay: decay=-0\.1 is invalid",
    ),
]


INVALID_IDS = [f"{m.split(':')[0].split('.')[-1]}-{i}" for i, (_, m) in enumerate(INVALID)]


@pytest.mark.parametrize("make, message", INVALID, ids=INVALID_IDS)
def test_invalid_configuration_raises(make, message):
    with pytest.raises((TypeError, ValueError), match=message):
        make()


def test_traced_hyperparameters_are_not_checked():
    # vmap over a negative base rate: a tracer is the caller's responsibility (as in optax).
    out = jax.vmap(lambda b: schedules.step_lr(b, 2)(jnp.int32(0)))(jnp.asarray([0.1, -0.1]))
    np.testing.assert_allclose(out, [0.1, -0.1])
    assert math.isfinite(float(out[0]))


def test_float32_long_exponential_decay_stays_accurate():
    # 0.999 rounded to float32 and raised to 10k would be off by ~3e-4; the rate must not be.
    steps = 10_000
    want = torch_lrs(lambda o, b: tl.ExponentialLR(o, gamma=0.999), 1.0, steps)
    sched = schedules.exponential_lr(jnp.float32(1.0), 0.999)
    got = jax.jit(jax.vmap(sched))(jnp.arange(steps, dtype=jnp.int32))
    assert got.dtype == jnp.float32
    _close(got, want, 1e-5)
    want = torch_lrs(lambda o, b: tl.StepLR(o, step_size=3, gamma=0.999), 1.0, steps)
    got = jax.jit(jax.vmap(schedules.step_lr(jnp.float32(1.0), 3, 0.999)))(jnp.arange(steps))
    _close(got, want, 1e-5)


def test_plot_example_writes_a_png(tmp_path):
    path = Path(__file__).resolve().parent.parent / "examples" / "plot_schedules.py"
    spec = importlib.util.spec_from_file_location("plot_schedules", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = module.main(["--out", str(tmp_path / "grid.png"), "--steps", "60"])
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------ issue 14: momentum halves


def torch_momenta(make, adam: bool, steps: int = STEPS) -> np.ndarray:
    """The momentum (SGD) or betas[0] (Adam) each optimizer step used."""
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([p], lr=0.1) if adam else torch.optim.SGD([p], lr=0.1, momentum=0.5)
    sched = make(opt)
    out = []
    for _ in range(steps):
        group = opt.param_groups[0]
        out.append(group["betas"][0] if adam else group["momentum"])
        opt.step()
        sched.step()
    return np.asarray(out, np.float64)


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


@pytest.mark.parametrize("name", list(MOMENTUM_CASES))
def test_momentum_matches_torch(name):
    torch_make, jopt_make, adam = MOMENTUM_CASES[name]
    want = torch_momenta(torch_make, adam)
    counts = jnp.arange(STEPS, dtype=jnp.int32)
    got = jax.jit(jax.vmap(jopt_make(float)))(counts)
    assert got.dtype == jnp.float64
    _close(got, want, 1e-9)
    got32 = jax.jit(jax.vmap(jopt_make(jnp.float32)))(counts)
    assert got32.dtype == jnp.float32
    _close(got32, want, 1e-5)


# ------------------------------------------------------------- issue 14: fractional counts


def torch_fractional(make, base: float, iters: int, epochs: int, before: bool) -> np.ndarray:
    """The lr of each update when ``sched.step(epoch + i / iters)`` runs before (or, as in
    PyTorch's docstring, after) the i-th ``optimizer.step()`` of each epoch."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base)
    sched = make(opt)
    lrs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # step(epoch) is deprecated in torch
        for epoch in range(epochs):
            for i in range(iters):
                if before:
                    sched.step(epoch + i / iters)
                lrs.append(opt.param_groups[0]["lr"])
                opt.step()
                if not before:
                    sched.step(epoch + i / iters)
    return np.asarray(lrs, np.float64)


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
    "step": (lambda o: tl.StepLR(o, 4, 0.5), lambda f: schedules.step_lr(f(0.1), 4, 0.5)),
    "multi_step": (
        lambda o: tl.MultiStepLR(o, [5, 12], 0.3),
        lambda f: schedules.multi_step_lr(f(0.1), [5, 12], 0.3),
    ),
    "constant": (
        lambda o: tl.ConstantLR(o, 0.5, 7),
        lambda f: schedules.constant_lr(f(0.1), 0.5, 7),
    ),
    "linear": (
        lambda o: tl.LinearLR(o, 0.2, 1.0, 10),
        lambda f: schedules.linear_lr(f(0.1), 0.2, 1.0, 10),
    ),
    "exponential": (
        lambda o: tl.ExponentialLR(o, 0.9),
        lambda f: schedules.exponential_lr(f(0.1), 0.9),
    ),
    "polynomial": (
        lambda o: tl.PolynomialLR(o, 30, 2.0),
        lambda f: schedules.polynomial_lr(f(0.1), 30, 2.0),
    ),
}


@pytest.mark.parametrize("name", list(FRACTIONAL))
def test_fractional_counts_match_torch_epoch_stepping(name):
    torch_make, jopt_make = FRACTIONAL[name]
    iters, epochs = 7, 45  # 315 updates
    sched = jopt_make(float)
    k = jnp.arange(iters * epochs, dtype=jnp.int32)
    # step(epoch + i / iters) before the update: the rate at update k is sched(k / iters).
    # (int32 / int is float32 in JAX even with x64 on: k.astype(float) keeps float64.)
    want = torch_fractional(torch_make, 0.1, iters, epochs, before=True)
    _close(jax.jit(jax.vmap(lambda c: sched(c.astype(float) / iters)))(k), want, 1e-9)
    if name == "warm_restarts_t_mult2":  # the README's spelling, a float32 count
        _close(jax.vmap(lambda c: sched(c / iters))(k), want, 1e-5)
    # PyTorch's docstring order (after the update) lags one update behind.
    want = torch_fractional(torch_make, 0.1, iters, epochs, before=False)
    lagged = jax.jit(jax.vmap(lambda c: sched(jnp.maximum(c - 1, 0).astype(float) / iters)))
    _close(lagged(k), want, 1e-9)
    # A float32 rate.
    sched32 = jopt_make(jnp.float32)
    got32 = jax.jit(jax.vmap(lambda c: sched32(jnp.maximum(c - 1, 0).astype(float) / iters)))(k)
    assert got32.dtype == jnp.float32
    _close(got32, want, 1e-5)


# -------------------------------------------- issue 10: periods beyond int32 arithmetic

BIG = 2**31 - 1
COUNTS32 = [0, 1, 12_345, 1_000_000_007, 1_499_999_999, 1_500_000_000, BIG - 1, BIG]
COUNTS64 = [2**31, 3_000_000_001, 2**33 + 3]


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


def _torch_one_cycle(t, max_lr, total, pct=0.3):
    initial = max_lr / 25.0
    phases = [(pct * total - 1, initial, max_lr), (total - 1, max_lr, initial / 1e4)]
    t, start = min(t, total - 1), 0.0
    for end, s, e in phases:
        if t <= end or end == total - 1:
            pct_done = (t - start) / (end - start)
            return e + (s - e) / 2.0 * (math.cos(math.pi * pct_done) + 1)
        start = end


def _cos(base, t_cur, t_i, eta=0.0):
    return eta + (base - eta) * (1 + math.cos(math.pi * t_cur / t_i)) / 2


def _restarts(base, t, t_0, t_mult):
    start, length = 0, t_0
    while t >= start + length:
        start, length = start + length, length * t_mult
    return _cos(base, t - start, length)


LARGE = {
    "cosine_1.5e9": (
        lambda: schedules.cosine_annealing_lr(0.1, 1_500_000_000),
        lambda t: _cos(0.1, t, 1_500_000_000),
    ),
    "cosine_max": (
        lambda: schedules.cosine_annealing_lr(0.1, BIG, eta_min=0.01),
        lambda t: _cos(0.1, t, BIG, 0.01),
    ),
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
    "warm_restarts_max_t_mult2": (
        lambda: schedules.cosine_annealing_warm_restarts(0.1, BIG, 2),
        lambda t: _restarts(0.1, t, BIG, 2),
    ),
    "one_cycle_max": (
        lambda: schedules.one_cycle_lr(0.1, BIG),
        lambda t: _torch_one_cycle(t, 0.1, BIG),
    ),
    "swalr_max": (
        lambda: schedules.swalr(0.1, 0.01, BIG),
        lambda t: 0.01 + (0.1 - 0.01) * (1 + math.cos(math.pi * min(1.0, t / BIG))) / 2,
    ),
    "linear_max": (
        lambda: schedules.linear_lr(0.1, 0.5, 1.0, BIG),
        lambda t: 0.1 * (0.5 + 0.5 * min(t, BIG) / BIG),
    ),
    "sequential_max": (
        lambda: schedules.sequential_lr(
            [schedules.constant_lr(0.1, 0.5, BIG), schedules.step_lr(0.1, 1, 0.5)], [BIG]
        ),
        lambda t: 0.05 if t < BIG else 0.1 * 0.5 ** (t - BIG),
    ),
}


@pytest.mark.parametrize("name", list(LARGE))
def test_large_periods_compute_correctly(name):
    make, formula = LARGE[name]
    sched = jax.jit(make())
    for dtype, counts in ((jnp.int32, COUNTS32), (jnp.int64, COUNTS32 + COUNTS64)):
        got = np.asarray([float(sched(dtype(t))) for t in counts])
        want = np.asarray([formula(t) for t in counts])
        # The absolute floor admits the written-out 1 + cos(...) rounding to 0 at troughs.
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-15, err_msg=str(dtype))


def test_large_periods_without_x64():
    jax.config.update("jax_enable_x64", False)
    try:
        for name in ("cosine_1.5e9", "cyclic_up_1.5e9", "cyclic_triangular2_max_up", "swalr_max"):
            make, formula = LARGE[name]
            sched = jax.jit(make())
            got = np.asarray([float(sched(jnp.int32(t))) for t in COUNTS32])
            assert sched(jnp.int32(1)).dtype == jnp.float32
            np.testing.assert_allclose(got, [formula(t) for t in COUNTS32], rtol=2e-5, atol=1e-8)
    finally:
        jax.config.update("jax_enable_x64", True)


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda: schedules.cosine_annealing_lr(0.1, 2**31),
            r"cosine_annealing_lr: t_max=2147483648",
        ),
        (lambda: schedules.cyclic_lr(0.1, 1.0, 2**31), r"cyclic_lr: step_size_up=2147483648"),
        (lambda: schedules.cyclic_momentum(step_size_down=3e9), r"cyclic_momentum: step_size_down"),
        (
            lambda: schedules.one_cycle_lr(0.1, epochs=2**16, steps_per_epoch=2**16),
            r"one_cycle_lr: epochs \* steps_per_epoch = 4294967296 is invalid",
        ),
        (lambda: schedules.swalr(0.1, 0.01, 2**31), r"swalr: anneal_epochs=2147483648"),
        (lambda: schedules.step_lr(0.1, 2**40), r"step_lr: step_size=1099511627776"),
    ],
)
def test_periods_beyond_int32_are_rejected(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# ------------------------------------------- construction checks of the new options

INVALID_NEW = [
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


@pytest.mark.parametrize("make, message", INVALID_NEW)
def test_invalid_new_options_raise(make, message):
    with pytest.raises((TypeError, ValueError), match=message):
        make()


def test_torch_rejects_what_we_reject():
    # The same configurations raise in PyTorch (ours add the call and argument names).
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    for make in (
        lambda: tl.OneCycleLR(opt, 0.1),
        lambda: tl.OneCycleLR(opt, 0.1, epochs=0, steps_per_epoch=25),
        lambda: swa_utils.SWALR(opt, 0.01, anneal_epochs=-1),
        lambda: swa_utils.SWALR(opt, 0.01, anneal_strategy="exp"),
    ):
        with pytest.raises(ValueError):
            make()


def test_scale_fn_checker_fails_on_a_wrong_scale_fn():
    # The comparison can fail: a scale_fn on the wrong argument (iterations vs cycle).
    want = torch_lrs(
        lambda o, b: tl.CyclicLR(o, b, 1.0, 10, scale_fn=lambda x: 0.9**x, cycle_momentum=False),
        0.1,
        60,
    )
    wrong = schedules.cyclic_lr(0.1, 1.0, 10, scale_fn=lambda x: 0.9**x, scale_mode="iterations")
    with pytest.raises(AssertionError):
        _close(jax.vmap(wrong)(jnp.arange(60)), want, 1e-5)


def test_readme_schedule_snippets_run():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    cycling = next(b for b in blocks if "one_cycle_momentum(1000)" in b)
    scope: dict = {}
    exec(compile(cycling, "README.md", "exec"), scope)
    for tx in (scope["sgd"], scope["adam"]):
        state = tx.init(jnp.zeros(2))
        updates, state = tx.update(jnp.ones(2), state, jnp.zeros(2))
        assert updates.shape == (2,)
    per_batch = next(b for b in blocks if "per_batch" in b)
    scope = {"iters_per_epoch": 7}
    exec(compile(per_batch, "README.md", "exec"), scope)
    want = torch_fractional(
        lambda o: tl.CosineAnnealingWarmRestarts(o, T_0=10, T_mult=2), 0.1, 7, 45, before=True
    )
    got = jax.vmap(scope["per_batch"])(jnp.arange(315, dtype=jnp.int32))
    _close(got, want, 1e-9)
