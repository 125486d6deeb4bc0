"""jopt.testing catches broken transforms (a checker that cannot fail checks nothing)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
import pytest
from jax.sharding import PartitionSpec as P

import jopt

PARAMS = {"w": jnp.ones((2, 3), jnp.float32), "b": jnp.ones(3, jnp.bfloat16)}
GRADS = jax.tree.map(lambda p: (0.5 * p).astype(p.dtype), PARAMS)


class CountState(NamedTuple):
    count: jax.Array


def transform(update, init=lambda p: CountState(jnp.zeros([], jnp.int32))):
    return optax.GradientTransformation(init, update)


def test_a_correct_transform_passes():
    jopt.testing.check_transformation(
        transform(lambda u, s, p=None: (u, CountState(s.count + 1))), PARAMS, GRADS
    )


@pytest.mark.parametrize(
    "broken, match",
    [
        (  # upcasts bfloat16 updates to float32
            transform(lambda u, s, p=None: (jax.tree.map(lambda g: g.astype(jnp.float32), u), s)),
            "dtype",
        ),
        (  # the count changes dtype after the first update: state signature changes
            transform(lambda u, s, p=None: (u, CountState(s.count.astype(jnp.float32)))),
            "changed structure or dtypes",
        ),
        (  # a plain tuple holds the state array
            transform(lambda u, s, p=None: (u, s), init=lambda p: (jnp.zeros([], jnp.int32),)),
            "not inside a NamedTuple",
        ),
        (  # a count of the wrong dtype from init on
            transform(
                lambda u, s, p=None: (u, s), init=lambda p: CountState(jnp.zeros([], jnp.float32))
            ),
            "count must be an int32 scalar",
        ),
        (  # NaN updates
            transform(lambda u, s, p=None: (jax.tree.map(lambda g: g * jnp.nan, u), s)),
            "not finite",
        ),
        (  # mixes dtypes: fails under strict promotion
            transform(
                lambda u, s, p=None: (jax.tree.map(lambda g: g * jnp.ones((), jnp.float32), u), s)
            ),
            "promotion",
        ),
    ],
    ids=["dtype", "state-dtype", "plain-tuple", "float-count", "nan", "strict"],
)
def test_broken_transforms_are_caught(broken, match):
    with pytest.raises((AssertionError, jax.dtypes.TypePromotionError), match=match):
        jopt.testing.check_transformation(broken, PARAMS, GRADS)


def test_a_required_count_must_be_there():
    stateless = transform(lambda u, s, p=None: (u, s), init=lambda p: optax.EmptyState())
    jopt.testing.check_transformation(stateless, PARAMS, GRADS)  # a count is optional
    with pytest.raises(AssertionError, match="no NamedTuple with a `count`"):
        jopt.testing.check_transformation(stateless, PARAMS, GRADS, require_count=True)


def test_a_count_inside_a_wrapper_state_is_found():
    # optax.masked / multi_transform wrap the inner states in NamedTuples of their own.
    masked = optax.masked(jopt.sgd(jopt.schedules.step_lr(0.1, 2)), {"w": True, "b": False})
    jopt.testing.check_transformation(masked, PARAMS, GRADS, require_count=True)
    with pytest.raises(AssertionError, match="no NamedTuple with a `count`"):
        stateless = optax.masked(jopt.sgd(0.1), {"w": True, "b": False})
        jopt.testing.check_transformation(stateless, PARAMS, GRADS, require_count=True)


def test_check_vmap_catches_a_hyperparameter_read_as_a_constant():
    # Reads the learning rate only when it is a Python float: batched runs all use 0.1.
    def make(lr):
        return jopt.sgd(lr if isinstance(lr, float) else 0.1)

    with pytest.raises(AssertionError, match="vmap"):
        jopt.testing.check_vmap(make, PARAMS, GRADS, [0.2, 0.3])


class TwoMoments(NamedTuple):
    m: jax.Array
    v: jax.Array


def test_a_transform_that_reuses_a_buffer_fails():
    # The bug jopt's AMSGrad once had: one zeros array for two state fields.
    def init(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return TwoMoments(zeros, zeros)

    tx = transform(lambda u, s, p=None: (u, TwoMoments(s.m, s.v)), init)
    with pytest.raises(AssertionError, match=r"share one buffer.*donate the same buffer twice"):
        jopt.testing.check_transformation(tx, PARAMS, GRADS)


def test_check_vmap_with_no_values_says_so():
    with pytest.raises(ValueError, match="values is empty"):
        jopt.testing.check_vmap(lambda lr: jopt.sgd(lr), PARAMS, GRADS, [])


class Outer(NamedTuple):
    inner: CountState


def test_a_count_nested_in_a_state_is_found_and_checked():
    # jopt.compat.torch.LBFGS keeps its learning-rate state inside its own NamedTuple.
    nested = transform(
        lambda u, s, p=None: (u, s), init=lambda p: Outer(CountState(jnp.zeros([], jnp.int32)))
    )
    jopt.testing.check_transformation(nested, PARAMS, GRADS, require_count=True)
    bad = transform(lambda u, s, p=None: (u, s), init=lambda p: Outer(CountState(jnp.zeros([]))))
    with pytest.raises(AssertionError, match="count must be an int32 scalar"):
        jopt.testing.check_transformation(bad, PARAMS, GRADS)


# ---------------------------------------------------------------- on a device mesh

MESH = jax.make_mesh((2, 4), ("data", "model"))  # 8 virtual CPU devices (conftest.py)
SHARDED = {"w": jnp.ones((8, 4), jnp.float32), "b": jnp.ones(5, jnp.float32)}
SHARDED_GRADS = jax.tree.map(lambda p: 0.5 * p, SHARDED)


class Moment(NamedTuple):
    m: dict


class CountedMoment(NamedTuple):
    count: jax.Array
    m: dict


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
            transform(lambda u, s, p=None: ({"w": _local_sum(u["w"]), "b": u["b"]}, s)),
            r"sharded vs single device, step 1",
        ),
    ],
    ids=["one-device-moment", "uncommitted-count", "gathered-moment", "local-sum"],
)
def test_mesh_checks_catch_a_transform_that_ignores_the_mesh(broken, match):
    with pytest.raises(AssertionError, match=match):
        jopt.testing.check_transformation(broken, SHARDED, SHARDED_GRADS, mesh=MESH)
