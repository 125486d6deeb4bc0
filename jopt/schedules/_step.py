"""Piecewise and closed-form decays: StepLR, MultiStepLR, ConstantLR, LinearLR,
ExponentialLR, PolynomialLR, and Keras' legacy inverse-time ``decay``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jopt._core.checks import Real, checked, closed_unit_interval, integer, integers, nonnegative
from jopt._core.dtypes import cast
from jopt._core.hyperparams import Scalar, ScalarOrSchedule, Schedule
from jopt._core.state import evaluate
from jopt.schedules._common import as_count, described, float_dtype, power, wide_dtype


@checked(base_lr=nonnegative(), step_size=integer(1), gamma=nonnegative())
def step_lr(base_lr: Scalar, step_size: int, gamma: Scalar = 0.1) -> Schedule:
    """``base_lr * gamma**(count // step_size)``: PyTorch's ``StepLR``.

    Args:
      base_lr: the rate at count 0, a number >= 0 (or a traced scalar).
      step_size: the steps between two decays, an integer >= 1.
      gamma: the factor of each decay, a number >= 0.

    Returns:
      A schedule: a function ``count -> learning rate``.

    >>> import jopt.schedules as schedules
    >>> sched = schedules.step_lr(0.1, step_size=2, gamma=0.5)
    >>> [round(float(sched(k)), 6) for k in range(6)]
    [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]
    """

    def schedule(count: Any) -> jax.Array:
        count = as_count(count)
        dtype = float_dtype(base_lr, gamma)
        return cast(base_lr, dtype) * power(gamma, count // step_size, dtype)

    return described(schedule, "StepLR")


@checked(base_lr=nonnegative(), milestones=integers(0), gamma=nonnegative())
def multi_step_lr(base_lr: Scalar, milestones: Sequence[int], gamma: Scalar = 0.1) -> Schedule:
    """``base_lr * gamma**n`` with ``n`` the number of milestones ``<= count``: ``MultiStepLR``.

    Milestones may come in any order and repeat (a repeated milestone decays twice), as in
    PyTorch, which keeps them in a ``Counter``.

    Args:
      base_lr: the rate at count 0, a number >= 0 (or a traced scalar).
      milestones: the counts at which the rate decays, integers >= 0.
      gamma: the factor of each decay, a number >= 0.

    Returns:
      A schedule: a function ``count -> learning rate``.

    >>> import jopt.schedules as schedules
    >>> sched = schedules.multi_step_lr(1.0, milestones=[2, 4], gamma=0.1)
    >>> [round(float(sched(k)), 6) for k in range(6)]
    [1.0, 1.0, 0.1, 0.1, 0.01, 0.01]
    """
    ordered = tuple(sorted(milestones))

    def schedule(count: Any) -> jax.Array:
        count = as_count(count)
        dtype = float_dtype(base_lr, gamma)
        if not ordered:
            return jnp.broadcast_to(cast(base_lr, dtype), count.shape)
        passed = jnp.searchsorted(jnp.asarray(ordered, count.dtype), count, side="right")
        return cast(base_lr, dtype) * power(gamma, passed, dtype)

    return described(schedule, "MultiStepLR")


@checked(base_lr=nonnegative(), factor=closed_unit_interval(), total_iters=integer(1))
def constant_lr(base_lr: Scalar, factor: Scalar = 1 / 3, total_iters: int = 5) -> Schedule:
    """``base_lr * (factor if count < total_iters else 1)``: PyTorch's ``ConstantLR``.

    Args:
      base_lr: the rate after ``total_iters`` steps, a number >= 0 (or a traced scalar).
      factor: the fraction of ``base_lr`` used before, in [0, 1].
      total_iters: the steps run at ``factor * base_lr``, an integer >= 1.

    Returns:
      A schedule: a function ``count -> learning rate``.

    >>> import jopt.schedules as schedules
    >>> sched = schedules.constant_lr(1.0, factor=0.5, total_iters=2)
    >>> [float(sched(k)) for k in range(4)]
    [0.5, 0.5, 1.0, 1.0]
    """

    def schedule(count: Any) -> jax.Array:
        count = as_count(count)
        dtype = float_dtype(base_lr, factor)
        scale = jnp.where(count < total_iters, cast(factor, dtype), jnp.ones([], dtype))
        return cast(base_lr, dtype) * scale

    return described(schedule, "ConstantLR")


@checked(
    base_lr=nonnegative(),
    start_factor=Real(0.0, 1.0, lo_open=True),
    end_factor=closed_unit_interval(),
    total_iters=integer(1),
)
def linear_lr(
    base_lr: Scalar, start_factor: Scalar = 1 / 3, end_factor: Scalar = 1.0, total_iters: int = 5
) -> Schedule:
    """``base_lr * (s + (e - s) * min(count, T) / T)``: PyTorch's ``LinearLR``.

    ``s = start_factor``, ``e = end_factor``, ``T = total_iters``; computed as
    ``(s * (T - m) + e * m) / T`` (``m = min(count, T)``), which does not cancel when
    ``e = 0``.

    Args:
      base_lr: the rate the factors multiply, a number >= 0 (or a traced scalar).
      start_factor: the factor at count 0, in (0, 1].
      end_factor: the factor from ``total_iters`` on, in [0, 1].
      total_iters: the steps from ``start_factor`` to ``end_factor``, an integer >= 1.

    Returns:
      A schedule: a function ``count -> learning rate``.

    >>> import jopt.schedules as schedules
    >>> sched = schedules.linear_lr(1.0, start_factor=0.25, end_factor=1.0, total_iters=3)
    >>> [float(sched(k)) for k in range(5)]
    [0.25, 0.5, 0.75, 1.0, 1.0]
    """

    def schedule(count: Any) -> jax.Array:
        count = as_count(count)
        dtype = float_dtype(base_lr, start_factor, end_factor)
        done = jnp.clip(count, 0, total_iters)
        left = (total_iters - done).astype(dtype)
        factor = cast(start_factor, dtype) * left + cast(end_factor, dtype) * done.astype(dtype)
        return cast(base_lr, dtype) * (factor / total_iters)

    return described(schedule, "LinearLR")


@checked(base_lr=nonnegative(), gamma=nonnegative())
def exponential_lr(base_lr: Scalar, gamma: Scalar) -> Schedule:
    """``base_lr * gamma**count``: PyTorch's ``ExponentialLR``.

    Args:
      base_lr: the rate at count 0, a number >= 0 (or a traced scalar).
      gamma: the factor of each step, a number >= 0.

    Returns:
      A schedule: a function ``count -> learning rate``.

    >>> import jopt.schedules as schedules
    >>> sched = schedules.exponential_lr(1.0, gamma=0.5)
    >>> [float(sched(k)) for k in range(4)]
    [1.0, 0.5, 0.25, 0.125]
    """

    def schedule(count: Any) -> jax.Array:
        count = as_count(count)
        dtype = float_dtype(base_lr, gamma)
        return cast(base_lr, dtype) * power(gamma, count, dtype)

    return described(schedule, "ExponentialLR")


@checked(base_lr=nonnegative(), total_iters=integer(1), power=nonnegative())
def polynomial_lr(base_lr: Scalar, total_iters: int = 5, power: Scalar = 1.0) -> Schedule:
    """``base_lr * (1 - min(count, T) / T)**power``: PyTorch's ``PolynomialLR``.

    Reaches 0 at ``count = T = total_iters`` and stays there.

    Args:
      base_lr: the rate at count 0, a number >= 0 (or a traced scalar).
      total_iters: the steps to reach 0, an integer >= 1.
      power: the exponent of the decay, a number >= 0.

    Returns:
      A schedule: a function ``count -> learning rate``.

    >>> import jopt.schedules as schedules
    >>> sched = schedules.polynomial_lr(1.0, total_iters=4, power=2.0)
    >>> [float(sched(k)) for k in range(6)]
    [1.0, 0.5625, 0.25, 0.0625, 0.0, 0.0]
    """

    def schedule(count: Any) -> jax.Array:
        count = as_count(count)
        dtype = float_dtype(base_lr, power)
        # The remaining fraction from integers, exact until the division.
        left = (total_iters - jnp.clip(count, 0, total_iters)).astype(dtype) / total_iters
        return cast(base_lr, dtype) * left ** cast(power, dtype)

    return described(schedule, "PolynomialLR")


def inverse_time(
    base_lr: ScalarOrSchedule, decay: Any, decay_steps: float = 1, staircase: bool = False
) -> Schedule:
    """``base_lr(count) / (1 + decay * p)``, ``p = count / decay_steps`` (floored when
    ``staircase``), ``base_lr`` a number or a schedule.

    The one home of inverse-time decay: :func:`inverse_time_decay`, torch Adagrad's
    ``lr_decay``, tf.keras 2's ``decay`` (``count`` = torch's t − 1, Keras'
    ``iterations``) and Keras' ``InverseTimeDecay``. Unchecked: callers check their own
    arguments (a bad count raises an :class:`jopt._core.checks.Unnamed` error that the
    public caller names).
    """

    def schedule(count: Any) -> jax.Array:
        count = as_count(count)
        base = evaluate(base_lr, count)
        dtype = float_dtype(base, decay)
        p = count.astype(wide_dtype())
        if decay_steps != 1:
            p = p / decay_steps
        if staircase:
            p = jnp.floor(p)
        return cast(base, dtype) / (1.0 + cast(decay, dtype) * p.astype(dtype))

    return schedule


@checked(base_lr=nonnegative(), decay=nonnegative())
def inverse_time_decay(base_lr: Scalar, decay: Scalar) -> Schedule:
    """``base_lr / (1 + decay * count)``: Keras 2's legacy optimizer ``decay`` argument.

    Equal to ``keras.optimizers.schedules.InverseTimeDecay(base_lr, decay_steps=1,
    decay_rate=decay)`` and to PyTorch's ``LambdaLR(opt, lambda t: 1 / (1 + decay * t))``.

    Args:
      base_lr: the rate at count 0, a number >= 0 (or a traced scalar).
      decay: the decay per step, a number >= 0.

    Returns:
      A schedule: a function ``count -> learning rate``.

    >>> import jopt.schedules as schedules
    >>> sched = schedules.inverse_time_decay(1.0, decay=0.5)
    >>> [round(float(sched(k)), 6) for k in range(4)]
    [1.0, 0.666667, 0.5, 0.4]
    """
    return inverse_time(base_lr, decay)
