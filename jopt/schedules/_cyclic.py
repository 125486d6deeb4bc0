"""CyclicLR: the learning-rate cycle and its momentum half (``cycle_momentum``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jopt._core.checks import (
    Real,
    checked,
    choice,
    closed_unit_interval,
    function,
    nonnegative,
    optional,
    positive,
)
from jopt._core.dtypes import cast
from jopt._core.hyperparams import Scalar
from jopt.schedules._common import (
    Schedule,
    as_count,
    count_div,
    count_mod,
    described,
    float_dtype,
    power,
    wide_dtype,
)

# A half-cycle length: a concrete real number in (0, 2**31 - 1] (it shapes the cycle).
_STEP_SIZE = Real(0.0, 2**31 - 1, lo_open=True, static=True)
# The rules of the cycle's arguments, shared by cyclic_lr and cyclic_momentum.
CYCLE_RULES = dict(
    step_size_up=_STEP_SIZE,
    step_size_down=optional(_STEP_SIZE),
    mode=choice("triangular", "triangular2", "exp_range"),
    gamma=positive(),
    scale_fn=optional(function("a function x -> factor in [0, 1], or None")),
    scale_mode=choice("cycle", "iterations"),
)


def _length(value: Any) -> int | float:
    """A checked half-cycle length as a Python number, kept an int when integral."""
    x = float(value)
    return int(x) if x.is_integer() else x


def cycle(
    step_size_up: Any,
    step_size_down: Any,
    mode: str,
    gamma: Any,
    scale_fn: Any,
    scale_mode: str,
) -> Callable[[jax.Array, Any], jax.Array]:
    """From checked arguments (:data:`CYCLE_RULES`), ``(count, dtype) -> s(count) * scale``
    in [0, 1] (the fraction of the way from the cycle's start value to its peak)."""
    up = _length(step_size_up)
    down = up if step_size_down is None else _length(step_size_down)
    total = up + down

    def fraction(count: jax.Array, dtype: Any) -> jax.Array:
        wide = wide_dtype()
        if isinstance(total, int):
            # Integers: PyTorch's x = 1 + t/total - cycle rounds; these do not (and a
            # period beyond the count's type does not overflow).
            u, passed = count_mod(count, total), count_div(count, total)
            past = jnp.maximum(u - up, 0)
        else:  # a fractional step size: positions in the widest float
            t = count.astype(wide)
            passed = jnp.floor(t / total)
            u = t - passed * total
            past = jnp.maximum(u - up, 0.0)
        rising = u.astype(wide) / up
        falling = (down - past).astype(wide) / down  # distance to the cycle's end
        height = jnp.where(u <= up, rising, falling).astype(dtype)
        if scale_fn is not None:
            x = passed + 1 if scale_mode == "cycle" else count  # PyTorch's cycle is 1-based
            return height * cast(scale_fn(x.astype(wide)), dtype)
        if mode == "triangular2":
            return height * 0.5 ** passed.astype(dtype)
        if mode == "exp_range":
            return height * power(gamma, count, dtype)
        return height

    return fraction


@checked(base_lr=nonnegative(), max_lr=nonnegative(), **CYCLE_RULES)
def cyclic_lr(
    base_lr: Scalar,
    max_lr: Scalar,
    step_size_up: float = 2000,
    step_size_down: float | None = None,
    mode: str = "triangular",
    gamma: Scalar = 1.0,
    scale_fn: Callable[[jax.Array], Any] | None = None,
    scale_mode: str = "cycle",
) -> Schedule:
    """Triangular cycles between ``base_lr`` and ``max_lr``: PyTorch's ``CyclicLR``.

    With ``up = step_size_up``, ``down = step_size_down`` (default ``up``), a cycle of
    ``up + down`` steps, ``u = count mod (up + down)`` and ``cycle = count // (up + down) + 1``::

        s   = u / up               if u <= up     (rising)
              (up + down - u) / down  otherwise   (falling)
        lr  = base_lr + (max_lr - base_lr) * s * scale
        scale = 1 (triangular) | 1 / 2**(cycle - 1) (triangular2) | gamma**count (exp_range)
              | scale_fn(cycle) (scale_mode="cycle") | scale_fn(count) ("iterations")

    A custom ``scale_fn`` replaces ``mode``, as in PyTorch; it receives ``cycle`` or
    ``count`` as a real JAX array in the widest float (traced under ``jit``: write it
    with ``jnp``, ``jnp.where`` rather than ``if``).
    Step sizes may be fractional (PyTorch takes floats) and up to ``2**31 - 1`` each;
    the cycle ``up + down`` may exceed the int32 range. The momentum that PyTorch
    cycles with ``cycle_momentum=True`` is :func:`cyclic_momentum`.

    Args:
      base_lr: the lower rate, where each cycle starts, a number >= 0 (or a traced scalar).
      max_lr: the upper rate, the peak, a number >= 0.
      step_size_up: the steps of the rising half, a real number in (0, 2**31 - 1].
      step_size_down: the steps of the falling half (None: ``step_size_up``).
      mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"`` (the scale above).
      gamma: the base of ``exp_range``'s scale, a number > 0.
      scale_fn: a custom scale, a function ``x -> factor in [0, 1]``, or None.
      scale_mode: what ``scale_fn`` receives, ``"cycle"`` or ``"iterations"`` (the count).

    Returns:
      A schedule: a function ``count -> learning rate``.

    >>> import jopt.schedules as schedules
    >>> sched = schedules.cyclic_lr(0.1, 0.5, step_size_up=2)
    >>> [round(float(sched(k)), 6) for k in range(6)]
    [0.1, 0.3, 0.5, 0.3, 0.1, 0.3]
    >>> halved = schedules.cyclic_lr(0.0, 1.0, 1, scale_fn=lambda c: 0.5 ** (c - 1))
    >>> [float(halved(k)) for k in range(6)]
    [0.0, 1.0, 0.0, 0.5, 0.0, 0.25]
    """
    fraction = cycle(step_size_up, step_size_down, mode, gamma, scale_fn, scale_mode)

    def schedule(count: Any) -> jax.Array:
        count = as_count(count)
        dtype = float_dtype(base_lr, max_lr, gamma)
        low = cast(base_lr, dtype)
        return low + (cast(max_lr, dtype) - low) * fraction(count, dtype)

    return described(schedule, "CyclicLR")


@checked(base_momentum=closed_unit_interval(), max_momentum=closed_unit_interval(), **CYCLE_RULES)
def cyclic_momentum(
    base_momentum: Scalar = 0.8,
    max_momentum: Scalar = 0.9,
    step_size_up: float = 2000,
    step_size_down: float | None = None,
    mode: str = "triangular",
    gamma: Scalar = 1.0,
    scale_fn: Callable[[jax.Array], Any] | None = None,
    scale_mode: str = "cycle",
) -> Schedule:
    """The momentum half of PyTorch's ``CyclicLR(cycle_momentum=True)``.

    Cycled inversely to :func:`cyclic_lr` with the same cycle arguments: ``max_momentum``
    where the rate is ``base_lr``, ``base_momentum`` at its peak::

        momentum = max_momentum - (max_momentum - base_momentum) * s * scale

    (``s`` and ``scale`` as in :func:`cyclic_lr`, PyTorch's defaults 0.8 and 0.9). Pass it
    where PyTorch's scheduler writes: ``jopt.compat.torch.SGD(momentum=...)``,
    ``RMSprop(momentum=...)`` or ``Adam(betas=(sched, 0.999))``; ``cycle_momentum=False``
    is a constant momentum instead.

    Args:
      base_momentum: the momentum at the rate's peak, in [0, 1] (or a traced scalar).
      max_momentum: the momentum where each cycle starts, in [0, 1].
      step_size_up: the steps of the rising half of the rate, a real number in
        (0, 2**31 - 1].
      step_size_down: the steps of the falling half (None: ``step_size_up``).
      mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"``.
      gamma: the base of ``exp_range``'s scale, a number > 0.
      scale_fn: a custom scale, a function ``x -> factor in [0, 1]``, or None.
      scale_mode: what ``scale_fn`` receives, ``"cycle"`` or ``"iterations"``.

    Returns:
      A schedule: a function ``count -> momentum``.

    >>> import jopt.schedules as schedules
    >>> sched = schedules.cyclic_momentum(0.8, 0.9, step_size_up=2)
    >>> [round(float(sched(k)), 6) for k in range(5)]
    [0.9, 0.85, 0.8, 0.85, 0.9]
    """
    fraction = cycle(step_size_up, step_size_down, mode, gamma, scale_fn, scale_mode)

    def schedule(count: Any) -> jax.Array:
        count = as_count(count)
        dtype = float_dtype(base_momentum, max_momentum, gamma)
        high = cast(max_momentum, dtype)
        return high - (high - cast(base_momentum, dtype)) * fraction(count, dtype)

    return schedule
