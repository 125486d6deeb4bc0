"""Every registry case on a device mesh (8 virtual CPU devices, conftest.py): its state
follows the params under a jitted init, and it runs ZeRO-1 on Explicit axes.

The rest of jopt's mesh handling is tested where it lives, in tests/sharding/.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

import jopt
from tests.support.meshes import AUTO, EXPLICIT, SPECS, sharded_tree
from tests.support.registry import CASES

IDS = [c.name for c in CASES]
# Every case on a mesh is a long run: outside the inner loop (`pytest -m "not slow"`); the
# contract test of tests/test_registry_contracts.py keeps one mesh check per case there.
pytestmark = pytest.mark.slow


def expected_spec(path):
    """The spec a state leaf must have: its parameter's (the last key in its path that
    names one), without the averaged axis for a factored statistic (Adafactor's row /
    col), else P()."""
    keys = [k.key for k in path if isinstance(k, jax.tree_util.DictKey) and k.key in SPECS]
    if not keys:
        return P()
    if getattr(path[-1], "name", None) in ("codes", "scales"):
        # a quantized moment's blocks: split only as a parameter split along its first
        # dimension alone; w (both axes) and f (dimension 1) are not, so replicated
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


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_jitted_init_follows_the_params_on_auto_axes(case):
    # Auto axes: XLA picks the output shardings; a moment built from constants alone
    # (optax's zeros_like) comes out replicated. jopt ties each moment to its parameter.
    # (On Explicit axes the sharding is in the type: the contract's mesh check and the
    # ZeRO-1 test below run there.)
    params = sharded_tree(AUTO)
    with jax.set_mesh(AUTO):
        state = jax.jit(case.make(case.lr).init)(params)
    assert_follows(state, AUTO, f"{case.name}: state")


def test_optax_moments_do_not_follow_under_auto_axes():
    # What the test above guards against (so it can fail): optax.adam's jitted init.
    params = sharded_tree(AUTO)
    with (
        jax.set_mesh(AUTO),
        pytest.raises(AssertionError, match=r"mu\['f'\].*expected P\(None, 'model'\)"),
    ):
        assert_follows(jax.jit(optax.adam(0.1).init)(params), AUTO, "optax state")


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
    # (and a quantized moment's blocks)
    mirrors = {(8, 4), (2, 32)}
    shapes = jax.eval_shape(tx.init, params)
    assert any("data" in str(s.spec) for s in jax.tree.leaves(shardings)) == any(
        isinstance(x, jopt.QuantizedMoment) or x.shape in mirrors
        for x in jax.tree.leaves(shapes, is_leaf=lambda x: isinstance(x, jopt.QuantizedMoment))
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
