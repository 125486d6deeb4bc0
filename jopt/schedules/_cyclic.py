"""Cyclical schedules: CyclicLR (triangular, triangular2, exp_range) and OneCycleLR."""

from __future__ import annotations

import math
from typing import Any

import jax.numpy as jnp

from jopt._base import cast
from jopt._validation import check_choice, check_int, check_nonnegative, check_range
from jopt.schedules._common import Schedule, as_count, float_dtype, half_cosine, power


def cyclic_lr(
    base_lr: Any,
    max_lr: Any,
    step_size_up: int = 2000,
    step_size_down: int | None = None,
    mode: str = "triangular",
    gamma: Any = 1.0,
) -> Schedule:
    """Triangular cycles between ``base_lr`` and ``max_lr``: PyTorch's ``CyclicLR``.

    With ``up = step_size_up``, ``down = step_size_down`` (default ``up``), a cycle of
    ``up + down`` steps, ``u = count mod (up + down)`` and ``cycle = count // (up + down) + 1``::

        s   = u / up               if u <= up     (rising)
              (up + down - u) / down  otherwise   (falling)
        lr  = base_lr + (max_lr - base_lr) * s * scale
        scale = 1 (triangular) | 1 / 2**(cycle - 1) (triangular2) | gamma**count (exp_range)

    Step sizes must be integers here (PyTorch also takes floats). PyTorch's custom
    ``scale_fn`` and the momentum cycling (``cycle_momentum``) are not part of this
    schedule.

    >>> import jopt.schedules as schedules
    >>> sched = schedules.cyclic_lr(0.1, 0.5, step_size_up=2)
    >>> [round(float(sched(k)), 6) for k in range(6)]
    [0.1, 0.3, 0.5, 0.3, 0.1, 0.3]
    """
    call = "jopt.schedules.cyclic_lr"
    check_nonnegative(call, "base_lr", base_lr)
    check_nonnegative(call, "max_lr", max_lr)
    up = check_int(call, "step_size_up", step_size_up, 1)
    down = up if step_size_down is None else check_int(call, "step_size_down", step_size_down, 1)
    mode = check_choice(call, "mode", mode, ("triangular", "triangular2", "exp_range"))
    check_range(call, "gamma", gamma, 0.0, math.inf, lo_open=True)
    total = up + down

    def schedule(count):
        count = as_count(call, count)
        dtype = float_dtype(base_lr, max_lr, gamma)
        u = count % total
        # From integers: PyTorch's x = 1 + t/total - cycle rounds; these do not.
        height = jnp.where(u <= up, u.astype(dtype) / up, (total - u).astype(dtype) / down)
        if mode == "triangular2":
            height = height * 0.5 ** (count // total).astype(dtype)
        elif mode == "exp_range":
            height = height * power(gamma, count, dtype)
        low = cast(base_lr, dtype)
        return low + (cast(max_lr, dtype) - low) * height

    return schedule


def one_cycle_lr(
    max_lr: Any,
    total_steps: int,
    pct_start: float = 0.3,
    anneal_strategy: str = "cos",
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
) -> Schedule:
    """The 1cycle policy: PyTorch's ``OneCycleLR`` (learning rate only, no momentum).

    ``initial = max_lr / div_factor``, ``final = initial / final_div_factor``. With
    ``T = total_steps`` and ``p = pct_start`` the phases end at (inclusive)::

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
    ones a ``T``-step PyTorch run uses, equal PyTorch's.

    >>> import jopt.schedules as schedules
    >>> sched = schedules.one_cycle_lr(1.0, total_steps=10, anneal_strategy="linear",
    ...                                div_factor=10.0, final_div_factor=10.0)
    >>> [round(float(sched(k)), 4) for k in (0, 1, 2, 5, 9, 10, 50)]
    [0.1, 0.55, 1.0, 0.5757, 0.01, 0.01, 0.01]
    """
    call = "jopt.schedules.one_cycle_lr"
    check_nonnegative(call, "max_lr", max_lr)
    total_steps = check_int(call, "total_steps", total_steps, 1)
    check_range(call, "pct_start", pct_start, 0.0, 1.0, lo_open=True, hi_open=True)
    anneal_strategy = check_choice(call, "anneal_strategy", anneal_strategy, ("cos", "linear"))
    check_range(call, "div_factor", div_factor, 0.0, math.inf, lo_open=True)
    check_range(call, "final_div_factor", final_div_factor, 0.0, math.inf, lo_open=True)
    pct_start = float(pct_start)
    # Phase ends exactly as PyTorch computes them (float64, before any cast).
    warm_end = pct_start * total_steps - 1
    if warm_end <= 0:
        raise ValueError(
            f"{call}: pct_start={pct_start!r} is invalid with total_steps={total_steps}; "
            "pct_start * total_steps must be > 1 so that the warm-up phase is not empty."
        )
    if three_phase:
        ends = [warm_end, 2 * pct_start * total_steps - 2, float(total_steps - 1)]
        if ends[2] <= ends[1]:
            raise ValueError(
                f"{call}: pct_start={pct_start!r} is invalid with total_steps={total_steps} "
                "and three_phase=True; 2 * pct_start * total_steps - 2 must be < "
                "total_steps - 1 so that the last phase is not empty."
            )
        levels = ["initial", "max", "initial", "final"]
    else:
        ends = [warm_end, float(total_steps - 1)]
        levels = ["initial", "max", "final"]
    starts = [0.0, *ends[:-1]]

    def schedule(count):
        count = as_count(call, count)
        dtype = float_dtype(max_lr)
        peak = cast(max_lr, dtype)
        initial = peak / div_factor
        value = {"initial": initial, "max": peak, "final": initial / final_div_factor}
        t = jnp.clip(count, 0, total_steps - 1).astype(dtype)
        lr = None
        for i in reversed(range(len(ends))):
            a, b = starts[i], ends[i]
            s, e = value[levels[i]], value[levels[i + 1]]
            if anneal_strategy == "cos":
                # (1 + cos(pi x)) / 2 with x = (t - a)/(b - a), from the distance b - t.
                phase_lr = e + (s - e) * half_cosine(b - t, b - a)
            else:
                phase_lr = (s * (b - t) + e * (t - a)) / (b - a)
            lr = phase_lr if lr is None else jnp.where(t <= b, phase_lr, lr)
        return lr

    return schedule
