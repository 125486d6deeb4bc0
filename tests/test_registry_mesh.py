"""jopt on a device mesh (8 virtual CPU devices, conftest.py): state follows the params.

The registry's contract test runs jopt.testing.check_transformation(mesh=...) on every
case (eager init on sharded params, jitted steps keep the shardings and compile once,
sharded numbers equal single-device ones). Here: jit(tx.init) on Auto and Explicit
axes, nnx.Optimizer, live per-device bytes, and jopt.sharding.state_shardings.
"""

from __future__ import annotations

import collections
import gc

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from jax.sharding import AxisType, Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from tests.support.registry import CASES

import jopt

IDS = [c.name for c in CASES]
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


def expected_spec(path):
    """The spec a state leaf must have: its parameter's (the last key in its path that
    names one), without the averaged axis for a factored statistic (Adafactor's row /
    col), else P()."""
    keys = [k.key for k in path if isinstance(k, jax.tree_util.DictKey) and k.key in SPECS]
    if not keys:
        return P()
    spec = tuple(SPECS[keys[-1]]) + (None,) * 2
    drop = {"row": -1, "col": -2}.get(getattr(path[-1], "name", None))
    if drop is not None:
        ndim = 2  # every factored parameter here is a matrix
        kept = list(spec[:ndim])
        del kept[drop]
        return P(*kept)
    return P(*spec[: len(SPECS[keys[-1]])])


def assert_follows(state, mesh, what):
    for path, leaf in jax.tree_util.tree_leaves_with_path(state):
        name = f"{what}{jax.tree_util.keystr(path)}"
        want = NamedSharding(mesh, expected_spec(path))
        assert leaf.sharding.is_equivalent_to(want, leaf.ndim), (
            f"{name}: {leaf.sharding}, expected {want.spec}"
        )


@pytest.mark.parametrize("mesh", [AUTO, EXPLICIT], ids=["auto", "explicit"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_jitted_init_follows_the_params(case, mesh):
    # Auto axes: XLA picks the output shardings; a moment built from constants alone
    # (optax's zeros_like) comes out replicated. jopt ties each moment to its parameter.
    params = sharded_tree(mesh)
    with jax.set_mesh(mesh):
        state = jax.jit(case.make(case.lr).init)(params)
    assert_follows(state, mesh, f"{case.name}: state")


def test_optax_moments_do_not_follow_under_auto_axes():
    # What the test above guards against (so it can fail): optax.adam's jitted init.
    params = sharded_tree(AUTO)
    with (
        jax.set_mesh(AUTO),
        pytest.raises(AssertionError, match=r"mu\['f'\].*expected P\(None, 'model'\)"),
    ):
        assert_follows(jax.jit(optax.adam(0.1).init)(params), AUTO, "optax state")


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


@pytest.mark.parametrize("name", ["adam", "sgd-momentum", "torch.Adam", "keras.RMSprop"])
def test_nnx_optimizer_state_follows_the_model(name):
    case = next(c for c in CASES if c.name == name)

    @nnx.jit
    def make(model):
        return nnx.Optimizer(model, case.make(case.lr), wrt=nnx.Param)

    # Flax shards annotated variables as it creates them, in the mesh set here.
    with jax.set_mesh(AUTO):
        model = MLP(nnx.Rngs(0))
        _check_optimizer(nnx.Optimizer(model, case.make(case.lr), wrt=nnx.Param), model)
        _check_optimizer(make(model), model)


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
    gc.collect()
    return per_device_bytes(jax.live_arrays())


def test_init_puts_a_shard_of_each_moment_on_each_device():
    # The measurement: Adam on a 1-D mesh of 8, w (3200,) float32 split over it.
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


# ------------------------------------------------------------------ state_shardings

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
    params = {
        k: jax.device_put(jnp.ones(shape, jnp.float32), NamedSharding(mesh, spec))
        for k, (shape, spec, _) in MIXED.items()
    }
    params["host"] = np.ones((3, 4), np.float32)  # not on any device yet: replicated
    return params


@pytest.mark.parametrize("zero_axis", [None, "data"])
def test_state_shardings_leaf_by_leaf(zero_axis):
    tx = jopt.adam(1e-3)
    got = jopt.sharding.state_shardings(tx, mixed_params(), zero_axis=zero_axis)
    want = {k: (v[2] if zero_axis else v[1]) for k, v in MIXED.items()}
    want["host"] = P(None, "data") if zero_axis else P()
    for field in ("mu", "nu"):
        for k, spec in want.items():
            s = getattr(got[0], field)[k]
            assert s.mesh == EXPLICIT and s.spec == spec, (field, k, s.spec, spec)
    assert got[0].count.spec == P() and got[1].learning_rate.spec == P()


@pytest.mark.parametrize("mesh", [AUTO, EXPLICIT], ids=["auto", "explicit"])
def test_zero1_splits_the_state_over_the_data_axis(mesh):
    params = mixed_params(mesh)
    tx = jopt.adam(1e-3)
    shardings = jopt.sharding.state_shardings(tx, params, zero_axis="data")
    state = jax.jit(tx.init, out_shardings=shardings)(params)
    # split in 2 over "data" where the parameter was replicated, in 8 where it was
    # over "model" (4) already; dp was over "data" already, odd cannot be split
    for k, parts in dict(rep=2, cols=8, wide=8, tie=8, dp=2, odd=1, host=2).items():
        n = int(np.prod(np.shape(params[k])))
        assert per_device_bytes(state[0].mu[k]) == [n * 4 // parts] * 8, k

    # The step keeps them (explicit axes: jopt reshards each gradient to its state's
    # sharding and the update back) and equals the unsharded steps.
    def step(p, s):
        grads = jax.grad(lambda p: sum(jnp.sum(jnp.sin(x) * x) for x in jax.tree.leaves(p)))(p)
        u, s = tx.update(grads, s, p)
        return optax.apply_updates(p, u), s

    jitted = jax.jit(step, out_shardings=(None, shardings))
    local = jax.tree.map(lambda p: jnp.asarray(np.asarray(p)), params)
    ref = (local, tx.init(local))
    for i in range(2):
        params, state = jitted(params, state)
        ref = step(*ref)
        for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(shardings), strict=True):
            assert a.sharding.is_equivalent_to(b, a.ndim), (a.sharding, b)
        jopt.testing.assert_trees_close((params, state), ref, f"ZeRO-1 vs unsharded, step {i}")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_case_runs_zero1_on_explicit_axes(case):
    # Explicit axes make a step that mixes two shardings of one dimension an error:
    # f is over "model" on (2, 32)'s dimension 1, its moments over ("model", "data")
    # there, so jopt must update them in their own sharding. w (replicated) gets its
    # moments split over "data"; b (odd-sized) and s (a scalar) stay whole.
    specs = {"w": P(), "b": P(), "f": P(None, "model"), "s": P()}
    params = sharded_tree(EXPLICIT, specs, f_shape=(2, 32))
    tx = case.make(case.lr)
    extra = {"value": jnp.asarray(1.0)} if case.needs_value else {}
    shardings = jopt.sharding.state_shardings(tx, params, zero_axis="data")
    # split: the moments of w and f (factored statistics and flattened states stay whole)
    mirrors = {(8, 4), (2, 32)}
    assert any("data" in str(s.spec) for s in jax.tree.leaves(shardings)) == any(
        x.shape in mirrors for x in jax.tree.leaves(jax.eval_shape(tx.init, params))
    )

    def step(p, s):
        grads = jax.tree.map(lambda x: (0.5 * x + 0.1).astype(x.dtype), p)
        u, s = tx.update(grads, s, p, **extra)
        return optax.apply_updates(p, u), s

    jitted = jax.jit(step, out_shardings=(None, shardings))
    state = jax.jit(tx.init, out_shardings=shardings)(params)
    local = jax.tree.map(lambda p: jnp.asarray(np.asarray(p)), params)
    ref = (local, tx.init(local))
    for i in range(2):
        params, state = jitted(params, state)
        ref = step(*ref)
        jopt.testing.assert_trees_close((params, state), ref, f"ZeRO-1 vs unsharded, step {i}")


def test_state_shardings_follows_a_real_view_and_a_masked_state():
    mesh = EXPLICIT
    z = jax.device_put(jnp.ones((8, 4), jnp.complex64), NamedSharding(mesh, P("data", "model")))
    got = jopt.sharding.state_shardings(jopt.compat.torch.Adam(1e-3), {"z": z})
    assert {s.spec for s in jax.tree.leaves(got) if s.spec != P()} == {P("data", "model")}
    tx = optax.masked(jopt.adam(1e-3), {"z": True, "b": False})
    params = {"z": z, "b": jnp.ones(3)}
    got = jopt.sharding.state_shardings(tx, params, mesh, zero_axis="data")
    # count, mu["z"], nu["z"], learning rate (b is masked out: no moments); z is
    # sharded over "data" already, so ZeRO leaves it as it is
    assert [s.spec for s in jax.tree.leaves(got)] == [P(), SPECS["w"], SPECS["w"], P()]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(zero_axis="batch"), ValueError, r"zero_axis='batch' is not an axis"),
        (dict(zero_axis=0), TypeError, "zero_axis must be a mesh axis name"),
        (
            dict(mesh=Mesh(np.array(jax.devices()[:4]).reshape(2, 2), AXES)),
            ValueError,
            "mesh does not hold the devices of params",
        ),
        (
            dict(mesh=jax.make_mesh((8,), ("model",))),
            ValueError,
            "sharded over the axis 'model' of size 4, which mesh",
        ),
        (dict(mesh="mesh"), TypeError, "mesh must be a jax.sharding.Mesh"),
        (dict(tx=object()), TypeError, "tx=<object .*> is invalid; tx must be an optax gradient"),
        (
            dict(tx=jopt.add_decayed_weights(0.1, mask={"other": True})),
            ValueError,
            "params do not match the transformation",
        ),
        (dict(params={"w": "a string"}), ValueError, r"params\['w'\] is a str"),
        (dict(params={"w": np.ones(3)}), ValueError, "mesh is None and no parameter"),
    ],
    ids=["axis", "axis-type", "devices", "axes", "mesh-type", "tx", "tree", "leaf", "no-mesh"],
)
def test_state_shardings_rejects_bad_input(kwargs, error, match):
    args = dict(tx=jopt.adam(1e-3), params=mixed_params()) | kwargs
    with pytest.raises(error, match=match):
        jopt.sharding.state_shardings(**args)
