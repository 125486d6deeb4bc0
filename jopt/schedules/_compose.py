"""Schedules built from schedules: SequentialLR and ChainedScheduler."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jopt._core.checks import UnnamedValueError, checked, integers, nonnegative
from jopt._core.dtypes import cast
from jopt._core.hyperparams import Scalar
from jopt.schedules._common import (
    SCHEDULE,
    Schedule,
    Schedules,
    as_count,
    at_least_one,
    described,
    float_dtype,
)


def _one_milestone_between(arguments: Mapping[str, Any]) -> None:
    schedules, milestones = arguments["schedules"], arguments["milestones"]
    if len(milestones) != len(schedules) - 1:
        raise UnnamedValueError(
            f"milestones={list(milestones)!r} is invalid with {len(schedules)} "
            "schedules; there must be exactly one milestone fewer than schedules."
        )


def _some_factor(arguments: Mapping[str, Any]) -> None:
    at_least_one("factors", arguments["factors"])


def _common_dtype(values: list[jax.Array]) -> list[jax.Array]:
    # Children may compute in different float dtypes; where/multiply need one.
    dtype = float_dtype(*values)
    return [cast(v, dtype) for v in values]


@checked(_one_milestone_between, schedules=Schedules(), milestones=integers(0, increasing=True))
def sequential_lr(schedules: Sequence[Schedule], milestones: Sequence[int]) -> Schedule:
    """One schedule after another: PyTorch's ``SequentialLR``.

    With milestones ``m_1 < m_2 < ...`` (and ``m_0 = 0``),
    ``lr(count) = schedules[i](count - m_i)`` for ``m_i <= count < m_{i+1}``: at each
    milestone the next schedule restarts at its own step 0. Each schedule carries its
    own base rate.

    Equal to PyTorch for every scheduler that PyTorch restarts from its base rate at a
    milestone. Deliberate difference: PyTorch restarts a ``MultiplicativeLR`` (which has
    no closed form) from the *current* rate times ``lr_lambda(0)``; here it restarts
    from its own ``base_lr``, as the rule above says.

    Args:
      schedules: the schedules in order, at least one (functions ``count -> value``).
      milestones: the counts at which the next schedule takes over, integers >= 0,
        strictly increasing, one fewer than ``schedules``.

    Returns:
      A schedule: a function ``count -> learning rate``.

    >>> import jopt.schedules as schedules
    >>> warm = schedules.linear_lr(1.0, start_factor=0.5, total_iters=2)
    >>> decay = schedules.exponential_lr(1.0, gamma=0.5)
    >>> sched = schedules.sequential_lr([warm, decay], milestones=[2])
    >>> [float(sched(k)) for k in range(5)]
    [0.5, 0.75, 1.0, 0.5, 0.25]
    """
    offsets = (0, *milestones)

    def schedule(count: Any) -> jax.Array:
        count = as_count(count)
        # Every child runs on a count >= 0; the ones not in force are discarded.
        values = _common_dtype(
            [
                s(jnp.maximum(count - m, 0).astype(count.dtype))
                for s, m in zip(schedules, offsets, strict=True)
            ]
        )
        lr = values[0]
        for m, value in zip(milestones, values[1:], strict=True):
            lr = jnp.where(count >= m, value, lr)
        return lr

    return described(
        schedule, "SequentialLR", schedules=list(schedules), milestones=list(milestones)
    )


@checked(_some_factor, base_lr=nonnegative(), factors=SCHEDULE)
def chained_lr(base_lr: Scalar, *factors: Schedule) -> Schedule:
    """``base_lr * factors[0](count) * factors[1](count) * ...``: PyTorch's ``ChainedScheduler``.

    Each factor is a schedule built with base rate 1, e.g. ``step_lr(1.0, 30)``; the
    result takes ``base_lr``'s dtype. PyTorch's
    ``ChainedScheduler`` steps every child on the same learning rate; for children that
    multiply the current rate (``StepLR``, ``MultiStepLR``, ``ConstantLR``, ``LinearLR``,
    ``ExponentialLR``, ``PolynomialLR``, ``MultiplicativeLR``, and ``CosineAnnealingLR``
    with ``eta_min=0`` up to ``T_max``) that composes as this product. Children that
    set the rate outright (``LambdaLR``, ``CyclicLR``, ``OneCycleLR``, the warm restarts)
    overwrite each other in PyTorch, which is not a product; do not chain those.

    Args:
      base_lr: the base rate, a number >= 0 (or a traced scalar).
      *factors: the factors, at least one, schedules built with base rate 1.

    Returns:
      A schedule: a function ``count -> learning rate``.

    >>> import jopt.schedules as schedules
    >>> sched = schedules.chained_lr(
    ...     0.05,
    ...     schedules.constant_lr(1.0, factor=0.1, total_iters=2),
    ...     schedules.exponential_lr(1.0, gamma=0.9),
    ... )
    >>> [round(float(sched(k)), 6) for k in range(4)]
    [0.005, 0.0045, 0.0405, 0.03645]
    """

    def schedule(count: Any) -> jax.Array:
        count = as_count(count)
        # The base rate's dtype decides, as in every other schedule; factors follow it.
        dtype = float_dtype(base_lr)
        lr = cast(base_lr, dtype)
        for factor in factors:
            lr = lr * cast(factor(count), dtype)
        return lr

    return described(schedule, "ChainedScheduler", factors=list(factors))
