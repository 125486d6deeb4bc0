"""OneCycleLR: the 1cycle learning rate and its momentum half (``cycle_momentum``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jopt._core.checks import (
    Real,
    UnnamedValueError,
    checked,
    choice,
    closed_unit_interval,
    flag,
    integer,
    nonnegative,
    optional,
    positive,
)
from jopt._core.dtypes import cast
from jopt._core.hyperparams import Scalar
from jopt.schedules._common import (
    Schedule,
    as_count,
    described,
    float_dtype,
    half_cosine,
    wide_dtype,
)

_INT32_MAX = 2**31 - 1


def _total(arguments: Mapping[str, Any]) -> int | None:
    """``total_steps``, or ``epochs * steps_per_epoch``; None when neither is given."""
    total, epochs, per_epoch = (
        arguments["total_steps"],
        arguments["epochs"],
        arguments["steps_per_epoch"],
    )
    if total is not None:
        return total
    return None if epochs is None or per_epoch is None else epochs * per_epoch


def _one_length(arguments: Mapping[str, Any]) -> None:
    """``total_steps``, or ``epochs`` and ``steps_per_epoch``: exactly one of the two."""
    total, epochs, per_epoch = (
        arguments["total_steps"],
        arguments["epochs"],
        arguments["steps_per_epoch"],
    )
    if total is not None:
        if epochs is not None or per_epoch is not None:
            raise UnnamedValueError(
                f"total_steps={total!r} and epochs={epochs!r}, "
                f"steps_per_epoch={per_epoch!r} are both given; give total_steps OR "
                "(epochs AND steps_per_epoch)."
            )
        return
    if epochs is None or per_epoch is None:
        raise UnnamedValueError(
            f"total_steps is None and epochs={epochs!r}, steps_per_epoch="
            f"{per_epoch!r}; give total_steps OR (epochs AND steps_per_epoch)."
        )
    if epochs * per_epoch > _INT32_MAX:
        raise UnnamedValueError(
            f"epochs * steps_per_epoch = {epochs * per_epoch} is invalid; "
            f"the total must be at most {_INT32_MAX} (the step count is int32)."
        )


def _phase_ends(pct: float, total: int, three_phase: bool) -> list[float]:
    """The last count of each phase, exactly as PyTorch computes them (float64)."""
    ends = [pct * total - 1, float(total - 1)]
    if three_phase:
        ends.insert(1, 2 * pct * total - 2)
    return ends


def _phases_not_empty(arguments: Mapping[str, Any]) -> None:
    total = _total(arguments)
    assert total is not None  # _one_length ran first
    pct, three_phase = float(arguments["pct_start"]), arguments["three_phase"]
    ends = _phase_ends(pct, total, three_phase)
    if ends[0] <= 0:
        raise UnnamedValueError(
            f"pct_start={pct!r} is invalid with total_steps={total}; "
            "pct_start * total_steps must be > 1 so that the warm-up phase is not empty."
        )
    if three_phase and ends[2] <= ends[1]:
        raise UnnamedValueError(
            f"pct_start={pct!r} is invalid with total_steps={total} and "
            "three_phase=True; 2 * pct_start * total_steps - 2 must be < "
            "total_steps - 1 so that the last phase is not empty."
        )


# The rules of the phases, shared by one_cycle_lr and one_cycle_momentum (the relations
# _one_length, then _phases_not_empty, check them together).
PHASE_RULES = dict(
    total_steps=optional(integer(1)),
    pct_start=Real(0.0, 1.0, lo_open=True, hi_open=True, static=True),
    anneal_strategy=choice("cos", "linear"),
    three_phase=flag(),
    epochs=optional(integer(1)),
    steps_per_epoch=optional(integer(1)),
)


def one_cycle(
    total_steps: int | None,
    epochs: int | None,
    steps_per_epoch: int | None,
    pct_start: Any,
    anneal_strategy: str,
    three_phase: bool,
) -> Callable[[jax.Array, Sequence[jax.Array], Any], jax.Array]:
    """From checked arguments (:data:`PHASE_RULES`), ``(count, levels, dtype) -> value``
    that anneals from ``levels[i]`` to ``levels[i + 1]`` in phase ``i``."""
    total = _total(dict(total_steps=total_steps, epochs=epochs, steps_per_epoch=steps_per_epoch))
    assert total is not None  # checked
    ends = _phase_ends(float(pct_start), total, three_phase)
    starts = [0.0, *ends[:-1]]
    strategy = anneal_strategy

    def value(count: jax.Array, levels: Sequence[jax.Array], dtype: Any) -> jax.Array:
        # Positions in the widest float; past the end the count is held at T - 1.
        t = jnp.clip(count.astype(wide_dtype()), 0, total - 1)
        out = None
        for i in reversed(range(len(ends))):
            a, b = starts[i], ends[i]
            if strategy == "cos":
                # start (1 + cos(pi x))/2 + end (1 - cos(pi x))/2, x = (t - a)/(b - a),
                # both weights from distances, so neither cancels.
                w_start, w_end = half_cosine(b - t, b - a), half_cosine(t - a, b - a)
            else:
                w_start, w_end = (b - t) / (b - a), (t - a) / (b - a)
            phase = levels[i] * w_start.astype(dtype) + levels[i + 1] * w_end.astype(dtype)
            out = phase if out is None else jnp.where(t <= b, phase, out)
        assert out is not None  # at least two phases
        return out

    return value


@checked(
    _one_length,
    _phases_not_empty,
    max_lr=nonnegative(),
    div_factor=positive(),
    final_div_factor=positive(),
    **PHASE_RULES,
)
def one_cycle_lr(
    max_lr: Scalar,
    total_steps: int | None = None,
    pct_start: float = 0.3,
    anneal_strategy: str = "cos",
    div_factor: Scalar = 25.0,
    final_div_factor: Scalar = 1e4,
    three_phase: bool = False,
    *,
    epochs: int | None = None,
    steps_per_epoch: int | None = None,
) -> Schedule:
    """The 1cycle policy: PyTorch's ``OneCycleLR``, its learning rate.

    ``T = total_steps``, or ``epochs * steps_per_epoch`` (PyTorch's alternative; give one
    or the other). ``initial = max_lr / div_factor``, ``final = initial /
    final_div_factor``. With ``p = pct_start`` the phases end at (inclusive)::

        two phases:   p*T - 1: initial -> max_lr,   T - 1: max_lr -> final
        three_phase:  p*T - 1: initial -> max_lr,   2*p*T - 2: max_lr -> initial,
                      T - 1: initial -> final

    and inside a phase ``[a, b]`` going from ``s`` to ``e`` with ``x = (count - a) / (b - a)``::

        cos:    e + (s - e) * (1 + cos(pi * x)) / 2
        linear: s + (e - s) * x

    Past the end: PyTorch raises once ``count > T`` and, at ``count == T``, extrapolates
    the last phase (in ``'linear'`` mode that can give a negative rate). Under ``jit``
    neither can be reproduced sensibly, so every ``count >= T - 1`` returns the final
    rate ``final`` (the count is clamped to ``T - 1``). The first ``T`` rates, all the
    ones a ``T``-step PyTorch run uses, equal PyTorch's. The momentum that PyTorch
    cycles with ``cycle_momentum=True`` is :func:`one_cycle_momentum`.

    Args:
      max_lr: the peak rate, a number >= 0 (or a traced scalar).
      total_steps: ``T``, the steps of the cycle, an integer >= 1 (or None with
        ``epochs`` and ``steps_per_epoch``).
      pct_start: ``p``, the fraction of ``T`` spent warming up, in (0, 1).
      anneal_strategy: ``"cos"`` or ``"linear"``.
      div_factor: ``max_lr / initial``, a number > 0.
      final_div_factor: ``initial / final``, a number > 0.
      three_phase: anneal back to ``initial`` before the final decay.
      epochs: with ``steps_per_epoch``, ``T = epochs * steps_per_epoch``, an integer >= 1.
      steps_per_epoch: an integer >= 1 (see ``epochs``).

    Returns:
      A schedule: a function ``count -> learning rate``.

    >>> import jopt.schedules as schedules
    >>> sched = schedules.one_cycle_lr(1.0, total_steps=10, anneal_strategy="linear",
    ...                                div_factor=10.0, final_div_factor=10.0)
    >>> [round(float(sched(k)), 4) for k in (0, 1, 2, 5, 9, 10, 50)]
    [0.1, 0.55, 1.0, 0.5757, 0.01, 0.01, 0.01]
    """
    value = one_cycle(total_steps, epochs, steps_per_epoch, pct_start, anneal_strategy, three_phase)

    def schedule(count: Any) -> jax.Array:
        count = as_count(count)
        dtype = float_dtype(max_lr, div_factor, final_div_factor)
        peak = cast(max_lr, dtype)
        initial = peak / cast(div_factor, dtype)
        final = initial / cast(final_div_factor, dtype)
        levels = [initial, peak, initial, final] if three_phase else [initial, peak, final]
        return value(count, levels, dtype)

    return described(schedule, "OneCycleLR")


@checked(
    _one_length,
    _phases_not_empty,
    base_momentum=closed_unit_interval(),
    max_momentum=closed_unit_interval(),
    **PHASE_RULES,
)
def one_cycle_momentum(
    total_steps: int | None = None,
    pct_start: float = 0.3,
    anneal_strategy: str = "cos",
    base_momentum: Scalar = 0.85,
    max_momentum: Scalar = 0.95,
    three_phase: bool = False,
    *,
    epochs: int | None = None,
    steps_per_epoch: int | None = None,
) -> Schedule:
    """The momentum half of PyTorch's ``OneCycleLR(cycle_momentum=True)``.

    The phases of :func:`one_cycle_lr` (same ``total_steps`` or ``epochs`` and
    ``steps_per_epoch``, ``pct_start``, ``anneal_strategy``, ``three_phase``), the
    momentum going the other way::

        two phases:   max_momentum -> base_momentum -> max_momentum
        three_phase:  max_momentum -> base_momentum -> max_momentum -> max_momentum

    held at ``max_momentum`` for ``count >= T - 1``. Pass it where PyTorch's scheduler
    writes: ``jopt.compat.torch.SGD(momentum=...)``, ``RMSprop(momentum=...)`` or
    ``Adam(betas=(sched, 0.999))``; ``cycle_momentum=False`` is a constant momentum instead.

    Args:
      total_steps: ``T``, the steps of the cycle, an integer >= 1 (or None with
        ``epochs`` and ``steps_per_epoch``).
      pct_start: the fraction of ``T`` spent in the first phase, in (0, 1).
      anneal_strategy: ``"cos"`` or ``"linear"``.
      base_momentum: the momentum at the rate's peak, in [0, 1] (or a traced scalar).
      max_momentum: the momentum at the start and the end, in [0, 1].
      three_phase: the phases of :func:`one_cycle_lr`'s ``three_phase``.
      epochs: with ``steps_per_epoch``, ``T = epochs * steps_per_epoch``, an integer >= 1.
      steps_per_epoch: an integer >= 1 (see ``epochs``).

    Returns:
      A schedule: a function ``count -> momentum``.

    >>> import jopt.schedules as schedules
    >>> sched = schedules.one_cycle_momentum(10, anneal_strategy="linear",
    ...                                      base_momentum=0.8, max_momentum=0.9)
    >>> [round(float(sched(k)), 4) for k in (0, 1, 2, 9, 10)]
    [0.9, 0.85, 0.8, 0.9, 0.9]
    """
    value = one_cycle(total_steps, epochs, steps_per_epoch, pct_start, anneal_strategy, three_phase)

    def schedule(count: Any) -> jax.Array:
        count = as_count(count)
        dtype = float_dtype(base_momentum, max_momentum)
        low, high = cast(base_momentum, dtype), cast(max_momentum, dtype)
        levels = [high, low, high, high] if three_phase else [high, low, high]
        return value(count, levels, dtype)

    return schedule
