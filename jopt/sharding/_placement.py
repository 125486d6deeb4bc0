"""Where new state arrays go: with their parameter, or replicated over its mesh."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import jax
import jax.core
from jax.experimental.shard_alike import shard_alike
from jax.sharding import NamedSharding, PartitionSpec


def placed_like(like: Any, new: jax.Array) -> jax.Array:
    """``new`` (made by a ``*_like`` of ``like``) placed as ``like``.

    Eagerly ``jnp.zeros_like``/``full_like`` already place a committed parameter's state
    with its sharding (each device fills its own shard). Under ``jit`` the new array
    depends on no value of ``like``, so nothing would make XLA shard the two alike on a
    mesh with ``Auto`` axes: ``shard_alike`` ties them (``Explicit`` axes carry the
    sharding in the type already).
    """
    return shard_alike(like, new)[1] if isinstance(like, jax.core.Tracer) else new


def replicated_sharding(params: Any) -> jax.sharding.Sharding | None:
    """Where ``jit`` puts a scalar output of a step over ``params``: replicated over the
    devices of the first committed parameter (None: nothing committed, or traced)."""
    for leaf in jax.tree.leaves(params):
        if isinstance(leaf, jax.core.Tracer) or not isinstance(leaf, jax.Array):
            continue
        if not leaf.committed:
            continue
        sharding = leaf.sharding
        if isinstance(sharding, NamedSharding):
            return NamedSharding(sharding.mesh, PartitionSpec())
        return sharding if len(sharding.device_set) == 1 else None
    return None


def blocks_spec(
    n_blocks: int,
    param_shape: tuple[int, ...],
    param_spec: tuple[Any, ...],
    mesh_shape: Mapping[str, int],
    zero_axis: str | None = None,
) -> tuple[Any, ...]:
    """The partition spec of a quantized moment's per-block arrays (codes ``(n_blocks,
    block)``, scales ``(n_blocks,)``): their block axis split as the parameter's
    flattened elements are, so every block and its scale sit on the device holding the
    block's elements, and no block straddles two devices.

    A parameter's shards are contiguous ranges of its flattened elements only when it is
    split along its first dimension alone; the block axis then takes that dimension's
    mesh axes if their size divides ``n_blocks`` (each shard a whole number of blocks).
    Otherwise (split along a later dimension, or a block would straddle) the blocks are
    replicated. ``zero_axis`` (ZeRO-1), when the parameter is not split along it, is
    appended if the blocks still divide evenly.

    >>> from jopt.sharding._placement import blocks_spec
    >>> mesh = {"data": 2, "model": 4}
    >>> blocks_spec(16, (64, 64), ("model", None), mesh)  # 4 blocks per device
    ('model',)
    >>> blocks_spec(16, (64, 64), (None, "model"), mesh)  # columns: not contiguous
    ()
    >>> blocks_spec(16, (64, 64), ("model",), mesh, zero_axis="data")
    (('model', 'data'),)
    >>> blocks_spec(6, (48, 32), ("model",), mesh)  # 6 blocks do not split over 4
    ()
    """

    def axes(entry: Any) -> tuple[str, ...]:
        if entry is None:
            return ()
        if isinstance(entry, str):
            return (entry,)
        return tuple(a for a in entry if isinstance(a, str)) if isinstance(entry, tuple) else ()

    def size(names: tuple[str, ...]) -> int:
        return math.prod(mesh_shape[a] for a in names)

    full = tuple(param_spec) + (None,) * (len(param_shape) - len(param_spec))
    used = {a for e in full for a in axes(e)}
    lead: tuple[str, ...] = ()
    if (
        full
        and not any(axes(e) for e in full[1:])
        and all(e is None or isinstance(e, (str, tuple)) for e in full[:1])
    ):
        lead = axes(full[0])
    if n_blocks % size(lead):
        lead = ()
    if zero_axis is not None and zero_axis not in used and n_blocks % size((*lead, zero_axis)) == 0:
        lead = (*lead, zero_axis)
    if not lead:
        return ()
    return (lead[0] if len(lead) == 1 else lead,)
