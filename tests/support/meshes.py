"""Meshes and sharded trees for the tests on a device mesh (8 virtual CPU devices, set up
by the conftest.py at the repository root)."""

from __future__ import annotations

import collections
import gc

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P

AXES = ("data", "model")
EXPLICIT = jax.make_mesh((2, 4), AXES, axis_types=(AxisType.Explicit,) * 2)
AUTO = jax.make_mesh((2, 4), AXES, axis_types=(AxisType.Auto,) * 2)
SPECS = {"w": P("data", "model"), "b": P(), "f": P(None, "model"), "s": P()}


def sharded_tree(mesh, specs=SPECS, f_shape=(2, 4)):
    """w (8, 4) float32, b (5,) bfloat16 (odd-sized), f float16, s a float64 scalar.

    By default w is over both axes, f over "model", b and s replicated.
    """
    k = jax.random.split(jax.random.key(1), 3)
    params = {
        "w": jax.random.normal(k[0], (8, 4), jnp.float32),
        "b": jax.random.normal(k[1], (5,), jnp.bfloat16),
        "f": jax.random.normal(k[2], f_shape, jnp.float16),
        "s": jnp.asarray(0.7, jnp.float64),
    }
    return {k: jax.device_put(v, NamedSharding(mesh, specs[k])) for k, v in params.items()}


MIXED = {  # leaf: (shape, spec of the param, spec of its moment with zero_axis="data")
    "rep": ((6, 4), P(), P("data", None)),  # replicated: split on its largest dim
    "cols": ((8, 12), P(None, "model"), P("data", "model")),  # 12/4 = 3 per shard: odd
    "wide": ((2, 32), P(None, "model"), P(None, ("model", "data"))),  # 32/4 = 8 > 2
    "tie": ((4, 16), P(None, "model"), P("data", "model")),  # 4 = 16/4: the first
    "dp": ((4, 8), P("data", None), P("data", None)),  # already over "data": as is
    "odd": ((5, 3), P(), P()),  # no dimension divisible by 2: as is
    "s": ((), P(), P()),  # a scalar parameter
}


def mixed_params(mesh=EXPLICIT):
    """The leaves of ``MIXED`` (ones, float32, sharded as said), and "host", a NumPy
    array on no device yet."""
    params = {
        k: jax.device_put(jnp.ones(shape, jnp.float32), NamedSharding(mesh, spec))
        for k, (shape, spec, _) in MIXED.items()
    }
    params["host"] = np.ones((3, 4), np.float32)  # not on any device yet: replicated
    return params


def per_device_bytes(tree):
    """Bytes of distinct device buffers, per device (a shard's ``.data`` is a view)."""
    buffers = {}
    for leaf in jax.tree.leaves(tree):
        for shard in leaf.addressable_shards:
            key = (shard.device.id, shard.data.unsafe_buffer_pointer())
            buffers[key] = shard.data.nbytes
    used = collections.Counter()
    for (device, _), n in buffers.items():
        used[device] += n
    return [used[d.id] for d in jax.devices()]


def live_bytes():
    """``per_device_bytes`` of every live array."""
    gc.collect()
    return per_device_bytes(jax.live_arrays())
