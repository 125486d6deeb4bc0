"""Cosine annealing: CosineAnnealingLR and CosineAnnealingWarmRestarts (SGDR)."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from jopt._base import cast
from jopt._validation import check_int, check_nonnegative
from jopt.schedules._common import Schedule, as_count, float_dtype, half_cosine

_INT32_MAX = 2**31 - 1


def cosine_annealing_lr(base_lr: Any, t_max: int, eta_min: Any = 0.0) -> Schedule:
    """``eta_min + (base_lr - eta_min) * (1 + cos(pi * count / t_max)) / 2``: ``CosineAnnealingLR``.

    The closed form of PyTorch's recursive rule, equal to it when the scheduler runs
    alone. Past ``t_max`` it is periodic (back up to ``base_lr`` at ``2 * t_max``), as in
    PyTorch; it is not clamped at ``eta_min``.

    >>> import jopt.schedules as schedules
    >>> sched = schedules.cosine_annealing_lr(1.0, t_max=4)
    >>> [round(float(sched(k)), 6) for k in range(9)]
    [1.0, 0.853553, 0.5, 0.146447, 0.0, 0.146447, 0.5, 0.853553, 1.0]
    """
    call = "jopt.schedules.cosine_annealing_lr"
    check_nonnegative(call, "base_lr", base_lr)
    t_max = check_int(call, "t_max", t_max, 1)
    check_nonnegative(call, "eta_min", eta_min)

    def schedule(count):
        count = as_count(call, count)
        dtype = float_dtype(base_lr, eta_min)
        # Phase in one period [0, 2 t_max), then the signed distance to the trough.
        phase = count % (2 * t_max)
        wave = half_cosine((t_max - phase).astype(dtype), t_max)
        low = cast(eta_min, dtype)
        return low + (cast(base_lr, dtype) - low) * wave

    return schedule


def cosine_annealing_warm_restarts(
    base_lr: Any, t_0: int, t_mult: int = 1, eta_min: Any = 0.0
) -> Schedule:
    """Cosine annealing restarted every ``T_i`` steps: PyTorch's ``CosineAnnealingWarmRestarts``.

    ``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2`` where cycle
    ``i`` lasts ``T_i = t_0 * t_mult**i`` steps and ``T_cur`` counts steps since the
    last restart. Cycle boundaries are a static table of integers, so counts up to
    ``2**31 - 1`` are exact.

    >>> import jopt.schedules as schedules
    >>> sched = schedules.cosine_annealing_warm_restarts(1.0, t_0=2, t_mult=2)
    >>> [round(float(sched(k)), 6) for k in range(7)]
    [1.0, 0.5, 1.0, 0.853553, 0.5, 0.146447, 1.0]
    """
    call = "jopt.schedules.cosine_annealing_warm_restarts"
    check_nonnegative(call, "base_lr", base_lr)
    t_0 = check_int(call, "t_0", t_0, 1)
    t_mult = check_int(call, "t_mult", t_mult, 1)
    check_nonnegative(call, "eta_min", eta_min)

    # Start and length of every cycle that begins below 2**31.
    starts, lengths = [0], [t_0]
    while t_mult > 1 and starts[-1] + lengths[-1] <= _INT32_MAX:
        starts.append(starts[-1] + lengths[-1])
        lengths.append(lengths[-1] * t_mult)

    def schedule(count):
        count = as_count(call, count)
        dtype = float_dtype(base_lr, eta_min)
        if t_mult == 1:
            t_cur, t_i = count % t_0, jnp.full_like(count, t_0)
        else:
            table = jnp.asarray(starts[1:], count.dtype)
            cycle = jnp.searchsorted(table, count, side="right")
            t_cur = count - jnp.asarray(starts, count.dtype)[cycle]
            t_i = jnp.asarray([min(n, _INT32_MAX) for n in lengths], count.dtype)[cycle]
        wave = half_cosine((t_i - t_cur).astype(dtype), t_i.astype(dtype))
        low = cast(eta_min, dtype)
        return low + (cast(base_lr, dtype) - low) * wave

    return schedule
