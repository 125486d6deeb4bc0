"""Per-leaf math on a mesh (jopt/sharding/_leafwise.py): a state leaf sharded apart from its
gradient (ZeRO-1 on ``Explicit`` axes), and whole-matrix math on a sharded matrix."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

import jopt
from jopt.sharding._leafwise import gathered, map_leaves
from tests.support.meshes import AUTO, EXPLICIT, mixed_params


def _step(tx):
    def step(p, s):
        grads = jax.tree.map(lambda x: (0.5 * x + 0.1).astype(x.dtype), p)
        u, s = tx.update(grads, s, p)
        return optax.apply_updates(p, u), s

    return step


def _params(mesh):
    # every kind of split but one ("tie" splits as "cols" does)
    return {k: v for k, v in mixed_params(mesh).items() if k != "tie"}


@pytest.fixture(scope="session")
def unsharded_steps():
    """Two steps of jopt.adam on the mixed params, on one device."""
    tx = jopt.adam(1e-3)
    params = jax.tree.map(lambda p: jnp.asarray(np.asarray(p)), _params(EXPLICIT))
    step, state, out = jax.jit(_step(tx)), tx.init(params), []
    for _ in range(2):
        params, state = step(params, state)
        out.append((params, state))
    return out


@pytest.mark.parametrize("mesh", [AUTO, EXPLICIT], ids=["auto", "explicit"])
def test_a_zero1_step_keeps_its_shardings_and_the_unsharded_numbers(mesh, unsharded_steps):
    # Explicit axes: jopt reshards each gradient to its state's sharding and the update
    # back (map_leaves); Auto axes leave it to XLA. Both equal the unsharded steps.
    params = _params(mesh)
    tx = jopt.adam(1e-3)
    shardings = jopt.sharding.state_shardings(tx, params, zero_axis="data")
    state = jax.jit(tx.init, out_shardings=shardings)(params)
    jitted = jax.jit(_step(tx), out_shardings=(None, shardings))
    for i, want in enumerate(unsharded_steps):
        params, state = jitted(params, state)
        for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(shardings), strict=True):
            assert a.sharding.is_equivalent_to(b, a.ndim), (a.sharding, b)
        jopt.testing.assert_trees_close((params, state), want, f"ZeRO-1 vs unsharded, step {i}")


def _spec(x):
    spec = tuple(jax.typeof(x).sharding.spec)
    while spec and spec[-1] is None:
        spec = spec[:-1]
    return P(*spec)


def _mesh_specs(tree):
    return [_spec(x) for x in jax.tree.leaves(tree)]


def test_map_leaves_runs_in_the_state_leafs_sharding_and_returns_the_update_in_the_gradients():
    g = jax.device_put(jnp.arange(8.0, dtype=jnp.float32), NamedSharding(EXPLICIT, P("model")))
    m = jax.device_put(jnp.ones(8, jnp.float32), NamedSharding(EXPLICIT, P("data")))
    seen = []

    def fn(g, m):
        seen.append(_mesh_specs((g, m)))
        return g * 2.0, m + g

    @jax.jit
    def run(g, m):
        return map_leaves(fn, 2, {"x": g}, {"x": m})

    updates, moments = run(g, m)
    assert seen == [[P("data"), P("data")]]  # the gradient moved to the moment's sharding
    assert _mesh_specs(updates) == [P("model")] and _mesh_specs(moments) == [P("data")]
    np.testing.assert_array_equal(np.asarray(updates["x"]), 2.0 * np.arange(8.0))
    np.testing.assert_array_equal(np.asarray(moments["x"]), 1.0 + np.arange(8.0))
    # without a mesh, fn runs on the leaves as they are
    plain = map_leaves(lambda g, m: (g - m, m * g), 2, [jnp.ones(2)], [jnp.full(2, 3.0)])
    np.testing.assert_array_equal(np.asarray(plain[0][0]), [-2.0, -2.0])
    np.testing.assert_array_equal(np.asarray(plain[1][0]), [3.0, 3.0])


def test_gathered_runs_on_the_whole_matrix_and_reshards_the_result():
    x = jax.device_put(
        jnp.arange(32.0, dtype=jnp.float32).reshape(8, 4), NamedSharding(EXPLICIT, P("data"))
    )
    seen = []

    def whole(a):
        seen.append(_spec(a))
        return a @ a.T @ a

    out = jax.jit(lambda a: gathered(whole, a))(x)
    assert seen == [P()] and _spec(out) == P("data")
    a = np.arange(32.0).reshape(8, 4)
    np.testing.assert_allclose(np.asarray(out), a @ a.T @ a, rtol=1e-6)
    assert float(gathered(jnp.sum, jnp.ones(3))) == 3.0  # no mesh: fn(x) as it is
