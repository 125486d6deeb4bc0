"""Helpers shared by the schedules: the count, the output dtype, the cosine half-wave."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jopt._core.checks import (
    Real,
    Rule,
    UnnamedTypeError,
    UnnamedValueError,
    concrete_values,
    function,
)
from jopt._core.dtypes import cast
from jopt._core.hyperparams import Schedule as Schedule


def float_dtype(*values: Any) -> jnp.dtype:
    """The dtype a schedule computes and returns in.

    The dtype of any strongly typed float hyperparameter (a float32 ``base_lr``, a traced
    one under ``vmap``), else the default float (float32, or float64 with x64 on).
    Python numbers are weakly typed and never force a dtype.
    """
    dtypes: list[Any] = []
    for value in values:
        aval = jax.typeof(value)
        if not aval.weak_type and jnp.issubdtype(aval.dtype, jnp.floating):
            dtypes.append(aval.dtype)
    if not dtypes:
        return jnp.dtype(jnp.result_type(float))
    # Mixed float hyperparameters widen, as they would outside strict mode.
    with jax.numpy_dtype_promotion("standard"):
        return jnp.dtype(jnp.result_type(*dtypes))


def as_count(count: Any, *, integer: bool = False) -> jax.Array:
    """``count`` as an integer or real array (scalar, traced or batched).

    Integer counts are the usual case. A real count (``k / iters_per_epoch``) evaluates
    the schedule between steps, as PyTorch's ``scheduler.step(epoch + i / iters)``;
    ``integer=True`` refuses it (a product over steps has no fractional step). Raises
    :class:`jopt._core.checks.UnnamedTypeError`, which the public schedule names.
    """
    count = jnp.asarray(count)
    ok = jnp.issubdtype(count.dtype, jnp.integer) or (
        not integer and jnp.issubdtype(count.dtype, jnp.floating)
    )
    if not ok:
        want = "an integer array" if integer else "an integer or real array"
        raise UnnamedTypeError(
            f"count must be {want} (the number of updates already applied), "
            f"got dtype {count.dtype}."
        )
    return count


def wide_dtype() -> jnp.dtype:
    """The widest float available (float64 with x64 on): positions within a period."""
    return jnp.dtype(jnp.result_type(float))


def _beyond(count: jax.Array, period: int) -> bool:
    # Counts are >= 0: an integer count whose dtype cannot reach ``period`` is below it.
    return jnp.issubdtype(count.dtype, jnp.integer) and period > jnp.iinfo(count.dtype).max


def count_mod(count: jax.Array, period: int) -> jax.Array:
    """``count % period`` for a count >= 0 and a Python integer period of any size.

    A period beyond the count's integer type (``2 * t_max`` for ``t_max >= 2**30`` in
    int32) would overflow when converted; every count of that type lies in the first
    period, so the count itself is the answer.
    """
    return count if _beyond(count, period) else count % period


def count_div(count: jax.Array, period: int) -> jax.Array:
    """``count // period`` (floor) for a count >= 0 and a Python integer period of any size."""
    return jnp.zeros_like(count) if _beyond(count, period) else count // period


def half_cosine(distance: jax.Array, length: Any) -> jax.Array:
    """``(1 + cos(pi * (length - distance) / length)) / 2`` computed without cancellation.

    Written as ``sin(pi * distance / (2 * length))**2`` with ``distance`` the integer (or
    exact) distance to the end of the half-wave: PyTorch's ``1 + cos(...)`` loses all
    relative precision in float32 as the cosine nears -1 (the end of every annealing),
    where the learning rate is smallest.
    """
    return jnp.sin((math.pi / 2) * distance / length) ** 2


def power(base: Any, exponent: jax.Array, dtype: Any) -> jax.Array:
    """``base ** exponent`` in ``dtype`` for a decay rate ``base`` and a count-like exponent.

    Rounding a concrete ``base`` to float32 alone costs a relative error of about
    ``count * 3e-8`` in ``base**count`` (3e-4 for ``0.999**10_000``). So the rounded
    base is raised by ``**`` and the rounding is put back as ``exp(exponent * log(base /
    rounded))``, its logarithm taken in float64, tiny, and nearly exact. A traced ``base``
    (under ``vmap``) uses ``**`` in ``dtype`` alone.
    """
    exponent = exponent.astype(dtype)
    rounded = cast(base, dtype)
    values = concrete_values(base)
    if values is None or np.ndim(values) != 0 or not values > 0:
        return rounded**exponent
    correction = math.log(float(values)) - math.log(float(values.astype(dtype)))
    if correction == 0.0:
        return rounded**exponent
    return rounded**exponent * jnp.exp(exponent * correction)


_TORCH_CLASS = "__jopt_torch_scheduler__"


def described(schedule: Any, torch_class: str, **arguments: Any) -> Any:
    """Records on ``schedule`` the ``torch.optim.lr_scheduler`` class it reproduces (and
    the arguments a scheduler state needs beyond the count: the warm restarts' periods,
    the children of ``SequentialLR``/``ChainedScheduler``); returns ``schedule``.

    The attribute survives the naming wrapper of :func:`jopt._core.checks.checked`
    (``functools.wraps`` copies it). :func:`jopt.compat.torch.scheduler_state_dict` reads it.
    """
    setattr(schedule, _TORCH_CLASS, (torch_class, arguments))
    return schedule


def description(schedule: Any) -> tuple[str, dict[str, Any]] | None:
    """The torch class (and arguments) :func:`described` recorded on ``schedule``, or None
    (a schedule written by hand).

    >>> import jopt.schedules as schedules
    >>> from jopt.schedules._common import description
    >>> description(schedules.cosine_annealing_warm_restarts(0.1, t_0=5))
    ('CosineAnnealingWarmRestarts', {'T_0': 5, 'T_mult': 1})
    >>> description(lambda count: 0.1) is None
    True
    """
    found = getattr(schedule, _TORCH_CLASS, None)
    return found if isinstance(found, tuple) else None


# ------------------------------------------------------------------- argument rules

SCHEDULE = function("a schedule (a function count -> value)")


def at_least_one(name: str, entries: Sequence[Any]) -> None:
    """A sequence argument that must not be empty."""
    if not entries:
        raise UnnamedValueError(
            f"{name} has 0 entries, which is invalid; {name} must have at least 1."
        )


@dataclass(frozen=True)
class Schedules(Rule):
    """A non-empty sequence of schedules (functions ``count -> value``), returned as a list."""

    kind: ClassVar[str] = "schedules"

    def __call__(self, name: str, value: Any) -> Any:
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise UnnamedValueError(
                f"{name}={value!r} is invalid; {name} must be a sequence of "
                "schedules (functions count -> value)."
            )
        entries = [SCHEDULE(f"{name}[{i}]", s) for i, s in enumerate(value)]
        at_least_one(name, entries)
        return entries

    def bad(self) -> dict[str, Any]:
        return {"str": "ab", "number": 0.5, "entry": [0.5], "empty": []}


@dataclass(frozen=True)
class Numbers(Rule):
    """A sequence of numbers, each checked by ``entry`` as ``name[i]``; returned as a list
    (of floats when ``entry`` is static: they shape the schedule)."""

    kind: ClassVar[str] = "numbers"

    entry: Real

    def __call__(self, name: str, value: Any) -> Any:
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence | np.ndarray):
            raise UnnamedTypeError(
                f"{name}={value!r} is invalid; {name} must be a sequence of numbers."
            )
        entries = [self.entry(f"{name}[{i}]", v) for i, v in enumerate(value)]
        return [float(v) for v in entries] if self.entry.static else entries

    def bad(self) -> dict[str, Any]:
        return {"str": "ab", "number": 0.5, "entry": ["0.5"]}
