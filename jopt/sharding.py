"""Optimizer state on a device mesh: the shardings of ``tx.init(params)``, ZeRO-1 included.

Every jopt optimizer already builds its state where its parameters live (each moment
with its parameter's sharding, scalars replicated), eagerly and under ``jit``. This
module says so ahead of time, as a tree of ``NamedSharding``\\ s to hand to ``jax.jit``
(``out_shardings`` of ``tx.init``, in/out shardings of a train step), and can split the
state further over a data-parallel axis (ZeRO-1).
"""

from __future__ import annotations

import math
from typing import Any

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jopt._validation import check_transformation

__all__ = ["state_shardings"]

_CALL = "jopt.sharding.state_shardings"


def state_shardings(
    tx: Any, params: Any, mesh: Mesh | None = None, *, zero_axis: str | None = None
) -> Any:
    """The ``NamedSharding`` of every leaf of ``tx.init(params)``, for ``jax.jit``.

    The state's layout comes from ``jax.eval_shape(tx.init, params)`` (nothing is
    computed). A state leaf that mirrors a parameter (a moment: its path ends with the
    parameter's path and it has the parameter's shape) gets the parameter's partition
    spec; every other leaf (counts, recorded learning rates) is replicated, ``P()``.
    A parameter that is not a committed ``NamedSharding`` array (a NumPy array, an
    uncommitted or single-device array, a ``ShapeDtypeStruct`` without a sharding)
    counts as replicated.

    ZeRO-1 (``zero_axis="data"``): each moment of a parameter that is replicated along
    the mesh axis ``zero_axis`` is also split along it, on the dimension with the most
    elements per shard among those whose per-shard size the axis size divides (the
    axis is appended to that dimension's entry); a moment with no such dimension stays
    as its parameter is. A state leaf then holds total / (axis size) of the moment per
    device, and XLA inserts the collectives the update needs (a reduce-scatter of the
    gradients and an all-gather of the new parameters, or their equivalent)::

        spec(moment of p) = spec(p)                    without zero_axis,
        spec(moment of p)[d] = spec(p)[d] + (zero_axis,)  with it, d = argmax over
                               {d : (shape[d] / |spec(p)[d]|) mod |zero_axis| = 0}
                               of shape[d] / |spec(p)[d]|

    A factored statistic of a parameter (Adafactor's ``row`` / ``col``, the mean of g²
    over the parameter's last / second-to-last axis) gets the parameter's spec without
    that axis; ZeRO leaves these sublinear buffers as they are.

    ``mesh`` defaults to the mesh of the first parameter sharded with a
    ``NamedSharding``, then to the mesh set with ``jax.set_mesh``. Raises ``ValueError``
    naming the argument for a ``zero_axis`` that is not an axis of the mesh, a mesh
    that does not hold the params' devices or axes, and params that ``tx.init`` does
    not accept.

    >>> import jax, jax.numpy as jnp, jopt
    >>> from jax.sharding import NamedSharding, PartitionSpec as P
    >>> mesh = jax.make_mesh((2, 4), ("data", "model"))  # 8 devices
    >>> params = {
    ...     "w": jax.device_put(jnp.zeros((16, 8)), NamedSharding(mesh, P(None, "model"))),
    ...     "b": jax.device_put(jnp.zeros(3), NamedSharding(mesh, P())),
    ... }
    >>> tx = jopt.adam(1e-3)
    >>> shardings = jopt.sharding.state_shardings(tx, params, zero_axis="data")
    >>> [shardings[0].mu[k].spec for k in ("w", "b")], shardings[0].count.spec
    ([P('data', 'model'), P()], P())
    >>> state = jax.jit(tx.init, out_shardings=shardings)(params)
    >>> state[0].nu["w"].addressable_shards[0].data.shape  # 16 × 8 over 2 × 4 devices
    (8, 2)
    >>> jopt.sharding.state_shardings(tx, params)[0].mu["w"].spec  # no ZeRO: as w
    P(None, 'model')
    """
    check_transformation(_CALL, "tx", tx)
    leaves = jax.tree_util.tree_leaves_with_path(params)
    for path, leaf in leaves:
        if not hasattr(leaf, "shape") or not hasattr(leaf, "dtype"):
            raise ValueError(
                f"{_CALL}: params{jax.tree_util.keystr(path)} is a {type(leaf).__name__}, not "
                "an array; params must be a tree of arrays or jax.ShapeDtypeStruct."
            )
    mesh = _the_mesh(mesh, leaves)
    if zero_axis is not None:
        if not isinstance(zero_axis, str):
            raise TypeError(
                f"{_CALL}: zero_axis must be a mesh axis name (str) or None, got "
                f"{type(zero_axis).__name__}."
            )
        if zero_axis not in mesh.axis_names:
            raise ValueError(
                f"{_CALL}: zero_axis={zero_axis!r} is not an axis of the mesh; its axes are "
                f"{tuple(mesh.axis_names)}."
            )
    specs = [(path, tuple(leaf.shape), _param_spec(leaf)) for path, leaf in leaves]
    try:
        state = jax.eval_shape(tx.init, params)
    except Exception as error:  # the transform says what it could not take
        raise ValueError(
            f"{_CALL}: params do not match the transformation: tx.init(params) failed with "
            f"{type(error).__name__}: {error}"
        ) from error

    def sharding(path, leaf):
        spec = _follow(tuple(path), tuple(leaf.shape), specs)
        if spec is None:
            spec = _factored(tuple(path), tuple(leaf.shape), specs)
            return NamedSharding(mesh, PartitionSpec(*(spec or ())))
        if zero_axis is not None and not any(zero_axis in _axes(e) for e in spec):
            spec = _split(spec, tuple(leaf.shape), mesh, zero_axis)
        return NamedSharding(mesh, PartitionSpec(*spec))

    return jax.tree_util.tree_map_with_path(sharding, state)


def _the_mesh(mesh: Any, leaves: list[Any]) -> Mesh:
    shardings = [getattr(leaf, "sharding", None) for _, leaf in leaves]
    if mesh is None:
        named = [s for s in shardings if isinstance(s, NamedSharding)]
        if named:
            mesh = named[0].mesh
        else:
            mesh = jax.sharding.get_mesh()
            if mesh.empty:
                raise ValueError(
                    f"{_CALL}: mesh is None and no parameter is sharded with a "
                    "NamedSharding; pass mesh= (or set one with jax.set_mesh)."
                )
    if not isinstance(mesh, Mesh):
        raise TypeError(f"{_CALL}: mesh must be a jax.sharding.Mesh, got {type(mesh).__name__}.")
    held = set(mesh.devices.flat)
    for (path, leaf), s in zip(leaves, shardings, strict=True):
        if s is None or not getattr(leaf, "committed", True):
            continue  # an uncommitted array goes wherever the computation runs
        name = f"params{jax.tree_util.keystr(path)}"
        if not s.device_set <= held:
            raise ValueError(
                f"{_CALL}: mesh does not hold the devices of {name} "
                f"({sorted(d.id for d in s.device_set - held)} are not in it); pass the mesh "
                "the params are sharded over."
            )
        if isinstance(s, NamedSharding):
            for axis in {a for e in s.spec for a in _axes(e)}:
                if mesh.shape.get(axis) != s.mesh.shape[axis]:
                    raise ValueError(
                        f"{_CALL}: {name} is sharded over the axis {axis!r} of size "
                        f"{s.mesh.shape[axis]}, which mesh (axes {dict(mesh.shape)}) does not "
                        "have; pass the mesh the params are sharded over."
                    )
    return mesh


def _param_spec(leaf: Any) -> tuple[Any, ...]:
    s = getattr(leaf, "sharding", None)
    return tuple(s.spec) if isinstance(s, NamedSharding) else ()


def _follow(
    path: tuple[Any, ...], shape: tuple[Any, ...], specs: list[Any]
) -> tuple[Any, ...] | None:
    """The spec of the parameter this state leaf mirrors (the longest matching path)."""
    best, found = -1, None
    for param_path, param_shape, spec in specs:
        n = len(param_path)
        if n > len(path) or path[len(path) - n :] != param_path or n <= best:
            continue
        if shape == param_shape:
            best, found = n, spec
        elif len(shape) > len(param_shape) and shape[: len(param_shape)] == param_shape:
            best, found = n, spec  # a real view of a complex parameter (compat.torch): (..., 2)
    return found


def _factored(
    path: tuple[Any, ...], shape: tuple[Any, ...], specs: list[Any]
) -> tuple[Any, ...] | None:
    """A factored statistic of a parameter (Adafactor's ``row``, averaged over the last
    axis, or ``col``, over the second-to-last): the parameter's spec without that axis."""
    last = path[-1] if path else None
    drop = {"row": -1, "col": -2}.get(str(getattr(last, "name", "")))
    if drop is None:
        return None
    for param_path, param_shape, spec in specs:
        n = len(param_path)
        if len(param_shape) < 2 or path[len(path) - 1 - n : -1] != param_path:
            continue
        full = list(spec + (None,) * (len(param_shape) - len(spec)))
        kept = list(param_shape)
        del full[drop], kept[drop]
        if tuple(kept) == shape:
            return tuple(full)
    return None


def _axes(entry: Any) -> tuple[Any, ...]:
    if entry is None:
        return ()
    if isinstance(entry, str):
        return (entry,)
    return tuple(a for a in entry if isinstance(a, str)) if isinstance(entry, tuple) else ()


def _split(
    spec: tuple[Any, ...], shape: tuple[Any, ...], mesh: Mesh, zero_axis: str
) -> tuple[Any, ...]:
    size = mesh.shape[zero_axis]
    full = spec + (None,) * (len(shape) - len(spec))
    best, best_extent = None, 0
    for d, (n, entry) in enumerate(zip(shape, full, strict=True)):
        if entry is not None and not isinstance(entry, (str, tuple)):
            continue  # e.g. P.UNCONSTRAINED: not ours to refine
        extent = n // math.prod(mesh.shape[a] for a in _axes(entry))
        if extent % size == 0 and extent > best_extent:
            best, best_extent = d, extent
    if best is None:
        return spec
    new = _axes(full[best]) + (zero_axis,)
    return full[:best] + (new[0] if len(new) == 1 else new,) + full[best + 1 :]
