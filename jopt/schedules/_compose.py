"""Schedules built from schedules: SequentialLR and ChainedScheduler."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jopt._base import Scalar, cast
from jopt._validation import check_nonnegative
from jopt.schedules._common import Schedule, as_count, check_milestones, float_dtype


def _check_schedules(call: str, name: str, schedules: Any, minimum: int) -> list[Schedule]:
    if isinstance(schedules, (str, bytes)) or not isinstance(schedules, Sequence):
        raise ValueError(
            f"{call}: {name}={schedules!r} is invalid; {name} must be a sequence of "
            "schedules (functions count -> value)."
        )
    for i, s in enumerate(schedules):
        if not callable(s):
            raise ValueError(
                f"{call}: {name}[{i}]={s!r} is invalid; {name}[{i}] must be a schedule "
                "(a function count -> value)."
            )
    if len(schedules) < minimum:
        raise ValueError(
            f"{call}: {name} has {len(schedules)} entries, which is invalid; {name} must "
            f"have at least {minimum}."
        )
    return list(schedules)


def _common_dtype(values: list[jax.Array]) -> list[jax.Array]:
    # Children may compute in different float dtypes; where/multiply need one.
    dtype = float_dtype(*values)
    return [cast(v, dtype) for v in values]


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

    >>> import jopt.schedules as schedules
    >>> warm = schedules.linear_lr(1.0, start_factor=0.5, total_iters=2)
    >>> decay = schedules.exponential_lr(1.0, gamma=0.5)
    >>> sched = schedules.sequential_lr([warm, decay], milestones=[2])
    >>> [float(sched(k)) for k in range(5)]
    [0.5, 0.75, 1.0, 0.5, 0.25]
    """
    call = "jopt.schedules.sequential_lr"
    schedules = _check_schedules(call, "schedules", schedules, 1)
    milestones = check_milestones(call, milestones, strict=True)
    if len(milestones) != len(schedules) - 1:
        raise ValueError(
            f"{call}: milestones={list(milestones)!r} is invalid with {len(schedules)} "
            "schedules; there must be exactly one milestone fewer than schedules."
        )
    offsets = (0, *milestones)

    def schedule(count):
        count = as_count(call, count)
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

    return schedule


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

    >>> import jopt.schedules as schedules
    >>> sched = schedules.chained_lr(
    ...     0.05,
    ...     schedules.constant_lr(1.0, factor=0.1, total_iters=2),
    ...     schedules.exponential_lr(1.0, gamma=0.9),
    ... )
    >>> [round(float(sched(k)), 6) for k in range(4)]
    [0.005, 0.0045, 0.0405, 0.03645]
    """
    call = "jopt.schedules.chained_lr"
    check_nonnegative(call, "base_lr", base_lr)
    factors_list = _check_schedules(call, "factors", factors, 1)

    def schedule(count):
        count = as_count(call, count)
        # The base rate's dtype decides, as in every other schedule; factors follow it.
        dtype = float_dtype(base_lr)
        lr = cast(base_lr, dtype)
        for factor in factors_list:
            lr = lr * cast(factor(count), dtype)
        return lr

    return schedule
