"""Where new state arrays go: with their parameter, or replicated over its mesh."""

from __future__ import annotations

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
