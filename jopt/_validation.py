"""Eager configuration checks shared by every factory.

Hyperparameters may be Python numbers, concrete arrays or tracers (``vmap`` over
learning rates, ``inject_hyperparams`` under ``jit``). Only concrete values are
checked; a traced value is the caller's responsibility, as in optax.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import numpy as np


def concrete_values(value: Any) -> np.ndarray | None:
    """The value as a float64 NumPy array, or None when it is traced or a schedule."""
    if callable(value) or isinstance(value, jax.core.Tracer):
        return None
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def _fmt(lo: float, hi: float, lo_open: bool, hi_open: bool) -> str:
    return f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"


def check_range(
    call: str,
    name: str,
    value: Any,
    lo: float = -math.inf,
    hi: float = math.inf,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    message: str | None = None,
) -> None:
    """Raises ValueError naming ``call``, ``name``, the value and the valid range.

    ``message`` replaces "``name``=value is invalid" with a ported library's own wording,
    e.g. torch's "Invalid learning rate: value".

    >>> check_range("jopt.rmsprop", "rho", 1.5, 0.0, 1.0, hi_open=True)
    Traceback (most recent call last):
    ...
    ValueError: jopt.rmsprop: rho=1.5 is invalid; rho must be in [0, 1).
    """
    values = concrete_values(value)
    if values is None:
        return
    bad = (
        np.isnan(values)
        | (values <= lo if lo_open else values < lo)
        | (values >= hi if hi_open else values > hi)
    )
    if np.any(bad):
        shown = value if np.ndim(values) == 0 else values[bad].tolist()
        what = f"{message}: {shown}" if message else f"{name}={shown!r} is invalid"
        raise ValueError(
            f"{call}: {what}; {name} must be in "
            f"{_fmt(lo, hi, lo_open or lo == -math.inf, hi_open or hi == math.inf)}."
        )


def check_nonnegative(call: str, name: str, value: Any) -> None:
    check_range(call, name, value, 0.0, math.inf)


def check_learning_rate(call: str, value: Any) -> None:
    """A learning rate is a number >= 0 or a schedule ``count -> value``."""
    if callable(value):
        return
    check_range(call, "learning_rate", value, 0.0, math.inf)


def check_nesterov(call: str, momentum: Any, dampening: Any, nesterov: bool) -> None:
    """PyTorch's rule: Nesterov momentum needs a momentum > 0 and no dampening."""
    if not nesterov:
        return
    m, d = concrete_values(momentum), concrete_values(dampening)
    if (m is not None and np.any(m <= 0)) or (d is not None and np.any(d != 0)):
        raise ValueError(
            f"{call}: Nesterov momentum requires a momentum and zero dampening "
            f"(got momentum={momentum!r}, dampening={dampening!r}); set momentum > 0 and "
            "dampening=0, or nesterov=False."
        )


def check_int(call: str, name: str, value: Any, minimum: int) -> int:
    """A static integer argument (a shape, a step count): must be a Python int >= minimum."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(
            f"{call}: {name}={value!r} is invalid; {name} must be an integer >= {minimum}."
        )
    return int(value)


def check_choice(call: str, name: str, value: Any, choices: tuple[str, ...]) -> str:
    """A string option (a mode): must be one of ``choices``.

    >>> check_choice("jopt.schedules.one_cycle_lr", "anneal_strategy", "exp", ("cos", "linear"))
    Traceback (most recent call last):
    ...
    ValueError: jopt.schedules.one_cycle_lr: anneal_strategy='exp' is invalid; ...
    """
    if not isinstance(value, str) or value not in choices:
        raise ValueError(
            f"{call}: {name}={value!r} is invalid; {name} must be one of "
            f"{', '.join(repr(c) for c in choices)}."
        )
    return value
