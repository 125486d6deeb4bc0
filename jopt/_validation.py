"""Eager configuration checks shared by every factory: the one home of every input rule.

Hyperparameters may be Python or NumPy numbers, concrete arrays or tracers (``vmap``
over learning rates, ``inject_hyperparams`` under ``jit``). Concrete values are checked
at construction; a traced value is the caller's responsibility, as in optax. A value of
the wrong kind (a string, a list, a complex or boolean number, an array with more than
one element) is a ``TypeError``; a number outside its range (NaN and ±inf included) is a
``ValueError``. Every message names the call, the argument, the value and what is valid.
"""

from __future__ import annotations

import math
import numbers
import typing
from typing import Any

import jax
import jax.core
import jax.numpy as jnp
import numpy as np


def is_traced(value: Any) -> bool:
    return isinstance(value, jax.core.Tracer)


def concrete_values(value: Any) -> np.ndarray | None:
    """A real scalar as a float64 NumPy array; None when traced, a schedule or not numeric."""
    if callable(value) or is_traced(value):
        return None
    try:
        values = np.asarray(value)
    except (TypeError, ValueError):
        return None
    if values.dtype.kind not in "biuf" and not jnp.issubdtype(values.dtype, jnp.floating):
        return None
    return values.astype(np.float64)


def _kind_error(call: str, name: str, value: Any, want: str) -> TypeError:
    return TypeError(f"{call}: {name}={value!r} is invalid; {name} must be {want}.")


def check_real(call: str, name: str, value: Any, *, schedule: bool = False) -> None:
    """``value`` is a real scalar (Python/NumPy number or a 0-d array), a tracer, or,
    with ``schedule=True``, a function ``count -> value``. Raises TypeError otherwise."""
    want = (
        "a real number or a schedule (a function count -> value)" if schedule else ("a real number")
    )
    if callable(value):
        if schedule:
            return
        raise _kind_error(call, name, value, want)
    if is_traced(value):
        if jnp.ndim(value) != 0 or not jnp.issubdtype(value.dtype, np.number):
            raise TypeError(
                f"{call}: {name} is a traced array of shape {jnp.shape(value)} and dtype "
                f"{value.dtype}; {name} must be {want} (a scalar)."
            )
        if jnp.issubdtype(value.dtype, jnp.complexfloating):
            raise _kind_error(call, name, value, want)
        return
    if isinstance(value, (bool, np.bool_)) or value is None:
        raise _kind_error(call, name, value, want)
    if isinstance(value, numbers.Number) and not isinstance(value, numbers.Real):
        raise _kind_error(call, name, value, want)  # complex
    if not isinstance(value, (numbers.Real, np.ndarray, jax.Array)):
        raise _kind_error(call, name, value, want)  # str, list, dict, ...
    dtype = np.asarray(value).dtype if not isinstance(value, jax.Array) else value.dtype
    value = typing.cast(Any, value)  # a number or an array, as checked above
    if np.ndim(value) != 0:
        raise TypeError(
            f"{call}: {name} has shape {np.shape(value)}; {name} must be {want} "
            "(a scalar, not an array)."
        )
    if dtype.kind not in "iuf" and not jnp.issubdtype(dtype, jnp.floating):
        raise _kind_error(call, name, value, want)  # bool, complex or object arrays


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
    allow_inf: bool = False,
    schedule: bool = False,
    message: str | None = None,
) -> None:
    """A real scalar in ``[lo, hi]`` (ends open as asked), finite unless ``allow_inf``.

    ``schedule=True`` also accepts a function ``count -> value`` (not checked).
    ``message`` replaces "``name``=value is invalid" with a ported library's own wording,
    e.g. torch's "Invalid learning rate: value".

    >>> check_range("jopt.rmsprop", "rho", 1.5, 0.0, 1.0, hi_open=True)
    Traceback (most recent call last):
    ...
    ValueError: jopt.rmsprop: rho=1.5 is invalid; rho must be in [0, 1).
    >>> check_range("jopt.adam", "learning_rate", "0.1", 0.0)
    Traceback (most recent call last):
    ...
    TypeError: jopt.adam: learning_rate='0.1' is invalid; learning_rate must be a real number.
    """
    check_real(call, name, value, schedule=schedule)
    values = concrete_values(value)
    if values is None:
        return
    x = float(values)
    infinite_ok = allow_inf and math.isinf(x)
    bad = (
        math.isnan(x)
        or (math.isinf(x) and not allow_inf)
        or (x <= lo if lo_open and not infinite_ok else x < lo)
        or (x >= hi if hi_open and not infinite_ok else x > hi)
    )
    if bad:
        what = f"{message}: {value}" if message else f"{name}={value!r} is invalid"
        finite = "a finite number " if not allow_inf and not math.isfinite(x) else ""
        raise ValueError(
            f"{call}: {what}; {name} must be {finite}in "
            f"{_fmt(lo, hi, lo_open or lo == -math.inf, hi_open or hi == math.inf)}."
        )


def check_nonnegative(call: str, name: str, value: Any, *, schedule: bool = False) -> None:
    check_range(call, name, value, 0.0, math.inf, schedule=schedule)


def check_unit(call: str, name: str, value: Any, *, schedule: bool = False) -> None:
    """A decay rate β in [0, 1) (a moving average that forgets)."""
    check_range(call, name, value, 0.0, 1.0, hi_open=True, schedule=schedule)


def check_learning_rate(call: str, value: Any, name: str = "learning_rate") -> None:
    """A learning rate is a finite number >= 0 or a schedule ``count -> value``."""
    check_range(call, name, value, 0.0, math.inf, schedule=True)


def check_optional(call: str, name: str, value: Any, *, schedule: bool = False) -> None:
    """An optional feature's strength: ``None`` (off) or a finite number >= 0."""
    if value is not None:
        check_nonnegative(call, name, value, schedule=schedule)


def check_nesterov(call: str, momentum: Any, dampening: Any, nesterov: bool) -> None:
    """PyTorch's rule: Nesterov momentum needs a momentum > 0 and no dampening."""
    check_flag(call, "nesterov", nesterov)
    if not nesterov:
        return
    m = None if momentum is None else concrete_values(momentum)
    d = None if dampening is None else concrete_values(dampening)
    if momentum is None or (m is not None and np.any(m <= 0)) or (d is not None and np.any(d != 0)):
        raise ValueError(
            f"{call}: Nesterov momentum requires a momentum and zero dampening "
            f"(got momentum={momentum!r}, dampening={dampening!r}); set momentum > 0 and "
            "dampening=0, or nesterov=False."
        )


def check_flag(call: str, name: str, value: Any) -> bool:
    """A switch: must be a bool (True/False), not a number or a string."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{call}: {name}={value!r} is invalid; {name} must be True or False.")
    return bool(value)


def check_int(
    call: str,
    name: str,
    value: Any,
    minimum: int,
    maximum: int = 2**31 - 1,
    why: str = "the step count is int32",
) -> int:
    """A static integer argument (a shape, a step count), ``minimum <= value <= maximum``.

    Python and NumPy integers and concrete integer 0-d arrays are accepted; the upper
    bound keeps int32 step arithmetic exact.
    """
    if isinstance(value, (bool, np.bool_)) or is_traced(value):
        ok = False
    elif isinstance(value, (int, np.integer)):
        ok = True
    else:
        ok = isinstance(value, (np.ndarray, jax.Array)) and (
            np.ndim(value) == 0 and jnp.issubdtype(value.dtype, jnp.integer)
        )
    if not ok:
        raise TypeError(
            f"{call}: {name}={value!r} is invalid; {name} must be an integer >= {minimum}."
        )
    if int(value) < minimum:
        raise ValueError(
            f"{call}: {name}={int(value)!r} is invalid; {name} must be an integer >= {minimum}."
        )
    if int(value) > maximum:
        raise ValueError(
            f"{call}: {name}={int(value)!r} is invalid; {name} must be an integer in "
            f"[{minimum}, {maximum}] ({why})."
        )
    return int(value)


def check_count(call: str, name: str, value: Any, minimum: int) -> Any:
    """An integer hyperparameter that may be traced (``inject_hyperparams``): checked when
    concrete, returned as given."""
    if is_traced(value):
        if jnp.ndim(value) != 0 or not jnp.issubdtype(value.dtype, jnp.integer):
            raise TypeError(f"{call}: {name} must be an integer scalar, got {value}.")
        return value
    return check_int(call, name, value, minimum)


def check_choice(call: str, name: str, value: Any, choices: tuple[str, ...]) -> str:
    """A string option (a mode): must be one of ``choices``.

    >>> check_choice("jopt.schedules.one_cycle_lr", "anneal_strategy", "exp", ("cos", "linear"))
    Traceback (most recent call last):
    ...
    ValueError: jopt.schedules.one_cycle_lr: anneal_strategy='exp' is invalid; ...
    """
    if not isinstance(value, str):
        raise TypeError(
            f"{call}: {name}={value!r} is invalid; {name} must be one of "
            f"{', '.join(repr(c) for c in choices)}."
        )
    if value not in choices:
        raise ValueError(
            f"{call}: {name}={value!r} is invalid; {name} must be one of "
            f"{', '.join(repr(c) for c in choices)}."
        )
    return value


def check_dtype(call: str, name: str, value: Any) -> jnp.dtype | None:
    """A state dtype: None (the rule's default) or a floating-point dtype."""
    if value is None:
        return None
    try:
        dtype = jnp.dtype(value)
    except TypeError:
        dtype = None
    if dtype is None or not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(
            f"{call}: {name}={value!r} is invalid; {name} must be None or a floating-point "
            "dtype such as jnp.float32 or jnp.bfloat16."
        )
    return dtype


def check_transformation(
    call: str, name: str, value: Any, example: str = "jopt.adam(1e-3)"
) -> None:
    """TypeError unless ``value`` is a gradient transformation (callable init and update)."""
    if not (callable(getattr(value, "init", None)) and callable(getattr(value, "update", None))):
        raise _kind_error(
            call, name, value, f"an optax gradient transformation (init, update), e.g. {example}"
        )


def check_callable(call: str, name: str, value: Any, what: str) -> None:
    if not callable(value):
        raise TypeError(f"{call}: {name}={value!r} is invalid; {name} must be {what}.")
