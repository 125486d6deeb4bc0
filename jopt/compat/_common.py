"""Shared by the presets: inverse-time lr scaling and checks worded like the originals."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jopt._base import ScalarOrSchedule, evaluate
from jopt._sgd import _is_python_zero
from jopt._validation import check_range, concrete_values


def inverse_time(learning_rate: ScalarOrSchedule, decay: Any) -> ScalarOrSchedule:
    """α(count) / (1 + decay·count): torch Adagrad's ``lr_decay``, tf.keras 2's ``decay``.

    ``count`` is the number of updates already applied (torch's t − 1, Keras'
    ``iterations``). A Python 0 returns ``learning_rate`` unchanged.
    """
    if _is_python_zero(decay):
        return learning_rate

    def schedule(count: jax.Array) -> jax.Array:
        dt = jnp.result_type(float)
        base = jnp.asarray(evaluate(learning_rate, count)).astype(dt)
        return base / (1.0 + jnp.asarray(decay).astype(dt) * count.astype(dt))

    return schedule


def check(
    call: str,
    message: str,
    name: str,
    value: Any,
    lo: float = 0.0,
    hi: float = math.inf,
    *,
    hi_open: bool = False,
) -> None:
    """Raises ``ValueError("{call}: {message}: {value}; {name} must be in [lo, hi]")``.

    ``message`` is the original library's wording (e.g. torch's "Invalid learning
    rate"); traced values and schedules are not checked.
    """
    check_range(call, name, value, lo, hi, hi_open=hi_open, message=message)


def is_zero(value: Any) -> bool:
    """True for a concrete value that is exactly 0 (not a tracer, not a schedule)."""
    values = concrete_values(value)
    return values is not None and bool(np.all(values == 0))
