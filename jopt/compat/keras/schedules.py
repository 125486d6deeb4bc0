"""``keras.optimizers.schedules``: Keras 3's learning-rate schedules as functions ``count -> lr``.

Each factory takes Keras' arguments (names, order, defaults; ``name`` is accepted and
unused) and returns a pure, jittable function of the step count: Keras' ``iterations``,
the number of updates already applied, which is the count every jopt and optax optimizer
hands its ``learning_rate`` schedule. So ``jopt.compat.keras.SGD(learning_rate=
ExponentialDecay(0.1, 1000, 0.96))``, ``jopt.adam(CosineDecay(1e-3, 10_000))`` and
``optax.sgd(PolynomialDecay(0.1, 500))`` all work. The result is in the default float
(float64 with x64 on) or a strongly typed hyperparameter's dtype, as the schedules in
:mod:`jopt.schedules`; a real count evaluates between steps. Arguments are checked at
construction (``TypeError`` / ``ValueError`` naming the call and the argument).

Where Keras' float32 arithmetic cancels (``1 + cos(pi x)`` near the end of a cosine,
``1 - step / decay_steps`` near the end of a polynomial decay; Keras evaluates its cosines
in float32 even for a float64 rate) these compute the same formula without the
cancellation: they agree with the formulas evaluated in float64 to float32 precision,
and with Keras' float32 values to within 1e-6 of the peak rate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np

from jopt._base import Scalar, cast
from jopt._validation import check_flag, check_nonnegative, check_optional, check_range
from jopt.schedules._common import (
    Schedule,
    as_count,
    float_dtype,
    half_cosine,
    power,
    static_real,
    wide_dtype,
)
from jopt.schedules._step import inverse_time

__all__ = [
    "ExponentialDecay",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "InverseTimeDecay",
    "CosineDecay",
    "CosineDecayRestarts",
]

_PREFIX = "jopt.compat.keras.schedules."
_MAX_RESTART_TABLE = 4096  # cycles listed exactly; beyond, Keras' logarithm finds the cycle


def _name(call: str, name: Any) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{call}: name={name!r} is invalid; name must be a string.")


def _steps(call: str, name: str, value: Any) -> float:
    return static_real(call, name, value, 0.0, math.inf, lo_open=True)


def _check_decay(
    call: str, initial: Any, decay_steps: Any, rate: Any, staircase: Any, name: Any
) -> tuple[float, bool]:
    """The arguments ExponentialDecay and InverseTimeDecay share."""
    check_nonnegative(call, "initial_learning_rate", initial)
    decay_steps = _steps(call, "decay_steps", decay_steps)
    check_nonnegative(call, "decay_rate", rate)
    staircase = check_flag(call, "staircase", staircase)
    _name(call, name)
    return decay_steps, staircase


def _position(count: Any, call: str, decay_steps: float, staircase: bool = False) -> Any:
    """``count / decay_steps`` in the widest float, floored when ``staircase``."""
    p = as_count(call, count).astype(wide_dtype()) / decay_steps
    return jnp.floor(p) if staircase else p


def ExponentialDecay(
    initial_learning_rate: Scalar,
    decay_steps: float,
    decay_rate: Scalar,
    staircase: bool = False,
    name: str = "ExponentialDecay",
) -> Schedule:
    """``initial_learning_rate * decay_rate**(count / decay_steps)``: Keras' ``ExponentialDecay``.

    With ``staircase=True`` the exponent is ``floor(count / decay_steps)``.

    >>> from jopt.compat.keras.schedules import ExponentialDecay
    >>> sched = ExponentialDecay(1.0, decay_steps=2, decay_rate=0.25)
    >>> [float(sched(k)) for k in range(5)]
    [1.0, 0.5, 0.25, 0.125, 0.0625]
    >>> stairs = ExponentialDecay(1.0, 2, 0.25, staircase=True)
    >>> [float(stairs(k)) for k in range(5)]
    [1.0, 1.0, 0.25, 0.25, 0.0625]
    """
    call = _PREFIX + "ExponentialDecay"
    decay_steps, staircase = _check_decay(
        call, initial_learning_rate, decay_steps, decay_rate, staircase, name
    )

    def schedule(count):
        p = _position(count, call, decay_steps, staircase)
        dtype = float_dtype(initial_learning_rate, decay_rate)
        return cast(initial_learning_rate, dtype) * power(decay_rate, p, dtype)

    return schedule


def PiecewiseConstantDecay(
    boundaries: Sequence[float], values: Sequence[Scalar], name: str = "PiecewiseConstant"
) -> Schedule:
    """``values[i]`` for ``boundaries[i-1] < count <= boundaries[i]``: ``PiecewiseConstantDecay``.

    ``values[0]`` while ``count <= boundaries[0]``, ``values[-1]`` once ``count >
    boundaries[-1]``. Boundaries are step counts (real numbers >= 0, strictly increasing,
    concrete); values are learning rates (they may be traced).

    >>> from jopt.compat.keras.schedules import PiecewiseConstantDecay
    >>> sched = PiecewiseConstantDecay([2, 4], [1.0, 0.5, 0.25])
    >>> [float(sched(k)) for k in range(6)]
    [1.0, 1.0, 1.0, 0.5, 0.5, 0.25]
    """
    call = _PREFIX + "PiecewiseConstantDecay"
    for arg, seq in (("boundaries", boundaries), ("values", values)):
        if isinstance(seq, (str, bytes)) or not isinstance(seq, Sequence | np.ndarray):
            raise TypeError(
                f"{call}: {arg}={seq!r} is invalid; {arg} must be a sequence of numbers."
            )
    bounds = [static_real(call, f"boundaries[{i}]", b, 0.0) for i, b in enumerate(boundaries)]
    for i, v in enumerate(values):
        check_nonnegative(call, f"values[{i}]", v)
    if len(bounds) != len(values) - 1:
        raise ValueError(
            f"{call}: boundaries has {len(bounds)} entries and values {len(values)}, which is "
            "invalid; values must have exactly one entry more than boundaries."
        )
    if any(b <= a for a, b in zip(bounds, bounds[1:], strict=False)):
        raise ValueError(
            f"{call}: boundaries={bounds!r} is invalid; boundaries must be strictly increasing."
        )
    _name(call, name)
    values = list(values)

    def schedule(count):
        t = as_count(call, count).astype(wide_dtype())
        dtype = float_dtype(*values)
        table = jnp.stack([cast(v, dtype) for v in values])
        if not bounds:
            return jnp.broadcast_to(table[0], t.shape)
        # The number of boundaries strictly below the count.
        return table[jnp.searchsorted(jnp.asarray(bounds, t.dtype), t, side="left")]

    return schedule


def PolynomialDecay(
    initial_learning_rate: Scalar,
    decay_steps: float,
    end_learning_rate: Scalar = 0.0001,
    power: Scalar = 1.0,
    cycle: bool = False,
    name: str = "PolynomialDecay",
) -> Schedule:
    """From ``initial_learning_rate`` to ``end_learning_rate`` as a power of ``1 - count / D``.

    Keras' ``PolynomialDecay``, with ``D = decay_steps``, ``lr_0 = initial_learning_rate``,
    ``lr_end = end_learning_rate``::

        lr = (lr_0 - lr_end) * (1 - min(count, D) / D)**power + lr_end
        cycle=True:  D = decay_steps * max(1, ceil(count / decay_steps))

    so with ``cycle`` the decay restarts (from a lower start) at every multiple of
    ``decay_steps``. ``1 - count / D`` is computed as ``(D - count) / D``.

    >>> from jopt.compat.keras.schedules import PolynomialDecay
    >>> sched = PolynomialDecay(1.0, 4, end_learning_rate=0.0, power=2.0)
    >>> [float(sched(k)) for k in range(6)]
    [1.0, 0.5625, 0.25, 0.0625, 0.0, 0.0]
    >>> cyc = PolynomialDecay(1.0, 2, end_learning_rate=0.0, cycle=True)
    >>> [round(float(cyc(k)), 6) for k in range(6)]
    [1.0, 0.5, 0.0, 0.25, 0.0, 0.166667]
    """
    call = _PREFIX + "PolynomialDecay"
    check_nonnegative(call, "initial_learning_rate", initial_learning_rate)
    decay_steps = _steps(call, "decay_steps", decay_steps)
    check_nonnegative(call, "end_learning_rate", end_learning_rate)
    check_nonnegative(call, "power", power)
    cycle = check_flag(call, "cycle", cycle)
    _name(call, name)
    exponent = power

    def schedule(count):
        t = as_count(call, count).astype(wide_dtype())
        dtype = float_dtype(initial_learning_rate, end_learning_rate, exponent)
        if cycle:
            span = decay_steps * jnp.maximum(jnp.ceil(t / decay_steps), 1.0)
        else:
            span, t = jnp.full_like(t, decay_steps), jnp.minimum(t, decay_steps)
        left = ((span - t) / span).astype(dtype)
        end = cast(end_learning_rate, dtype)
        return (cast(initial_learning_rate, dtype) - end) * left ** cast(exponent, dtype) + end

    return schedule


def InverseTimeDecay(
    initial_learning_rate: Scalar,
    decay_steps: float,
    decay_rate: Scalar,
    staircase: bool = False,
    name: str = "InverseTimeDecay",
) -> Schedule:
    """``initial_learning_rate / (1 + decay_rate * count / decay_steps)``: ``InverseTimeDecay``.

    With ``staircase=True``, ``count / decay_steps`` is floored. (With ``decay_steps=1`` it
    is :func:`jopt.schedules.inverse_time_decay`, tf.keras 2's legacy ``decay``.)

    >>> from jopt.compat.keras.schedules import InverseTimeDecay
    >>> sched = InverseTimeDecay(1.0, decay_steps=2, decay_rate=1.0)
    >>> [round(float(sched(k)), 6) for k in range(5)]
    [1.0, 0.666667, 0.5, 0.4, 0.333333]
    """
    call = _PREFIX + "InverseTimeDecay"
    decay_steps, staircase = _check_decay(
        call, initial_learning_rate, decay_steps, decay_rate, staircase, name
    )
    decay = inverse_time(initial_learning_rate, decay_rate, decay_steps, staircase)

    def schedule(count):
        return decay(as_count(call, count))

    return schedule


def CosineDecay(
    initial_learning_rate: Scalar,
    decay_steps: float,
    alpha: Scalar = 0.0,
    name: str = "CosineDecay",
    warmup_target: Scalar | None = None,
    warmup_steps: float = 0,
) -> Schedule:
    """Optional linear warm-up, then a cosine decay to ``alpha`` times the peak: ``CosineDecay``.

    Keras' ``CosineDecay``, with ``D = decay_steps``, ``W = warmup_steps`` and ``peak =
    warmup_target`` (``initial_learning_rate`` when ``warmup_target`` is None, and then
    ``W`` is ignored, as in Keras)::

        count < W:  lr = initial_learning_rate + (peak - initial_learning_rate) * count / W
        otherwise:  lr = peak * ((1 - alpha) * (1 + cos(pi * s / D)) / 2 + alpha),
                    s = min(count - W, D)

    >>> from jopt.compat.keras.schedules import CosineDecay
    >>> sched = CosineDecay(0.0, decay_steps=4, warmup_target=1.0, warmup_steps=2)
    >>> [round(float(sched(k)), 6) for k in range(8)]
    [0.0, 0.5, 1.0, 0.853553, 0.5, 0.146447, 0.0, 0.0]
    """
    call = _PREFIX + "CosineDecay"
    check_nonnegative(call, "initial_learning_rate", initial_learning_rate)
    decay_steps = _steps(call, "decay_steps", decay_steps)
    check_range(call, "alpha", alpha, 0.0, 1.0)
    _name(call, name)
    check_optional(call, "warmup_target", warmup_target)
    warmup = static_real(call, "warmup_steps", warmup_steps, 0.0)
    if warmup_target is None:
        warmup = 0.0

    def schedule(count):
        t = as_count(call, count).astype(wide_dtype())
        extra = [] if warmup_target is None else [warmup_target]
        dtype = float_dtype(initial_learning_rate, alpha, *extra)
        start = cast(initial_learning_rate, dtype)
        peak = start if warmup_target is None else cast(warmup_target, dtype)
        s = jnp.clip(t - warmup, 0.0, decay_steps)
        wave = half_cosine((decay_steps - s).astype(dtype), decay_steps)
        a = cast(alpha, dtype)
        lr = peak * ((1.0 - a) * wave + a)
        if warmup > 0:
            done = jnp.minimum(t, warmup)
            warm = (start * (warmup - done).astype(dtype) + peak * done.astype(dtype)) / warmup
            lr = jnp.where(t < warmup, warm, lr)
        return lr

    return schedule


def CosineDecayRestarts(
    initial_learning_rate: Scalar,
    first_decay_steps: float,
    t_mul: float = 2.0,
    m_mul: Scalar = 1.0,
    alpha: Scalar = 0.0,
    name: str = "SGDRDecay",
) -> Schedule:
    """Cosine decay with warm restarts (SGDR): Keras' ``CosineDecayRestarts``.

    Cycle ``i`` lasts ``T_i = first_decay_steps * t_mul**i`` steps and starts at
    ``S_i = T_0 + ... + T_{i-1}``; within it, with ``x = (count - S_i) / T_i``::

        lr = initial_learning_rate * ((1 - alpha) * m_mul**i * (1 + cos(pi * x)) / 2 + alpha)

    Keras finds ``i`` with a floating-point logarithm, which can misplace a restart by one
    step; here the first 4096 cycle starts are a table of exact sums (beyond, for
    ``t_mul`` barely above 1, Keras' logarithm is used). ``t_mul`` must be >= 1:
    shrinking cycles (Keras accepts ``t_mul < 1``) end after ``first_decay_steps / (1 -
    t_mul)`` steps, where Keras returns NaN.

    >>> from jopt.compat.keras.schedules import CosineDecayRestarts
    >>> sched = CosineDecayRestarts(1.0, first_decay_steps=2, t_mul=2.0, m_mul=0.5)
    >>> [round(float(sched(k)), 6) for k in range(7)]
    [1.0, 0.5, 0.5, 0.426777, 0.25, 0.073223, 0.25]
    """
    call = _PREFIX + "CosineDecayRestarts"
    check_nonnegative(call, "initial_learning_rate", initial_learning_rate)
    first = _steps(call, "first_decay_steps", first_decay_steps)
    t_mul = static_real(call, "t_mul", t_mul, 1.0)
    check_nonnegative(call, "m_mul", m_mul)
    check_range(call, "alpha", alpha, 0.0, 1.0)
    _name(call, name)
    # Exact starts and lengths of the first cycles (float64 sums of the lengths).
    starts, lengths = [0.0], [first]
    while t_mul > 1 and len(starts) < _MAX_RESTART_TABLE and starts[-1] + lengths[-1] < 2**63:
        starts.append(starts[-1] + lengths[-1])
        lengths.append(lengths[-1] * t_mul)
    table_end = starts[-1] + lengths[-1]

    def schedule(count):
        t = as_count(call, count).astype(wide_dtype())
        dtype = float_dtype(initial_learning_rate, m_mul, alpha)
        if t_mul == 1:
            i = jnp.floor(t / first)
            left, length = first * (i + 1) - t, jnp.full_like(t, first)
        else:
            i = jnp.searchsorted(jnp.asarray(starts[1:], t.dtype), t, side="right")
            left = jnp.asarray(starts[1:] + [table_end], t.dtype)[i] - t
            length = jnp.asarray(lengths, t.dtype)[i]
            if len(starts) == _MAX_RESTART_TABLE:  # past the table: Keras' logarithm
                far = jnp.floor(jnp.log1p(t / first * (t_mul - 1)) / math.log(t_mul))
                far_length = first * t_mul**far
                far_left = first * (t_mul ** (far + 1) - 1) / (t_mul - 1) - t
                beyond = t >= table_end
                i = jnp.where(beyond, far, i.astype(t.dtype))
                left = jnp.where(beyond, far_left, left)
                length = jnp.where(beyond, far_length, length)
        wave = half_cosine(left.astype(dtype), length.astype(dtype))
        a = cast(alpha, dtype)
        decayed = (1.0 - a) * power(m_mul, i, dtype) * wave + a
        return cast(initial_learning_rate, dtype) * decayed

    return schedule
