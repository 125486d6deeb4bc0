"""Piecewise and closed-form decays: StepLR, MultiStepLR, ConstantLR, LinearLR,
ExponentialLR, PolynomialLR, and Keras' legacy inverse-time ``decay``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp

from jopt._base import Scalar, ScalarOrSchedule, Schedule, cast, evaluate
from jopt._validation import check_int, check_nonnegative, check_range
from jopt.schedules._common import as_count, check_milestones, float_dtype, power, wide_dtype


def step_lr(base_lr: Scalar, step_size: int, gamma: Scalar = 0.1) -> Schedule:
    """``base_lr * gamma**(count // step_size)``: PyTorch's ``StepLR``.

    >>> import jopt.schedules as schedules
    >>> sched = schedules.step_lr(0.1, step_size=2, gamma=0.5)
    >>> [round(float(sched(k)), 6) for k in range(6)]
    [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]
    """
    call = "jopt.schedules.step_lr"
    check_nonnegative(call, "base_lr", base_lr)
    step_size = check_int(call, "step_size", step_size, 1)
    check_nonnegative(call, "gamma", gamma)

    def schedule(count):
        count = as_count(call, count)
        dtype = float_dtype(base_lr, gamma)
        return cast(base_lr, dtype) * power(gamma, count // step_size, dtype)

    return schedule


def multi_step_lr(base_lr: Scalar, milestones: Sequence[int], gamma: Scalar = 0.1) -> Schedule:
    """``base_lr * gamma**n`` with ``n`` the number of milestones ``<= count``: ``MultiStepLR``.

    Milestones may come in any order and repeat (a repeated milestone decays twice), as in
    PyTorch, which keeps them in a ``Counter``.

    >>> import jopt.schedules as schedules
    >>> sched = schedules.multi_step_lr(1.0, milestones=[2, 4], gamma=0.1)
    >>> [round(float(sched(k)), 6) for k in range(6)]
    [1.0, 1.0, 0.1, 0.1, 0.01, 0.01]
    """
    call = "jopt.schedules.multi_step_lr"
    check_nonnegative(call, "base_lr", base_lr)
    milestones = tuple(sorted(check_milestones(call, milestones, strict=False)))
    check_nonnegative(call, "gamma", gamma)

    def schedule(count):
        count = as_count(call, count)
        dtype = float_dtype(base_lr, gamma)
        if not milestones:
            return jnp.broadcast_to(cast(base_lr, dtype), count.shape)
        passed = jnp.searchsorted(jnp.asarray(milestones, count.dtype), count, side="right")
        return cast(base_lr, dtype) * power(gamma, passed, dtype)

    return schedule


def constant_lr(base_lr: Scalar, factor: Scalar = 1 / 3, total_iters: int = 5) -> Schedule:
    """``base_lr * (factor if count < total_iters else 1)``: PyTorch's ``ConstantLR``.

    >>> import jopt.schedules as schedules
    >>> sched = schedules.constant_lr(1.0, factor=0.5, total_iters=2)
    >>> [float(sched(k)) for k in range(4)]
    [0.5, 0.5, 1.0, 1.0]
    """
    call = "jopt.schedules.constant_lr"
    check_nonnegative(call, "base_lr", base_lr)
    check_range(call, "factor", factor, 0.0, 1.0)
    total_iters = check_int(call, "total_iters", total_iters, 1)

    def schedule(count):
        count = as_count(call, count)
        dtype = float_dtype(base_lr, factor)
        scale = jnp.where(count < total_iters, cast(factor, dtype), jnp.ones([], dtype))
        return cast(base_lr, dtype) * scale

    return schedule


def linear_lr(
    base_lr: Scalar, start_factor: Scalar = 1 / 3, end_factor: Scalar = 1.0, total_iters: int = 5
) -> Schedule:
    """``base_lr * (s + (e - s) * min(count, T) / T)``: PyTorch's ``LinearLR``.

    ``s = start_factor``, ``e = end_factor``, ``T = total_iters``; computed as
    ``(s * (T - m) + e * m) / T`` (``m = min(count, T)``), which does not cancel when
    ``e = 0``.

    >>> import jopt.schedules as schedules
    >>> sched = schedules.linear_lr(1.0, start_factor=0.25, end_factor=1.0, total_iters=3)
    >>> [float(sched(k)) for k in range(5)]
    [0.25, 0.5, 0.75, 1.0, 1.0]
    """
    call = "jopt.schedules.linear_lr"
    check_nonnegative(call, "base_lr", base_lr)
    check_range(call, "start_factor", start_factor, 0.0, 1.0, lo_open=True)
    check_range(call, "end_factor", end_factor, 0.0, 1.0)
    total_iters = check_int(call, "total_iters", total_iters, 1)

    def schedule(count):
        count = as_count(call, count)
        dtype = float_dtype(base_lr, start_factor, end_factor)
        done = jnp.clip(count, 0, total_iters)
        left = (total_iters - done).astype(dtype)
        factor = cast(start_factor, dtype) * left + cast(end_factor, dtype) * done.astype(dtype)
        return cast(base_lr, dtype) * (factor / total_iters)

    return schedule


def exponential_lr(base_lr: Scalar, gamma: Scalar) -> Schedule:
    """``base_lr * gamma**count``: PyTorch's ``ExponentialLR``.

    >>> import jopt.schedules as schedules
    >>> sched = schedules.exponential_lr(1.0, gamma=0.5)
    >>> [float(sched(k)) for k in range(4)]
    [1.0, 0.5, 0.25, 0.125]
    """
    call = "jopt.schedules.exponential_lr"
    check_nonnegative(call, "base_lr", base_lr)
    check_nonnegative(call, "gamma", gamma)

    def schedule(count):
        count = as_count(call, count)
        dtype = float_dtype(base_lr, gamma)
        return cast(base_lr, dtype) * power(gamma, count, dtype)

    return schedule


def polynomial_lr(base_lr: Scalar, total_iters: int = 5, power: Scalar = 1.0) -> Schedule:
    """``base_lr * (1 - min(count, T) / T)**power``: PyTorch's ``PolynomialLR``.

    Reaches 0 at ``count = T = total_iters`` and stays there.

    >>> import jopt.schedules as schedules
    >>> sched = schedules.polynomial_lr(1.0, total_iters=4, power=2.0)
    >>> [float(sched(k)) for k in range(6)]
    [1.0, 0.5625, 0.25, 0.0625, 0.0, 0.0]
    """
    call = "jopt.schedules.polynomial_lr"
    check_nonnegative(call, "base_lr", base_lr)
    total_iters = check_int(call, "total_iters", total_iters, 1)
    check_nonnegative(call, "power", power)

    def schedule(count):
        count = as_count(call, count)
        dtype = float_dtype(base_lr, power)
        # The remaining fraction from integers, exact until the division.
        left = (total_iters - jnp.clip(count, 0, total_iters)).astype(dtype) / total_iters
        return cast(base_lr, dtype) * left ** cast(power, dtype)

    return schedule


def inverse_time(
    base_lr: ScalarOrSchedule, decay: Any, decay_steps: float = 1, staircase: bool = False
) -> Schedule:
    """``base_lr(count) / (1 + decay * p)``, ``p = count / decay_steps`` (floored when
    ``staircase``), ``base_lr`` a number or a schedule.

    The one home of inverse-time decay: :func:`inverse_time_decay`, torch Adagrad's
    ``lr_decay``, tf.keras 2's ``decay`` (``count`` = torch's t − 1, Keras'
    ``iterations``) and Keras' ``InverseTimeDecay``. Unchecked: callers check their own
    arguments.
    """

    def schedule(count):
        count = as_count("jopt.schedules.inverse_time_decay", count)
        base = evaluate(base_lr, count)
        dtype = float_dtype(base, decay)
        p = count.astype(wide_dtype())
        if decay_steps != 1:
            p = p / decay_steps
        if staircase:
            p = jnp.floor(p)
        return cast(base, dtype) / (1.0 + cast(decay, dtype) * p.astype(dtype))

    return schedule


def inverse_time_decay(base_lr: Scalar, decay: Scalar) -> Schedule:
    """``base_lr / (1 + decay * count)``: Keras 2's legacy optimizer ``decay`` argument.

    Equal to ``keras.optimizers.schedules.InverseTimeDecay(base_lr, decay_steps=1,
    decay_rate=decay)`` and to PyTorch's ``LambdaLR(opt, lambda t: 1 / (1 + decay * t))``.

    >>> import jopt.schedules as schedules
    >>> sched = schedules.inverse_time_decay(1.0, decay=0.5)
    >>> [round(float(sched(k)), 6) for k in range(4)]
    [1.0, 0.666667, 0.5, 0.4]
    """
    call = "jopt.schedules.inverse_time_decay"
    check_nonnegative(call, "base_lr", base_lr)
    check_nonnegative(call, "decay", decay)
    return inverse_time(base_lr, decay)
