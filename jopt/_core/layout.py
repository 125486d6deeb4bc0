"""What a state field holds, declared on the state's NamedTuple.

A field annotated :data:`PerParam` holds a tree with the parameters' structure (the
parameters a transformation's ``init`` was given), one entry per parameter: an array of the
parameter's shape (a moment; a complex parameter's real view adds a trailing axis of 2), or
a NamedTuple statistic whose fields are annotated :class:`Reduced` (the parameter with an
axis averaged away, e.g. Adafactor's row and column means) or :class:`Blocks` (a quantized
moment's codes and scales, one row per block of the flattened parameter). Every other field
(a count, a recorded learning rate, a flat history) is not tied to one parameter. The declaration is
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
import sys
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any


class PerParamMarker:
    """The class of :data:`PER_PARAM`, the marker of a field that holds one entry per
    parameter.

    >>> from jopt.sharding import PER_PARAM, PerParamMarker
    >>> isinstance(PER_PARAM, PerParamMarker), PER_PARAM
    (True, PER_PARAM)
    """

    def __repr__(self) -> str:
        return "PER_PARAM"


PER_PARAM = PerParamMarker()
"""The marker of a field that holds one entry per parameter."""

PerParam = Annotated[Any, PER_PARAM]
"""The annotation of a state field that mirrors the parameters (see the module docstring)."""


@dataclass(frozen=True)
class Reduced:
    """The marker of a statistic of one parameter with an axis averaged away: the
    annotation of such a field is ``Annotated[jax.Array, Reduced(axis)]``.

    Args:
      axis: the axis of the parameter averaged away, counted from the end when negative.

    >>> import typing, jopt
    >>> hints = typing.get_type_hints(jopt.FactoredSecondMoment, include_extras=True)
    >>> hints["row"].__metadata__, hints["col"].__metadata__  # Adafactor's row and column
    ((Reduced(axis=-1),), (Reduced(axis=-2),))
    """

    axis: int


@dataclass(frozen=True)
class Blocks:
    """The marker of a field of a quantized moment (:class:`jopt.QuantizedMoment`) whose
    first axis counts the blocks of its parameter's flattened elements: the codes and the
    scales. Such a field is placed by block (:func:`jopt.sharding.state_shardings`).

    >>> import typing, jopt
    >>> hints = typing.get_type_hints(jopt.QuantizedMoment, include_extras=True)
    >>> hints["codes"].__metadata__, hints["scales"].__metadata__
    ((Blocks(),), (Blocks(),))
    """


Marker = PerParamMarker | Reduced | Blocks

_DECLARED: dict[type, dict[str, Marker]] = {}


def declare(cls: type, **markers: Marker) -> None:
    """Declares the fields of a state class defined elsewhere (optax's, a user's), as its
    annotations would: ``declare(optax.ScaleByAdamState, mu=PER_PARAM, nu=PER_PARAM)``.

    Args:
      cls: the state's NamedTuple class.
      **markers: for each field tied to the parameters, :data:`PER_PARAM` or a
        :class:`Reduced`; a field left out is not tied to one.

    Returns:
      None. The declaration replaces the class's annotations from then on.

    >>> from typing import NamedTuple
    >>> import jax, jax.numpy as jnp, optax, jopt
    >>> from jax.sharding import NamedSharding, PartitionSpec as P
    >>> class Average(NamedTuple):  # a state without annotations
    ...     params: dict
    >>> tx = optax.GradientTransformation(
    ...     lambda p: Average(jax.tree.map(jnp.zeros_like, p)), lambda u, s, p=None: (u, s)
    ... )
    >>> mesh = jax.make_mesh((8,), ("data",))
    >>> params = {"w": jax.device_put(jnp.zeros(16), NamedSharding(mesh, P("data")))}
    >>> jopt.sharding.state_shardings(tx, params).params["w"].spec  # undeclared: replicated
    P()
    >>> jopt.sharding.declare(Average, params=jopt.sharding.PER_PARAM)
    >>> jopt.sharding.state_shardings(tx, params).params["w"].spec  # as its parameter
    P('data',)
    """
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
    except NameError:  # some annotation does not resolve: read the ones that do
        hints = _resolvable_hints(cls)
    out: dict[str, Marker] = {}
    for name, hint in hints.items():
        for meta in getattr(hint, "__metadata__", ()):
            if isinstance(meta, (PerParamMarker, Reduced, Blocks)):
                out[name] = meta
    return out


def _resolvable_hints(cls: type) -> dict[str, Any]:
    # Field by field, in the class's module: a name imported only for type checking, or a
    # class defined where its module's names are not (a doctest), leaves out only the
    # fields it annotates, not the declarations of the others.
    module = sys.modules.get(cls.__module__)
    namespace = dict(vars(module)) if module is not None else {}
    out: dict[str, Any] = {}
    for name, hint in getattr(cls, "__annotations__", {}).items():
        holder = types.SimpleNamespace(__annotations__={name: hint})
        try:
            out.update(typing.get_type_hints(holder, namespace, include_extras=True))
        except NameError:
            continue
    return out


def is_state(x: Any) -> bool:
    """A NamedTuple instance (a state, or a statistic inside one)."""
    return isinstance(x, tuple) and hasattr(x, "_fields")
