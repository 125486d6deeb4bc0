"""State allocation, the feature rule and the checks on what ``init``/``update`` receive.

The one home of:
- the rule that a feature the caller did not ask for keeps no state (:func:`requested`);
- the creation of every state array: each its own buffer, created where its parameter
  lives (:func:`moments_like`, :func:`zeros_placed_like`, :func:`scalar`, :func:`zero_count`);
- the int32 step count that saturates instead of wrapping (:func:`increment`);
- the checks of ``init``'s params and ``update``'s trees (:func:`check_params`,
  :func:`check_tree`, :func:`check_update_params`), raised as
  :class:`jopt._core.checks.Unnamed` errors that the public factory names.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any, TypeGuard

import jax
import jax.core
import jax.numpy as jnp
import numpy as np
import optax

from jopt._core.checks import UnnamedTypeError, UnnamedValueError
from jopt._core.dtypes import cast, dtype_of, state_dtype
from jopt._core.hyperparams import ScalarOrSchedule
from jopt.sharding._placement import placed_like, replicated_sharding


def requested(value: Any) -> TypeGuard[ScalarOrSchedule]:
    """Whether an optional feature (momentum, dampening, weight decay, ...) is on.

    Off for ``None`` and for a concrete zero given as a Python or NumPy scalar; on for
    anything else, including every JAX array (it may be traced, or changed later by
    ``optax.inject_hyperparams``, so its value cannot decide the state's layout) and
    every schedule. The state layout therefore depends only on what the caller asked for.

    >>> import jax.numpy as jnp, numpy as np
    >>> from jopt._core.state import requested
    >>> [requested(v) for v in (None, 0.0, np.float32(0), 0.9, jnp.asarray(0.0))]
    [False, False, False, True, True]
    """
    if value is None:
        return False
    if isinstance(value, (int, float, np.number, np.ndarray)) and not isinstance(value, bool):
        return not (np.ndim(value) == 0 and value == 0)
    return True


def evaluate(value: Any, count: jax.Array, name: str = "a schedule") -> Any:
    """A constant, or a schedule evaluated at ``count`` (the updates already applied).

    A schedule's result must be a scalar: its shape is known when the step is traced, and
    a non-scalar would be broadcast silently into every parameter.
    """
    if not callable(value):
        return value
    out: Any = value(count)
    if jnp.ndim(out) != 0:
        at = "" if isinstance(count, jax.core.Tracer) else f" at count {count}"
        raise UnnamedValueError(
            f"{name} returned an array of shape {jnp.shape(out)}{at}; a schedule must return "
            "a scalar (one value per step)."
        )
    return out


# ------------------------------------------------------------------------------ checks


def path_name(path: Any) -> str:
    """A leaf's path as jax writes it (``['w']``, ``.value``), ``(root)`` for a bare leaf."""
    return jax.tree_util.keystr(tuple(path)) or "(root)"


def check_params(params: Any) -> None:
    """Raises TypeError naming the first leaf that is not floating point or complex."""
    for path, leaf in jax.tree_util.tree_leaves_with_path(params):
        dtype = dtype_of(leaf)
        if not jnp.issubdtype(dtype, jnp.inexact):
            raise UnnamedTypeError(
                f"init() got the parameter {path_name(path)} of dtype {dtype}; parameters "
                "must be floating point or complex (an integer parameter cannot take a "
                "fractional step). Cast it, e.g. x.astype(jnp.float32), or keep it out of "
                "the optimizer (optax.masked / optax.set_to_zero)."
            )


def check_real_params(params: Any, why: str) -> None:
    """Raises TypeError naming the first complex leaf, for math that needs real numbers
    (``why`` says which, and what to use instead)."""
    for path, leaf in jax.tree_util.tree_leaves_with_path(params):
        if jnp.iscomplexobj(leaf):
            raise UnnamedTypeError(f"init() got the complex parameter {path_name(path)}; {why}")


def require_params(params: Any, why: str) -> None:
    """Raises ValueError when an update that reads the parameters got none."""
    if params is None:
        raise UnnamedValueError(
            f"update() needs params {why}; call tx.update(grads, state, params)."
        )


def check_update_params(updates: Any, params: Any, why: str, moments: Any = None) -> None:
    """The checks of an update that reads the parameters (``why`` says what for): raises
    ValueError when it got no ``params``, or when ``updates`` does not match the state's
    ``moments`` (if given), then ``params``."""
    require_params(params, why)
    if moments is not None:
        check_tree(updates, moments)
    check_tree(updates, params, "the params")


def check_tree(updates: Any, reference: Any, what: str = "the optimizer state") -> None:
    """Raises ValueError showing both structures when ``updates`` does not match
    ``reference``, and naming the leaf when a gradient's shape differs from its
    counterpart's (a (3, 1) gradient of a (3,) parameter would otherwise broadcast into
    (3, 3) state)."""
    got, want = jax.tree.structure(updates), jax.tree.structure(reference)
    if got != want:
        raise UnnamedValueError(
            f"the gradient tree does not match {what}.\n"
            f"  gradients: {got}\n  {what.split()[-1] + ':':<10} {want}\n"
            "Pass gradients with the same structure as the params given to init()."
        )
    check_shapes(updates, reference, what)


def leaf_states(updates: Any, tree: Any, cls: Any) -> Any:
    """``tree`` with each of its subtrees at a leaf of ``updates`` that holds exactly
    ``cls``'s fields as a mapping turned back into a ``cls`` (a NamedTuple).

    ``flax.nnx.Optimizer`` keeps the state in variables, and a NamedTuple that is one
    parameter's state (a :class:`jopt.FactoredSecondMoment`) comes back from them as an
    ``nnx.State`` mapping of its fields. Only positions where ``updates`` has a leaf are
    looked at, so a parameter tree's own dicts are never taken for one. A ``tree`` that
    does not flatten up to ``updates`` is returned as it is (:func:`check_tree` reports it).

    >>> import jax.numpy as jnp, jopt
    >>> from jopt._core.state import leaf_states
    >>> tree = {"w": {"row": jnp.zeros(2), "col": jnp.zeros(3)}}
    >>> type(leaf_states({"w": jnp.zeros((2, 3))}, tree, jopt.FactoredSecondMoment)["w"])
    <class 'jopt._algorithms.matrix.adafactor.FactoredSecondMoment'>
    """
    structure = jax.tree.structure(updates)
    try:
        parts = structure.flatten_up_to(tree)
    except (ValueError, TypeError):
        return tree
    fields = set(cls._fields)

    def restored(x: Any) -> Any:
        if isinstance(x, Mapping) and not isinstance(x, cls) and set(x) == fields:
            return cls(**{k: x[k] for k in cls._fields})
        return x

    new = [restored(x) for x in parts]
    if all(a is b for a, b in zip(new, parts, strict=True)):
        return tree
    return structure.unflatten(new)


def check_shapes(updates: Any, reference: Any, what: str = "the optimizer state") -> None:
    """Raises ValueError naming the first leaf of ``updates`` whose shape differs from
    the same leaf of ``reference`` (a tree of the same structure)."""
    flat = jax.tree_util.tree_leaves_with_path(updates)
    for (path, g), r in zip(flat, jax.tree.leaves(reference), strict=True):
        if jnp.shape(g) != jnp.shape(r):
            raise UnnamedValueError(
                f"the gradient {path_name(path)} has shape {jnp.shape(g)}, but its entry in "
                f"{what} has shape {jnp.shape(r)}; each gradient must have its parameter's "
                "shape (nothing is broadcast)."
            )


# ---------------------------------------------------------------------- state creation


def moments_like(
    params: Any, dtype: Any | None = None, *, fill: Any = 0.0, real: bool = False
) -> Any:
    """One new array per parameter, filled with ``fill``, in ``state_dtype``.

    Each array is its own buffer (donation needs that) and is created where its
    parameter lives (:func:`jopt.sharding._placement.placed_like`), so no full-size
    moment of a sharded parameter is ever built on one device.
    """
    check_params(params)

    def make(p):
        dt = state_dtype(p, dtype, real=real)
        if isinstance(fill, (int, float)) and fill == 0:
            return zeros_placed_like(p, dt)
        return placed_like(p, jnp.full_like(p, cast(fill, dt), dtype=dt))

    return jax.tree.map(make, params)


def zeros_placed_like(like: Any, dtype: Any) -> jax.Array:
    """A new zero array of ``like``'s shape in ``dtype``, placed as ``like``."""
    return placed_like(like, jnp.zeros_like(like, dtype=dtype))


def scalar(params: Any, value: Any, dtype: Any) -> jax.Array:
    """A new state scalar (its own buffer) holding ``value`` as ``dtype``.

    Replicated over the devices of committed ``params`` (e.g. sharded over a mesh), as
    ``jit`` returns it from a step, so the second step finds the state where the first
    left it and does not compile again; uncommitted for uncommitted params, traced
    under a trace.
    """
    x = jnp.array(value, dtype)
    sharding = replicated_sharding(params)
    if sharding is None or isinstance(x, jax.core.Tracer):
        return x
    return jax.device_put(x, sharding)


def zero_count(params: Any) -> jax.Array:
    """A new int32 step count, 0, placed as :func:`scalar` places it."""
    return scalar(params, 0, jnp.int32)


def increment(count: jax.Array) -> jax.Array:
    """count + 1 as int32, saturating instead of wrapping around."""
    return typing.cast(jax.Array, optax.safe_int32_increment(count))


def find_states(state: Any, kinds: tuple[type, ...]) -> list[Any]:
    """The NamedTuple states of the given classes inside ``state``, outermost first
    (through ``optax.chain``, ``inject_hyperparams`` and Flax ``nnx.Optimizer`` states)."""
    return [
        s
        for s in jax.tree.leaves(state, is_leaf=lambda x: isinstance(x, kinds))
        if isinstance(s, kinds)
    ]
