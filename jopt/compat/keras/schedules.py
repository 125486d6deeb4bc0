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
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jopt._core.checks import (
    Real,
    UnnamedValueError,
    checked,
    closed_unit_interval,
    flag,
    nonnegative,
    optional,
    text,
)
from jopt._core.dtypes import cast
from jopt._core.hyperparams import Scalar
from jopt.schedules._common import (
    Numbers,
    Schedule,
    as_count,
    float_dtype,
    half_cosine,
    power,
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

_MAX_RESTART_TABLE = 4096  # cycles listed exactly; beyond, Keras' logarithm finds the cycle
# A number of steps that shapes the schedule (a decay span): a concrete real > 0.
_STEPS = Real(0.0, lo_open=True, static=True)
# The rules ExponentialDecay and InverseTimeDecay share.
_DECAY_RULES = dict(
    initial_learning_rate=nonnegative(),
    decay_steps=_STEPS,
    decay_rate=nonnegative(),
    staircase=flag(),
    name=text(),
)


def _one_value_more(arguments: Mapping[str, Any]) -> None:
    bounds, values = arguments["boundaries"], arguments["values"]
    if len(bounds) != len(values) - 1:
        raise UnnamedValueError(
            f"boundaries has {len(bounds)} entries and values {len(values)}, which is "
            "invalid; values must have exactly one entry more than boundaries."
        )


def _increasing(arguments: Mapping[str, Any]) -> None:
    bounds = arguments["boundaries"]
    if any(b <= a for a, b in zip(bounds, bounds[1:], strict=False)):
        raise UnnamedValueError(
            f"boundaries={bounds!r} is invalid; boundaries must be strictly increasing."
        )


def _position(count: Any, decay_steps: float, staircase: bool = False) -> jax.Array:
    """``count / decay_steps`` in the widest float, floored when ``staircase``."""
    p = as_count(count).astype(wide_dtype()) / decay_steps
    return jnp.floor(p) if staircase else p


@checked(**_DECAY_RULES)
def ExponentialDecay(
    initial_learning_rate: Scalar,
    decay_steps: float,
    decay_rate: Scalar,
    staircase: bool = False,
    name: str = "ExponentialDecay",
) -> Schedule:
    """``initial_learning_rate * decay_rate**(count / decay_steps)``: Keras' ``ExponentialDecay``.

    With ``staircase=True`` the exponent is ``floor(count / decay_steps)``.

    Args:
      initial_learning_rate: the rate at count 0, a number >= 0 (or a traced scalar).
      decay_steps: the steps of one decay by ``decay_rate``, a real number > 0.
      decay_rate: the factor per ``decay_steps`` steps, a number >= 0.
      staircase: decay in whole steps of ``decay_steps`` (the exponent floored).
      name: Keras' name of the schedule, a string (unused).

    Returns:
      A schedule: a function ``count -> learning rate``.

    >>> from jopt.compat.keras.schedules import ExponentialDecay
    >>> sched = ExponentialDecay(1.0, decay_steps=2, decay_rate=0.25)
    >>> [float(sched(k)) for k in range(5)]
    [1.0, 0.5, 0.25, 0.125, 0.0625]
    >>> stairs = ExponentialDecay(1.0, 2, 0.25, staircase=True)
    >>> [float(stairs(k)) for k in range(5)]
    [1.0, 1.0, 0.25, 0.25, 0.0625]
    """
    steps = float(decay_steps)

    def schedule(count: Any) -> jax.Array:
        p = _position(count, steps, staircase)
        dtype = float_dtype(initial_learning_rate, decay_rate)
        return cast(initial_learning_rate, dtype) * power(decay_rate, p, dtype)

    return schedule


@checked(
    _one_value_more,
    _increasing,
    boundaries=Numbers(Real(0.0, static=True)),
    values=Numbers(nonnegative()),
    name=text(),
)
def PiecewiseConstantDecay(
    boundaries: Sequence[float], values: Sequence[Scalar], name: str = "PiecewiseConstant"
) -> Schedule:
    """``values[i]`` for ``boundaries[i-1] < count <= boundaries[i]``: ``PiecewiseConstantDecay``.

    ``values[0]`` while ``count <= boundaries[0]``, ``values[-1]`` once ``count >
    boundaries[-1]``. Boundaries are step counts (real numbers >= 0, strictly increasing,
    concrete); values are learning rates (they may be traced).

    Args:
      boundaries: the counts where the rate changes, real numbers >= 0, strictly
        increasing.
      values: the rates, numbers >= 0 (or traced scalars), one more than ``boundaries``.
      name: Keras' name of the schedule, a string (unused).

    Returns:
      A schedule: a function ``count -> learning rate``.

    >>> from jopt.compat.keras.schedules import PiecewiseConstantDecay
    >>> sched = PiecewiseConstantDecay([2, 4], [1.0, 0.5, 0.25])
    >>> [float(sched(k)) for k in range(6)]
    [1.0, 1.0, 1.0, 0.5, 0.5, 0.25]
    """
    bounds = list(boundaries)

    def schedule(count: Any) -> jax.Array:
        t = as_count(count).astype(wide_dtype())
        dtype = float_dtype(*values)
        table = jnp.stack([cast(v, dtype) for v in values])
        if not bounds:
            return jnp.broadcast_to(table[0], t.shape)
        # The number of boundaries strictly below the count.
        return table[jnp.searchsorted(jnp.asarray(bounds, t.dtype), t, side="left")]

    return schedule


@checked(
    initial_learning_rate=nonnegative(),
    decay_steps=_STEPS,
    end_learning_rate=nonnegative(),
    power=nonnegative(),
    cycle=flag(),
    name=text(),
)
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

    Args:
      initial_learning_rate: the rate at count 0, a number >= 0 (or a traced scalar).
      decay_steps: ``D``, the steps of the decay, a real number > 0.
      end_learning_rate: the rate at its end, a number >= 0.
      power: the exponent of the decay, a number >= 0.
      cycle: restart the decay at every multiple of ``decay_steps``.
      name: Keras' name of the schedule, a string (unused).

    Returns:
      A schedule: a function ``count -> learning rate``.

    >>> from jopt.compat.keras.schedules import PolynomialDecay
    >>> sched = PolynomialDecay(1.0, 4, end_learning_rate=0.0, power=2.0)
    >>> [float(sched(k)) for k in range(6)]
    [1.0, 0.5625, 0.25, 0.0625, 0.0, 0.0]
    >>> cyc = PolynomialDecay(1.0, 2, end_learning_rate=0.0, cycle=True)
    >>> [round(float(cyc(k)), 6) for k in range(6)]
    [1.0, 0.5, 0.0, 0.25, 0.0, 0.166667]
    """
    exponent, steps = power, float(decay_steps)

    def schedule(count: Any) -> jax.Array:
        t = as_count(count).astype(wide_dtype())
        dtype = float_dtype(initial_learning_rate, end_learning_rate, exponent)
        if cycle:
            span = steps * jnp.maximum(jnp.ceil(t / steps), 1.0)
        else:
            span, t = jnp.full_like(t, steps), jnp.minimum(t, steps)
        left = ((span - t) / span).astype(dtype)
        end = cast(end_learning_rate, dtype)
        return (cast(initial_learning_rate, dtype) - end) * left ** cast(exponent, dtype) + end

    return schedule


@checked(**_DECAY_RULES)
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

    Args:
      initial_learning_rate: the rate at count 0, a number >= 0 (or a traced scalar).
      decay_steps: the steps per unit of ``decay_rate``, a real number > 0.
      decay_rate: the decay per ``decay_steps`` steps, a number >= 0.
      staircase: decay in whole steps of ``decay_steps`` (``count / decay_steps``
        floored).
      name: Keras' name of the schedule, a string (unused).

    Returns:
      A schedule: a function ``count -> learning rate``.

    >>> from jopt.compat.keras.schedules import InverseTimeDecay
    >>> sched = InverseTimeDecay(1.0, decay_steps=2, decay_rate=1.0)
    >>> [round(float(sched(k)), 6) for k in range(5)]
    [1.0, 0.666667, 0.5, 0.4, 0.333333]
    """
    decay = inverse_time(initial_learning_rate, decay_rate, float(decay_steps), staircase)

    def schedule(count: Any) -> jax.Array:
        return decay(as_count(count))

    return schedule


@checked(
    initial_learning_rate=nonnegative(),
    decay_steps=_STEPS,
    alpha=closed_unit_interval(),
    name=text(),
    warmup_target=optional(nonnegative()),
    warmup_steps=Real(0.0, static=True),
)
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

    Args:
      initial_learning_rate: the rate at count 0, a number >= 0 (or a traced scalar).
      decay_steps: ``D``, the steps of the cosine decay, a real number > 0.
      alpha: the rate at the end of the decay as a fraction of the peak, in [0, 1].
      name: Keras' name of the schedule, a string (unused).
      warmup_target: the peak reached after the warm-up, a number >= 0, or None (no
        warm-up).
      warmup_steps: ``W``, the steps of the warm-up, a real number >= 0.

    Returns:
      A schedule: a function ``count -> learning rate``.

    >>> from jopt.compat.keras.schedules import CosineDecay
    >>> sched = CosineDecay(0.0, decay_steps=4, warmup_target=1.0, warmup_steps=2)
    >>> [round(float(sched(k)), 6) for k in range(8)]
    [0.0, 0.5, 1.0, 0.853553, 0.5, 0.146447, 0.0, 0.0]
    """
    steps = float(decay_steps)
    warmup = 0.0 if warmup_target is None else float(warmup_steps)

    def schedule(count: Any) -> jax.Array:
        t = as_count(count).astype(wide_dtype())
        extra = [] if warmup_target is None else [warmup_target]
        dtype = float_dtype(initial_learning_rate, alpha, *extra)
        start = cast(initial_learning_rate, dtype)
        peak = start if warmup_target is None else cast(warmup_target, dtype)
        s = jnp.clip(t - warmup, 0.0, steps)
        wave = half_cosine((steps - s).astype(dtype), steps)
        a = cast(alpha, dtype)
        lr = peak * ((1.0 - a) * wave + a)
        if warmup > 0:
            done = jnp.minimum(t, warmup)
            warm = (start * (warmup - done).astype(dtype) + peak * done.astype(dtype)) / warmup
            lr = jnp.where(t < warmup, warm, lr)
        return lr

    return schedule


@checked(
    initial_learning_rate=nonnegative(),
    first_decay_steps=_STEPS,
    t_mul=Real(1.0, static=True),
    m_mul=nonnegative(),
    alpha=closed_unit_interval(),
    name=text(),
)
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

    Args:
      initial_learning_rate: the rate at count 0, a number >= 0 (or a traced scalar).
      first_decay_steps: ``T_0``, the steps of the first cycle, a real number > 0.
      t_mul: the factor by which each cycle is longer than the last, a real number >= 1.
      m_mul: the factor by which each cycle's peak is lower than the last, a number >= 0.
      alpha: the rate at the end of a cycle as a fraction of the peak, in [0, 1].
      name: Keras' name of the schedule, a string (unused).

    Returns:
      A schedule: a function ``count -> learning rate``.

    >>> from jopt.compat.keras.schedules import CosineDecayRestarts
    >>> sched = CosineDecayRestarts(1.0, first_decay_steps=2, t_mul=2.0, m_mul=0.5)
    >>> [round(float(sched(k)), 6) for k in range(7)]
    [1.0, 0.5, 0.5, 0.426777, 0.25, 0.073223, 0.25]
    """
    first, t_mul = float(first_decay_steps), float(t_mul)
    # Exact starts and lengths of the first cycles (float64 sums of the lengths).
    starts, lengths = [0.0], [first]
    while t_mul > 1 and len(starts) < _MAX_RESTART_TABLE and starts[-1] + lengths[-1] < 2**63:
        starts.append(starts[-1] + lengths[-1])
        lengths.append(lengths[-1] * t_mul)
    table_end = starts[-1] + lengths[-1]

    def schedule(count: Any) -> jax.Array:
        t = as_count(count).astype(wide_dtype())
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
