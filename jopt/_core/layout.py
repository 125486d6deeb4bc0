"""What a state field holds, declared on the state's NamedTuple.

A field annotated :data:`PerParam` holds a tree with the parameters' structure (the
parameters a transformation's ``init`` was given), one entry per parameter: an array of the
parameter's shape (a moment; a complex parameter's real view adds a trailing axis of 2), or
a NamedTuple statistic whose fields are annotated :class:`Reduced` (the parameter with an
axis averaged away, e.g. Adafactor's row and column means). Every other field (a count, a
recorded learning rate, a flat history) is not tied to one parameter. The declaration is
what :func:`jopt.sharding.state_shardings` reads to place the state next to its parameters;
nothing is guessed from names or shapes.

>>> from typing import NamedTuple
>>> import jax
>>> from jopt._core.layout import PerParam, fields
>>> class MyState(NamedTuple):
...     count: jax.Array
...     mu: PerParam
>>> fields(MyState)
{'mu': PER_PARAM}
"""

from __future__ import annotations

import functools
import typing
from dataclasses import dataclass
from typing import Annotated, Any


class PerParamMarker:
    """The class of :data:`PER_PARAM`."""

    def __repr__(self) -> str:
        return "PER_PARAM"


PER_PARAM = PerParamMarker()
"""The marker of a field that holds one entry per parameter."""

PerParam = Annotated[Any, PER_PARAM]
"""The annotation of a state field that mirrors the parameters (see the module docstring)."""


@dataclass(frozen=True)
class Reduced:
    """The marker of a statistic of one parameter with ``axis`` averaged away (an axis of
    the parameter, counted from the end when negative)."""

    axis: int


Marker = PerParamMarker | Reduced

_DECLARED: dict[type, dict[str, Marker]] = {}


def declare(cls: type, **markers: Marker) -> None:
    """Declares the fields of a state class defined elsewhere (optax's, a user's), as its
    annotations would: ``declare(optax.ScaleByAdamState, mu=PER_PARAM, nu=PER_PARAM)``."""
    _DECLARED[cls] = dict(markers)
    fields.cache_clear()


@functools.cache
def fields(cls: type) -> dict[str, Marker]:
    """The declared fields of a NamedTuple state class: name → marker (undeclared fields
    are left out)."""
    if cls in _DECLARED:
        return _DECLARED[cls]
    if not (issubclass(cls, tuple) and hasattr(cls, "_fields")):
        return {}
    try:
        hints = typing.get_type_hints(cls, include_extras=True)
    except NameError:  # another library's annotations that do not resolve: undeclared
        return {}
    out: dict[str, Marker] = {}
    for name, hint in hints.items():
        for meta in getattr(hint, "__metadata__", ()):
            if isinstance(meta, (PerParamMarker, Reduced)):
                out[name] = meta
    return out


def is_state(x: Any) -> bool:
    """A NamedTuple instance (a state, or a statistic inside one)."""
    return isinstance(x, tuple) and hasattr(x, "_fields")
