"""The mesh half of ``jopt.testing.check_transformation`` (jopt/sharding/_testing.py): a
transform that ignores the mesh is caught (a checker that cannot fail checks nothing)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
import pytest
from jax.sharding import PartitionSpec as P

import jopt
from jopt.sharding import PerParam

MESH = jax.make_mesh((2, 4), ("data", "model"))  # 8 virtual CPU devices (conftest.py)
SHARDED = {"w": jnp.ones((8, 4), jnp.float32), "b": jnp.ones(5, jnp.float32)}
SHARDED_GRADS = jax.tree.map(lambda p: 0.5 * p, SHARDED)


# A user's own states: the field that mirrors the parameters is declared PerParam, as
# jopt.sharding.state_shardings (and so the mesh checks) reads only declarations.
class Moment(NamedTuple):
    m: PerParam


class CountedMoment(NamedTuple):
    count: jax.Array
    m: PerParam


class UndeclaredMoment(NamedTuple):
    m: dict


def transform(update, init):
    return optax.GradientTransformation(init, update)


def ema(init):
    def update(u, s, p=None):
        m = jax.tree.map(lambda m, g: 0.9 * m + g, s.m, u)
        return m, s._replace(m=m)

    return transform(update, init)


def test_a_transform_with_moments_like_its_params_passes_on_a_mesh():
    tx = ema(lambda p: Moment(jax.tree.map(jnp.zeros_like, p)))
    jopt.testing.check_transformation(tx, SHARDED, SHARDED_GRADS, mesh=MESH)
    jopt.testing.check_transformation(jopt.adam(0.1), SHARDED, SHARDED_GRADS, mesh=MESH)


def _on_mesh(x):
    return not jax.typeof(x).sharding.mesh.empty


def _local_sum(g):  # on a mesh, a per-shard sum where the global one was meant
    if not _on_mesh(g):
        return g / jnp.sum(g)
    sharding = jax.typeof(g).sharding
    spec = P(*sharding.spec)
    return jax.shard_map(
        lambda x: x / jnp.sum(x), mesh=sharding.mesh, in_specs=spec, out_specs=spec
    )(g)


def _gather(m):  # on a mesh, every device gets the whole moment
    if not _on_mesh(m):
        return m
    return jax.sharding.reshard(m, jax.sharding.NamedSharding(jax.typeof(m).sharding.mesh, P()))


@pytest.mark.parametrize(
    "broken, match",
    [
        (  # jopt's old zeros: jnp.zeros(shape, dtype), whole on one device
            ema(lambda p: Moment(jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype), p))),
            r"init: state\.m\['w'\] has sharding SingleDeviceSharding.*built whole on one",
        ),
        (  # a count made uncommitted (jnp.zeros): jit replicates it, so a second compile
            transform(
                lambda u, s, p=None: (u, CountedMoment(s.count + 1, s.m)),
                lambda p: CountedMoment(jnp.zeros([], jnp.int32), jax.tree.map(jnp.zeros_like, p)),
            ),
            r"compiled 2 times in 3 steps.*uncommitted state leaves after init: \['\.count'\]",
        ),
        (  # the update gathers the moment onto every device
            transform(
                lambda u, s, p=None: (
                    u,
                    Moment(jax.tree.map(lambda m: _gather(m + 1), s.m)),
                ),
                lambda p: Moment(jax.tree.map(jnp.zeros_like, p)),
            ),
            r"after jitted update 1: state\.m\['w'\] has sharding .*expected P\('data', 'model'\)",
        ),
        (  # normalizes by each shard's sum instead of the whole gradient's
            transform(
                lambda u, s, p=None: ({"w": _local_sum(u["w"]), "b": u["b"]}, s),
                lambda p: optax.EmptyState(),
            ),
            r"sharded vs single device, step 1",
        ),
        (  # moments placed right, in a field not declared PerParam: expected replicated
            ema(lambda p: UndeclaredMoment(jax.tree.map(jnp.zeros_like, p))),
            r"init: state\.m\['w'\] has sharding .*'data', 'model'.*expected P\(\) .*PerParam",
        ),
    ],
    ids=["one-device-moment", "uncommitted-count", "gathered-moment", "local-sum", "undeclared"],
)
def test_mesh_checks_catch_a_transform_that_ignores_the_mesh(broken, match):
    with pytest.raises(AssertionError, match=match):
        jopt.testing.check_transformation(broken, SHARDED, SHARDED_GRADS, mesh=MESH)
