"""``state_shardings``: the ``NamedSharding`` of every state leaf, read from the state's
declarations (:mod:`jopt._core.layout`)."""

from __future__ import annotations

import math
from typing import Any

import jax
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jopt._core.checks import (
    UnnamedTypeError,
    UnnamedValueError,
    checked,
    optional,
    text,
    transformation,
    unchecked,
)
from jopt._core.layout import PER_PARAM, Blocks, Reduced, declare, fields, is_state
from jopt.sharding._placement import blocks_spec

# optax's states, declared here as jopt's declare theirs on the class (a state of a class
# neither declares is placed replicated).
for _cls, _names in {
    optax.ScaleByAdamState: ("mu", "nu"),
    optax.ScaleByAmsgradState: ("mu", "nu", "nu_max"),
    optax.ScaleByBeliefState: ("mu", "nu"),
    optax.ScaleByLionState: ("mu",),
    optax.ScaleByRmsState: ("nu",),
    optax.ScaleByRStdDevState: ("mu", "nu"),
    optax.ScaleByRssState: ("sum_of_squares",),
    optax.ScaleByAdaDeltaState: ("e_g", "e_x"),
    optax.ScaleByRpropState: ("step_sizes", "prev_updates"),
    optax.TraceState: ("trace",),
    optax.EmaState: ("ema",),
    optax.MultiStepsState: ("acc_grads",),
}.items():
    declare(_cls, **dict.fromkeys(_names, PER_PARAM))

Spec = tuple[Any, ...]
ParamSpecs = dict[tuple[Any, ...], tuple[tuple[int, ...], Spec]]


@checked(
    tx=transformation(),
    params=unchecked("a tree of arrays or jax.ShapeDtypeStruct, checked leaf by leaf below"),
    mesh=unchecked("a jax.sharding.Mesh or None, checked against the params below"),
    zero_axis=optional(text()),
)
def state_shardings(
    tx: Any, params: Any, mesh: Mesh | None = None, *, zero_axis: str | None = None
) -> Any:
    """The ``NamedSharding`` of every leaf of ``tx.init(params)``, for ``jax.jit``.

    The state's layout comes from ``jax.eval_shape(tx.init, params)`` (nothing is
    computed), and where each leaf goes from its state's declaration: a field declared
    :data:`jopt.sharding.PerParam` (a moment) holds one entry per parameter and gets that
    parameter's partition spec; a statistic field declared :class:`jopt.sharding.Reduced`
    (Adafactor's row and column means) gets its parameter's spec without the reduced
    axis; every other leaf (counts, recorded learning rates) is replicated, ``P()``.
    jopt's states declare their fields; optax's common states are declared here; declare
    your own with :func:`jopt.sharding.declare`. A parameter that is not a committed
    ``NamedSharding`` array counts as replicated.

    ZeRO-1 (``zero_axis="data"``): each moment of a parameter that is replicated along
    the mesh axis ``zero_axis`` is also split along it, on the dimension with the most
    elements per shard among those whose per-shard size the axis size divides (the
    axis is appended to that dimension's entry); a moment with no such dimension stays
    as its parameter is::

        spec(moment of p) = spec(p)                    without zero_axis,
        spec(moment of p)[d] = spec(p)[d] + (zero_axis,)  with it, d = argmax over
                               {d : (shape[d] / |spec(p)[d]|) mod |zero_axis| = 0}
                               of shape[d] / |spec(p)[d]|

    Reduced statistics are sublinear in the parameter: ZeRO leaves them as they are.

    A quantized moment (:func:`jopt.quantized`) holds its codes ``(n_blocks, ...)`` and
    scales ``(n_blocks,)`` by block of the flattened parameter, fields declared
    :class:`jopt.sharding.Blocks`. Both are split along the block axis over the mesh axes
    of the parameter's first dimension, when the parameter is split along that one only
    (then each shard is a contiguous range of its elements) and they divide the blocks;
    otherwise replicated; ZeRO-1 appends ``zero_axis`` when the blocks still divide. So no
    block straddles two devices and each block's scale lives with its codes.

    Args:
      tx: the optimizer, an optax gradient transformation.
      params: the parameters (arrays, or ``jax.ShapeDtypeStruct`` with shardings).
      mesh: the mesh; defaults to the mesh of the first parameter sharded with a
        ``NamedSharding``, then to the mesh set with ``jax.set_mesh``.
      zero_axis: a mesh axis to split the moments over (ZeRO-1), or None.

    Returns:
      A tree of ``NamedSharding`` with the structure of ``tx.init(params)``.

    Raises ``ValueError`` for a ``zero_axis`` that is not an axis of the mesh, a mesh that
    does not hold the params' devices or axes, and params that ``tx.init`` does not accept.

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
    leaves = jax.tree_util.tree_leaves_with_path(params)
    for path, leaf in leaves:
        if not hasattr(leaf, "shape") or not hasattr(leaf, "dtype"):
            raise UnnamedValueError(
                f"params{jax.tree_util.keystr(path)} is a {type(leaf).__name__}, not "
                "an array; params must be a tree of arrays or jax.ShapeDtypeStruct."
            )
    mesh = _the_mesh(mesh, leaves)
    if zero_axis is not None and zero_axis not in mesh.axis_names:
        raise UnnamedValueError(
            f"zero_axis={zero_axis!r} is not an axis of the mesh; its axes are "
            f"{tuple(mesh.axis_names)}."
        )
    specs: ParamSpecs = {
        tuple(path): (tuple(leaf.shape), _param_spec(leaf)) for path, leaf in leaves
    }
    try:
        state = jax.eval_shape(tx.init, params)
    except Exception as error:  # the transform says what it could not take
        raise UnnamedValueError(
            "params do not match the transformation: tx.init(params) failed with "
            f"{type(error).__name__}: {error}"
        ) from error
    return _Placer(mesh, specs, zero_axis).anything(state)


class _Placer:
    """Walks a state: declared fields follow their parameters, the rest is replicated."""

    def __init__(self, mesh: Mesh, specs: ParamSpecs, zero_axis: str | None):
        self.mesh, self.specs, self.zero_axis = mesh, specs, zero_axis

    def sharding(self, spec: Spec) -> NamedSharding:
        return NamedSharding(self.mesh, PartitionSpec(*spec))

    def anything(self, tree: Any) -> Any:
        """Any subtree: states inside it placed by their declarations."""

        def place(x: Any) -> Any:
            if is_state(x):
                return self.state(x)
            return jax.tree.map(lambda _: self.sharding(()), x)

        return jax.tree.map(place, tree, is_leaf=is_state)

    def state(self, state: Any) -> Any:
        declared = fields(type(state))
        out = []
        for name in state._fields:
            value = getattr(state, name)
            marker = declared.get(name)
            out.append(self.per_param(value) if marker is PER_PARAM else self.anything(value))
        return type(state)(*out)

    def per_param(self, tree: Any) -> Any:
        """A field with one entry per parameter, at the parameter's path."""

        def place(path: Any, x: Any) -> Any:
            key = tuple(path)
            if key not in self.specs:
                raise ValueError(
                    f"jopt.sharding.state_shardings: a state field declared PerParam holds "
                    f"a leaf at {jax.tree_util.keystr(key)}, which is no parameter's path; "
                    f"the parameters are {[jax.tree_util.keystr(p) for p in self.specs]}."
                )
            shape, spec = self.specs[key]
            if is_state(x):  # a statistic of the parameter (Adafactor's row / col)
                return self.statistic(x, shape, spec)
            return self.sharding(self.mirror(tuple(x.shape), shape, spec))

        return jax.tree_util.tree_map_with_path(place, tree, is_leaf=is_state)

    def mirror(self, shape: tuple[int, ...], param_shape: tuple[int, ...], spec: Spec) -> Spec:
        # A moment has its parameter's shape; a complex parameter's real view
        # (compat.torch) has a trailing axis of 2, unsharded.
        if shape[: len(param_shape)] != param_shape or len(shape) > len(param_shape) + 1:
            raise ValueError(
                f"jopt.sharding.state_shardings: a state leaf declared PerParam has shape "
                f"{shape}, its parameter {param_shape}."
            )
        if self.zero_axis is not None and not any(self.zero_axis in _axes(e) for e in spec):
            spec = _split(spec, param_shape, self.mesh, self.zero_axis)
        return spec

    def statistic(self, stat: Any, shape: tuple[int, ...], spec: Spec) -> Any:
        declared = fields(type(stat))
        full = list(spec + (None,) * (len(shape) - len(spec)))
        out = []
        for name in stat._fields:
            marker = declared.get(name)
            if isinstance(marker, Reduced):
                kept = list(full)
                del kept[marker.axis]
                out.append(self.sharding(tuple(kept)))
            elif isinstance(marker, Blocks):
                n_blocks = getattr(stat, name).shape[0]
                blocked = blocks_spec(n_blocks, shape, spec, self.mesh.shape, self.zero_axis)
                out.append(self.sharding(blocked))
            else:
                out.append(self.anything(getattr(stat, name)))
        return type(stat)(*out)


def _the_mesh(mesh: Any, leaves: list[Any]) -> Mesh:
    shardings = [getattr(leaf, "sharding", None) for _, leaf in leaves]
    if mesh is None:
        named = [s for s in shardings if isinstance(s, NamedSharding)]
        if named:
            mesh = named[0].mesh
        else:
            mesh = jax.sharding.get_mesh()
            if mesh.empty:
                raise UnnamedValueError(
                    "mesh is None and no parameter is sharded with a NamedSharding; pass "
                    "mesh= (or set one with jax.set_mesh)."
                )
    if not isinstance(mesh, Mesh):
        raise UnnamedTypeError(f"mesh must be a jax.sharding.Mesh, got {type(mesh).__name__}.")
    held = set(mesh.devices.flat)
    for (path, leaf), s in zip(leaves, shardings, strict=True):
        if s is None or not getattr(leaf, "committed", True):
            continue  # an uncommitted array goes wherever the computation runs
        name = f"params{jax.tree_util.keystr(path)}"
        if not s.device_set <= held:
            raise UnnamedValueError(
                f"mesh does not hold the devices of {name} "
                f"({sorted(d.id for d in s.device_set - held)} are not in it); pass the mesh "
                "the params are sharded over."
            )
        if isinstance(s, NamedSharding):
            for axis in {a for e in s.spec for a in _axes(e)}:
                if mesh.shape.get(axis) != s.mesh.shape[axis]:
                    raise UnnamedValueError(
                        f"{name} is sharded over the axis {axis!r} of size "
                        f"{s.mesh.shape[axis]}, which mesh (axes {dict(mesh.shape)}) does not "
                        "have; pass the mesh the params are sharded over."
                    )
    return mesh


def _param_spec(leaf: Any) -> Spec:
    s = getattr(leaf, "sharding", None)
    return tuple(s.spec) if isinstance(s, NamedSharding) else ()


def _axes(entry: Any) -> tuple[Any, ...]:
    if entry is None:
        return ()
    if isinstance(entry, str):
        return (entry,)
    return tuple(a for a in entry if isinstance(a, str)) if isinstance(entry, tuple) else ()


def _split(spec: Spec, shape: tuple[int, ...], mesh: Mesh, zero_axis: str) -> Spec:
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
