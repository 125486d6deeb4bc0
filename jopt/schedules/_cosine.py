"""Cosine annealing: CosineAnnealingLR and CosineAnnealingWarmRestarts (SGDR)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jopt._core.checks import checked, integer, nonnegative
from jopt._core.dtypes import cast
from jopt._core.hyperparams import Scalar
from jopt.schedules._common import (
    Schedule,
    as_count,
    count_mod,
    described,
    float_dtype,
    half_cosine,
    wide_dtype,
)


@checked(base_lr=nonnegative(), t_max=integer(1), eta_min=nonnegative())
def cosine_annealing_lr(base_lr: Scalar, t_max: int, eta_min: Scalar = 0.0) -> Schedule:
    """``eta_min + (base_lr - eta_min) * (1 + cos(pi * count / t_max)) / 2``: ``CosineAnnealingLR``.

    The closed form of PyTorch's recursive rule, equal to it when the scheduler runs
    alone. Past ``t_max`` it is periodic (back up to ``base_lr`` at ``2 * t_max``), as in
    PyTorch; it is not clamped at ``eta_min``. Any ``t_max`` up to ``2**31 - 1`` is exact
    (the period ``2 * t_max`` never overflows the count's integer type), and a real
    count gives PyTorch's closed form at a fractional step.

    Args:
      base_lr: the rate at count 0, a number >= 0 (or a traced scalar).
      t_max: the steps of a half period, down to ``eta_min``, an integer >= 1.
      eta_min: the lowest rate, a number >= 0.

    Returns:
      A schedule: a function ``count -> learning rate``.

    >>> import jopt.schedules as schedules
    >>> sched = schedules.cosine_annealing_lr(1.0, t_max=4)
    >>> [round(float(sched(k)), 6) for k in range(9)]
    [1.0, 0.853553, 0.5, 0.146447, 0.0, 0.146447, 0.5, 0.853553, 1.0]
    """

    def schedule(count: Any) -> jax.Array:
        count = as_count(count)
        dtype = float_dtype(base_lr, eta_min)
        # Phase in one period [0, 2 t_max), then the signed distance to the trough.
        phase = count_mod(count, 2 * t_max)
        wave = half_cosine((t_max - phase).astype(dtype), t_max)
        low = cast(eta_min, dtype)
        return low + (cast(base_lr, dtype) - low) * wave

    return described(schedule, "CosineAnnealingLR")


@checked(base_lr=nonnegative(), t_0=integer(1), t_mult=integer(1), eta_min=nonnegative())
def cosine_annealing_warm_restarts(
    base_lr: Scalar, t_0: int, t_mult: int = 1, eta_min: Scalar = 0.0
) -> Schedule:
    """Cosine annealing restarted every ``T_i`` steps: PyTorch's ``CosineAnnealingWarmRestarts``.

    ``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2`` where cycle
    ``i`` lasts ``T_i = t_0 * t_mult**i`` steps and ``T_cur`` counts steps since the
    last restart. Cycle boundaries are a static table of integers covering every count
    of the count's type, so they are exact (PyTorch's ``step(epoch)`` finds the cycle
    with a floating-point logarithm, which misplaces some boundaries for ``t_mult=3``).

    A real count evaluates between steps: ``lambda k: sched(k / iters)`` is PyTorch's
    ``scheduler.step(epoch + i / iters)`` called before the i-th update of each epoch.

    Args:
      base_lr: the rate at each restart, a number >= 0 (or a traced scalar).
      t_0: the steps of the first cycle, an integer >= 1.
      t_mult: the factor by which each cycle is longer than the last, an integer >= 1.
      eta_min: the lowest rate, a number >= 0.

    Returns:
      A schedule: a function ``count -> learning rate``.

    >>> import jopt.schedules as schedules
    >>> sched = schedules.cosine_annealing_warm_restarts(1.0, t_0=2, t_mult=2)
    >>> [round(float(sched(k)), 6) for k in range(7)]
    [1.0, 0.5, 1.0, 0.853553, 0.5, 0.146447, 1.0]
    >>> round(float(sched(2.5)), 6)  # a fractional count
    0.96194
    """

    def schedule(count: Any) -> jax.Array:
        count = as_count(count)
        dtype = float_dtype(base_lr, eta_min)
        if t_mult == 1:
            t_cur = count_mod(count, t_0)
            left = (t_0 - t_cur).astype(dtype)  # steps to the end of the cycle
            t_i = jnp.full([], t_0, dtype)
        else:
            # Start and length of every cycle that begins within the count's range.
            integer = jnp.issubdtype(count.dtype, jnp.integer)
            limit = int(jnp.iinfo(count.dtype).max) if integer else 2**64
            starts, lengths = [0], [t_0]
            while starts[-1] + lengths[-1] <= limit:
                starts.append(starts[-1] + lengths[-1])
                lengths.append(lengths[-1] * t_mult)
            cycle = jnp.searchsorted(jnp.asarray(starts[1:], count.dtype), count, side="right")
            t_cur = count - jnp.asarray(starts, count.dtype)[cycle]
            # Steps to the cycle's end: exact in integers, except in a last cycle longer
            # than the count's type holds (only its first counts exist), in floats.
            fits = [n <= limit for n in lengths]
            exact = jnp.asarray([min(n, limit) for n in lengths], count.dtype)[cycle] - t_cur
            t_i = jnp.asarray(np.asarray(lengths, np.float64), wide_dtype())[cycle]
            left = jnp.where(
                jnp.asarray(fits)[cycle],
                exact.astype(dtype),
                (t_i - t_cur.astype(t_i.dtype)).astype(dtype),
            )
            t_i = t_i.astype(dtype)
        wave = half_cosine(left, t_i)
        low = cast(eta_min, dtype)
        return low + (cast(base_lr, dtype) - low) * wave

    return described(schedule, "CosineAnnealingWarmRestarts", T_0=t_0, T_mult=t_mult)
