"""Branching on a value that is traced under ``jit`` and concrete when run eagerly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import jax
import jax.core

T = TypeVar("T")


def cond(pred: Any, true_fn: Callable[[], T], false_fn: Callable[[], T]) -> T:
    """``true_fn()`` if ``pred`` else ``false_fn()``: ``jax.lax.cond`` when ``pred`` is
    traced, a Python branch when it is concrete.

    Eagerly, ``jax.lax.cond`` traces and compiles both branches at every call (its
    branches are new closures each time); choosing in Python runs only the taken branch,
    op by op, as any eager step does. Both branches must return the same structure,
    shapes and dtypes, as ``lax.cond`` requires (``jopt.testing.check_transformation``
    compares a state's signature across steps).
    """
    if isinstance(pred, jax.core.Tracer):
        return jax.lax.cond(pred, true_fn, false_fn)
    return true_fn() if bool(pred) else false_fn()
