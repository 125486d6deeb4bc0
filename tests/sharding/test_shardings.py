"""``jopt.sharding.state_shardings`` (jopt/sharding/_shardings.py): the sharding of every state
leaf, read from the state's declarations, ZeRO-1 included."""

from __future__ import annotations

from typing import Annotated, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

import jopt
from jopt.sharding import PerParam, Reduced
from tests.support.meshes import (
    AUTO,
    AXES,
    EXPLICIT,
    MIXED,
    SPECS,
    mixed_params,
    per_device_bytes,
)


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
    for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(shardings), strict=True):
        assert a.sharding.is_equivalent_to(b, a.ndim), (a.sharding, b)


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


# ------------------------------------------------------------------- read from declarations


class Declared(NamedTuple):
    count: jax.Array
    m: PerParam


class Undeclared(NamedTuple):
    count: jax.Array
    m: dict


class Statistic(NamedTuple):
    row: Annotated[jax.Array, Reduced(-1)]  # the mean over the last axis
    col: Annotated[jax.Array, Reduced(-2)]
    scale: jax.Array


class WithStatistic(NamedTuple):
    stats: PerParam


def _stateful(init):
    return optax.GradientTransformation(init, lambda u, s, p=None: (u, s))


W = jax.device_put(jnp.ones((8, 4), jnp.float32), NamedSharding(EXPLICIT, P("data", "model")))


def test_a_declared_field_follows_its_parameter_and_an_undeclared_one_is_replicated():
    # Nothing is guessed from shapes or names: a user's own state field that mirrors the
    # parameters is placed with them only when declared PerParam.
    params = {"w": W}

    def moments(p):
        return jax.tree.map(jnp.zeros_like, p)

    declared = jopt.sharding.state_shardings(
        _stateful(lambda p: Declared(jnp.zeros([], jnp.int32), moments(p))), params
    )
    undeclared = jopt.sharding.state_shardings(
        _stateful(lambda p: Undeclared(jnp.zeros([], jnp.int32), moments(p))), params
    )
    assert declared.m["w"].spec == P("data", "model") and declared.count.spec == P()
    assert undeclared.m["w"].spec == P() and undeclared.count.spec == P()


def test_a_reduced_statistic_keeps_the_other_axes_of_its_parameter():
    def init(p):
        w = p["w"]
        stat = Statistic(jnp.mean(w, -1), jnp.mean(w, -2), jnp.zeros([]))
        return WithStatistic({"w": stat})

    got = jopt.sharding.state_shardings(_stateful(init), {"w": W})
    assert got.stats["w"] == Statistic(
        *(NamedSharding(EXPLICIT, s) for s in (P("data"), P("model"), P()))
    )
    adafactor = jopt.sharding.state_shardings(jopt.adafactor(), {"w": W})[0].nu["w"]
    assert (adafactor.row.spec, adafactor.col.spec) == (P("data"), P("model"))


@pytest.mark.parametrize(
    "init, match",
    [
        (
            lambda p: Declared(jnp.zeros([], jnp.int32), {"v": jnp.zeros(3)}),
            r"declared PerParam holds a leaf at \['v'\], which is no parameter's path",
        ),
        (
            lambda p: Declared(jnp.zeros([], jnp.int32), {"w": jnp.zeros((8, 2))}),
            r"declared PerParam has shape \(8, 2\), its parameter \(8, 4\)",
        ),
    ],
    ids=["path", "shape"],
)
def test_a_wrong_declaration_is_reported(init, match):
    with pytest.raises(ValueError, match=rf"^jopt\.sharding\.state_shardings: a state .*{match}"):
        jopt.sharding.state_shardings(_stateful(init), {"w": W})


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(zero_axis="batch"), ValueError, r"zero_axis='batch' is not an axis"),
        (dict(zero_axis=0), TypeError, "zero_axis=0 is invalid; zero_axis must be a string."),
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
    with pytest.raises(error, match=rf"^jopt\.sharding\.state_shardings: .*{match}"):
        jopt.sharding.state_shardings(**args)
