"""The types of hyperparameters: a number, a (possibly traced) JAX scalar, or a schedule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax

Schedule = Callable[[jax.Array], Any]
"""A function ``count -> value`` of the number of updates already applied."""
Scalar = float | jax.Array
ScalarOrSchedule = float | jax.Array | Schedule
Recurrence = Callable[[jax.Array, jax.Array], Any]
"""``step(count, previous) -> schedule(count)``, ``previous`` being ``schedule(count - 1)``."""

_RECURRENCE = "__jopt_recurrence__"


def with_recurrence(schedule: Schedule, step: Recurrence) -> Schedule:
    """Attaches to ``schedule`` its O(1) step from the previous value, returns ``schedule``.

    For a schedule that is a product over steps (``multiplicative_lr``): as a pure function
    of the count it costs O(count), while ``step(count, schedule(count - 1))`` costs O(1)
    and gives the same value (``previous`` is ignored at count 0). The learning-rate step
    (:func:`jopt._core.learning_rate.next_learning_rate`) records the last rate and uses
    ``step``; every other use evaluates ``schedule(count)``. The attribute survives the
    naming wrapper of :func:`jopt._core.checks.checked` (``functools.wraps`` copies it).
    """
    setattr(schedule, _RECURRENCE, step)
    return schedule


def recurrence(schedule: Any) -> Recurrence | None:
    """The step :func:`with_recurrence` attached to ``schedule``, or None."""
    step = getattr(schedule, _RECURRENCE, None)
    return step if callable(step) else None
