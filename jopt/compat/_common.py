"""Shared by the torch and Keras presets: checks worded like the originals."""

from __future__ import annotations

import math
from typing import Any

from jopt._validation import check_range


def check(
    call: str,
    message: str,
    name: str,
    value: Any,
    lo: float = 0.0,
    hi: float = math.inf,
    *,
    hi_open: bool = False,
    schedule: bool = False,
) -> None:
    """Raises ``ValueError("{call}: {message}: {value}; {name} must be in [lo, hi]")``.

    ``message`` is the original library's wording (e.g. torch's "Invalid learning
    rate"); traced values and schedules are not checked.
    """
    check_range(call, name, value, lo, hi, hi_open=hi_open, message=message, schedule=schedule)
