"""The mesh half of :func:`jopt.testing.check_transformation`: the state of a step on a
mesh sits where :func:`jopt.sharding.state_shardings` says, compiles once, and gives the
single-device numbers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from jax.sharding import NamedSharding, PartitionSpec

from jopt.sharding._shardings import state_shardings

_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


def spread(x: Any, mesh: jax.sharding.Mesh) -> NamedSharding:
    # A sharding for a test leaf: kept if the caller sharded it, else each mesh axis on
    # the first free dimension its size divides (replicated along it when none does).
    if isinstance(getattr(x, "sharding", None), NamedSharding) and x.committed:
        return x.sharding
    spec: list[Any] = [None] * jnp.ndim(x)
    for axis in mesh.axis_names:
        for d, n in enumerate(jnp.shape(x)):
            if spec[d] is None and n % mesh.shape[axis] == 0:
                spec[d] = axis
                break
    return NamedSharding(mesh, PartitionSpec(*spec))


def check_placed(tree: Any, want: Any, what: str, *, uncommitted_ok: bool = False) -> None:
    for (path, leaf), expected in zip(
        jax.tree_util.tree_leaves_with_path(tree), jax.tree.leaves(want), strict=True
    ):
        if not isinstance(leaf, jax.Array):
            continue  # a Python constant: jit makes it an array (the signature check)
        if uncommitted_ok and not leaf.committed and expected.is_fully_replicated:
            continue  # jit replicates it; the compile count says what that costs
        assert leaf.committed and leaf.sharding.is_equivalent_to(expected, leaf.ndim), (
            f"{what}{jax.tree_util.keystr(path)} has sharding {leaf.sharding}"
            f"{'' if leaf.committed else ' (uncommitted: built whole on one device)'}, "
            f"expected {expected.spec} over the mesh (jopt.sharding.state_shardings: a "
            "field declared PerParam as its parameter, any other replicated); create a "
            "moment with jnp.zeros_like(param) in a field annotated jopt.sharding.PerParam"
        )


def check_on_mesh(
    tx: optax.GradientTransformation,
    params: Any,
    grads: Any,
    mesh: jax.sharding.Mesh,
    expected: list[Any],
    extra_args: dict[str, Any],
    compare: Callable[[Any, Any, str], None],
) -> None:
    # ``expected``: the eager (params, state, updates) of each step, already checked
    # against jit; the sharded run must give the same numbers.
    where = jax.tree.map(lambda x: spread(x, mesh), params)
    p0, g = (jax.tree.map(jax.device_put, t, where) for t in (params, grads))
    want = state_shardings(tx, p0, mesh)
    state = tx.init(p0)
    check_placed(state, want, "on the mesh, init: state", uncommitted_ok=True)
    loose = [
        jax.tree_util.keystr(path)
        for path, leaf in jax.tree_util.tree_leaves_with_path(state)
        if isinstance(leaf, jax.Array) and not leaf.committed
    ]

    def step(p, s, g):
        u, s = tx.update(g, s, p, **extra_args)
        return optax.apply_updates(p, u), s, u

    compiles, counting = 0, False

    def count(event: str, duration_secs: float, **kwargs: str | int) -> None:
        nonlocal compiles
        if counting and event == _COMPILE_EVENT:
            compiles += 1

    sharded, p, s = jax.jit(step), p0, state
    jax.monitoring.register_event_duration_secs_listener(count)
    try:
        for i, single in enumerate(expected):
            counting = True
            p, s, u = sharded(p, s, g)
            counting = False
            check_placed(s, want, f"on the mesh, after jitted update {i + 1}: state")
            check_placed(p, where, f"on the mesh, after jitted update {i + 1}: params")
            compare((p, s, u), single, f"sharded vs single device, step {i + 1}")
    finally:
        jax.monitoring.unregister_event_duration_listener(count)
    assert compiles == 1, (
        f"on the mesh, the jitted update compiled {compiles} times in {len(expected)} steps "
        f"(expected 1); uncommitted state leaves after init: {loose or 'none'} (jit returns them "
        "replicated, so the next step sees new shardings and compiles again; create them "
        "replicated over the params' mesh)"
    )
