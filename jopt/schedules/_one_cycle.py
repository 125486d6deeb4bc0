"""OneCycleLR: the 1cycle learning rate and its momentum half (``cycle_momentum``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jopt._base import Scalar, cast
from jopt._validation import check_choice, check_flag, check_int, check_nonnegative, check_range
from jopt.schedules._common import (
    Schedule,
    as_count,
    float_dtype,
    half_cosine,
    static_real,
    wide_dtype,
)

_INT32_MAX = 2**31 - 1


def _total_steps(call: str, total_steps: Any, epochs: Any, steps_per_epoch: Any) -> int:
    """``total_steps``, or ``epochs * steps_per_epoch`` (exactly one of the two given)."""
    if total_steps is not None:
        if epochs is not None or steps_per_epoch is not None:
            raise ValueError(
                f"{call}: total_steps={total_steps!r} and epochs={epochs!r}, "
                f"steps_per_epoch={steps_per_epoch!r} are both given; give total_steps OR "
                "(epochs AND steps_per_epoch)."
            )
        return check_int(call, "total_steps", total_steps, 1)
    if epochs is None or steps_per_epoch is None:
        raise ValueError(
            f"{call}: total_steps is None and epochs={epochs!r}, steps_per_epoch="
            f"{steps_per_epoch!r}; give total_steps OR (epochs AND steps_per_epoch)."
        )
    epochs = check_int(call, "epochs", epochs, 1)
    steps_per_epoch = check_int(call, "steps_per_epoch", steps_per_epoch, 1)
    if epochs * steps_per_epoch > _INT32_MAX:
        raise ValueError(
            f"{call}: epochs * steps_per_epoch = {epochs * steps_per_epoch} is invalid; "
            f"the total must be at most {_INT32_MAX} (the step count is int32)."
        )
    return epochs * steps_per_epoch


def _one_cycle(
    call: str,
    total_steps: Any,
    epochs: Any,
    steps_per_epoch: Any,
    pct_start: Any,
    anneal_strategy: str,
    three_phase: bool,
) -> Callable[[jax.Array, Sequence[jax.Array], Any], jax.Array]:
    """Checks the phase arguments; returns ``(count, levels, dtype) -> value`` that
    anneals from ``levels[i]`` to ``levels[i + 1]`` in phase ``i``."""
    total = _total_steps(call, total_steps, epochs, steps_per_epoch)
    pct = static_real(call, "pct_start", pct_start, 0.0, 1.0, lo_open=True, hi_open=True)
    strategy = check_choice(call, "anneal_strategy", anneal_strategy, ("cos", "linear"))
    three_phase = check_flag(call, "three_phase", three_phase)
    # Phase ends exactly as PyTorch computes them (float64, before any cast).
    warm_end = pct * total - 1
    if warm_end <= 0:
        raise ValueError(
            f"{call}: pct_start={pct!r} is invalid with total_steps={total}; "
            "pct_start * total_steps must be > 1 so that the warm-up phase is not empty."
        )
    ends = [warm_end, float(total - 1)]
    if three_phase:
        ends.insert(1, 2 * pct * total - 2)
        if ends[2] <= ends[1]:
            raise ValueError(
                f"{call}: pct_start={pct!r} is invalid with total_steps={total} and "
                "three_phase=True; 2 * pct_start * total_steps - 2 must be < "
                "total_steps - 1 so that the last phase is not empty."
            )
    starts = [0.0, *ends[:-1]]

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

    >>> import jopt.schedules as schedules
    >>> sched = schedules.one_cycle_lr(1.0, total_steps=10, anneal_strategy="linear",
    ...                                div_factor=10.0, final_div_factor=10.0)
    >>> [round(float(sched(k)), 4) for k in (0, 1, 2, 5, 9, 10, 50)]
    [0.1, 0.55, 1.0, 0.5757, 0.01, 0.01, 0.01]
    """
    call = "jopt.schedules.one_cycle_lr"
    check_nonnegative(call, "max_lr", max_lr)
    check_range(call, "div_factor", div_factor, 0.0, math.inf, lo_open=True)
    check_range(call, "final_div_factor", final_div_factor, 0.0, math.inf, lo_open=True)
    value = _one_cycle(
        call, total_steps, epochs, steps_per_epoch, pct_start, anneal_strategy, three_phase
    )

    def schedule(count):
        count = as_count(call, count)
        dtype = float_dtype(max_lr, div_factor, final_div_factor)
        peak = cast(max_lr, dtype)
        initial = peak / cast(div_factor, dtype)
        final = initial / cast(final_div_factor, dtype)
        levels = [initial, peak, initial, final] if three_phase else [initial, peak, final]
        return value(count, levels, dtype)

    return schedule


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

    >>> import jopt.schedules as schedules
    >>> sched = schedules.one_cycle_momentum(10, anneal_strategy="linear",
    ...                                      base_momentum=0.8, max_momentum=0.9)
    >>> [round(float(sched(k)), 4) for k in (0, 1, 2, 9, 10)]
    [0.9, 0.85, 0.8, 0.9, 0.9]
    """
    call = "jopt.schedules.one_cycle_momentum"
    check_range(call, "base_momentum", base_momentum, 0.0, 1.0)
    check_range(call, "max_momentum", max_momentum, 0.0, 1.0)
    value = _one_cycle(
        call, total_steps, epochs, steps_per_epoch, pct_start, anneal_strategy, three_phase
    )

    def schedule(count):
        count = as_count(call, count)
        dtype = float_dtype(base_momentum, max_momentum)
        low, high = cast(base_momentum, dtype), cast(max_momentum, dtype)
        levels = [high, low, high, high] if three_phase else [high, low, high]
        return value(count, levels, dtype)

    return schedule
