"""Where new state goes (jopt/sharding/_placement.py): each moment with its parameter, eagerly
and under ``jit``, and the scalars replicated over the parameters' mesh, so that a step
compiles once. The registry-wide check (every case's jitted init on Auto and Explicit axes)
is in tests/test_mesh.py."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
import pytest
from flax import nnx
from jax.sharding import NamedSharding, SingleDeviceSharding
from jax.sharding import PartitionSpec as P

import jopt
import jopt.compat.keras as jk
import jopt.compat.torch as jt
from jopt.sharding._placement import placed_like, replicated_sharding
from tests.support.meshes import AUTO, EXPLICIT, live_bytes, per_device_bytes, sharded_tree


def test_placed_like_ties_a_new_array_to_its_parameter_under_jit():
    # Auto axes: XLA would place an array built from constants alone as it likes
    # (replicated); shard_alike ties it to the parameter. Eagerly it is already there.
    w = jax.device_put(jnp.ones((8, 4), jnp.float32), NamedSharding(AUTO, P("data", "model")))
    with jax.set_mesh(AUTO):
        tied = jax.jit(lambda p: placed_like(p, jnp.zeros_like(p)))(w)
        loose = jax.jit(lambda p: jnp.zeros_like(p))(w)
    assert tied.sharding.is_equivalent_to(w.sharding, 2)
    assert not loose.sharding.is_equivalent_to(w.sharding, 2)  # what the tie is for
    x = jnp.zeros(3)
    assert placed_like(w, x) is x


def test_replicated_sharding_is_where_jit_puts_a_scalar():
    w = jax.device_put(jnp.ones((8, 4)), NamedSharding(EXPLICIT, P("data", "model")))
    assert replicated_sharding({"a": jnp.ones(2), "w": w}) == NamedSharding(EXPLICIT, P())
    one = jax.device_put(jnp.ones(2), jax.devices()[3])
    assert replicated_sharding([one]) == SingleDeviceSharding(jax.devices()[3])
    assert replicated_sharding({"a": jnp.ones(2), "n": 1.0}) is None  # nothing committed
    traced = []
    jax.jit(lambda p: traced.append(replicated_sharding(p)))(w)
    assert traced == [None]


def test_init_puts_a_shard_of_each_moment_on_each_device():
    # Adam on a 1-D mesh of 8, w (3200,) float32 split over it.
    mesh = jax.make_mesh((8,), ("x",))
    w = jax.device_put(jnp.ones(3200, jnp.float32), NamedSharding(mesh, P("x")))
    before = live_bytes()
    state = jopt.adam(1e-3).init({"w": w})
    after = live_bytes()
    shard = 3200 * 4 // 8
    # m and v: one shard each per device; the count (int32) and the learning rate
    # (default float: float64 here, x64 is on), replicated on every device
    scalars = 4 + jnp.dtype(jnp.result_type(float)).itemsize
    assert per_device_bytes(state) == [2 * shard + scalars] * 8
    assert [a - b for a, b in zip(after, before, strict=True)] == [2 * shard + scalars] * 8
    # optax's count stays uncommitted on device 0 (and its step compiles twice)
    assert per_device_bytes(optax.adam(1e-3).init({"w": w})) == [2 * shard + 4] + [2 * shard] * 7


@pytest.mark.parametrize(
    "name, make",
    [
        ("sgd", lambda: jopt.sgd(0.1)),
        ("momentum", lambda: jopt.sgd(0.1, momentum=0.9)),
        ("adagrad", lambda: jopt.adagrad(0.1)),
        ("adam", lambda: jopt.adam(0.1)),
        ("scheduled adam", lambda: jopt.adam(jopt.schedules.step_lr(0.1, step_size=2))),
        ("plateau", lambda: optax.chain(jopt.sgd(0.1), jopt.reduce_lr_on_plateau())),
    ],
)
def test_a_step_on_the_mesh_compiles_once(name, make):
    # The step's scalars come out of init replicated over the mesh, where jit leaves
    # them: the second step finds the shardings of the first and reuses its executable.
    # The step returns only the state, so a constant rate (all inputs pruned) must
    # not lose its placement either.
    params = sharded_tree(EXPLICIT)
    tx = make()
    step = jax.jit(lambda p, s: tx.update(jax.tree.map(jnp.ones_like, p), s, p, value=1.0)[1])
    state = tx.init(params)
    compiles = []

    def count(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            compiles.append(duration)

    jax.monitoring.register_event_duration_secs_listener(count)
    try:
        for _ in range(3):
            state = step(params, state)
    finally:
        jax.monitoring.unregister_event_duration_listener(count)
    assert len(compiles) == 1, name


class MLP(nnx.Module):
    def __init__(self, rngs):
        def linear(n_in, n_out, kernel, bias):
            return nnx.Linear(
                n_in,
                n_out,
                kernel_init=nnx.with_partitioning(nnx.initializers.lecun_normal(), kernel),
                bias_init=nnx.with_partitioning(nnx.initializers.zeros_init(), bias),
                rngs=rngs,
            )

        self.hidden = linear(6, 8, (None, "model"), ("model",))
        self.out = linear(8, 3, ("model", None), (None,))  # 3 outputs: bias replicated

    def __call__(self, x):
        return self.out(jax.nn.relu(self.hidden(x)))


def _check_optimizer(optimizer, model):
    params = {  # "['hidden']['kernel']": its sharding
        jax.tree_util.keystr(path).removesuffix(".value"): leaf.sharding
        for path, leaf in jax.tree_util.tree_leaves_with_path(nnx.state(model, nnx.Param))
    }
    assert params["['hidden']['kernel']"].spec == P(None, "model")
    for path, leaf in jax.tree_util.tree_leaves_with_path(nnx.state(optimizer.opt_state)):
        name = jax.tree_util.keystr(path)
        mirrors = [p for p in params if p in name]
        want = params[mirrors[0]] if mirrors else NamedSharding(AUTO, P())
        assert leaf.sharding.is_equivalent_to(want, leaf.ndim), f"{name}: {leaf.sharding}"


@pytest.mark.parametrize(
    "make",
    [
        lambda: jopt.adam(0.05),
        lambda: jopt.sgd(0.05, momentum=0.9, dampening=0.1),
        lambda: jt.Adam(0.05, amsgrad=True, weight_decay=1e-3),
        lambda: jk.RMSprop(0.01, momentum=0.5, centered=True, weight_decay=1e-3),
    ],
    ids=["adam", "sgd-momentum", "torch.Adam", "keras.RMSprop"],
)
def test_nnx_optimizer_state_follows_the_model(make):
    @nnx.jit
    def build(model):
        return nnx.Optimizer(model, make(), wrt=nnx.Param)

    # Flax shards annotated variables as it creates them, in the mesh set here.
    with jax.set_mesh(AUTO):
        model = MLP(nnx.Rngs(0))
        _check_optimizer(nnx.Optimizer(model, make(), wrt=nnx.Param), model)
        _check_optimizer(build(model), model)
