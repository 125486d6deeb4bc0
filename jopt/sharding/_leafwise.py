"""Per-leaf math on a mesh: a state leaf sharded apart from its gradient (ZeRO-1 on
``Explicit`` axes), and whole-matrix math on a sharded matrix."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec


def map_leaves(
    fn: Callable[..., tuple[Any, ...]],
    num_outputs: int,
    updates: Any,
    *trees: Any,
    elementwise: bool = False,
) -> tuple[Any, ...]:
    """Applies ``fn(g, *leaves) -> tuple`` leaf-wise and returns ``num_outputs`` trees.

    ``updates`` fixes the structure; every tree in ``trees`` must have the same one.
    ``fn``'s first output is the update, the others new state leaves.

    On a mesh with ``Explicit`` axes a state leaf may be sharded apart from its
    gradient (ZeRO-1: :func:`jopt.sharding.state_shardings` with ``zero_axis``), and
    explicit shardings do not mix: ``fn`` then runs in the first such state leaf's
    sharding (the gradient and every other leaf of its shape resharded to it, so each
    device updates its own slice) and the update is resharded back to the gradient's
    (an all-gather). ``Auto`` axes leave that to XLA.

    ``elementwise=True`` declares that ``fn`` is elementwise (output element i depends
    on element i of its inputs, and on the block of a quantized moment) and that output
    k + 1 is the new value of ``trees[k]``: a leaf with a large quantized moment then runs
    in a loop over chunks (:func:`jopt._core.moments.chunked`).
    """
    if elementwise:
        from jopt._core.moments import chunked  # noqa: PLC0415 (moments imports this module)

        plain = fn
        fn = lambda g, *leaves: chunked(plain, g, *leaves)  # noqa: E731

    def run(g, *leaves):
        have = _explicit(g)
        want = next((w for x in leaves if _apart(w := _explicit(x), x, g, have)), None)
        if want is None:
            return fn(g, *leaves)
        moved = [
            jax.sharding.reshard(x, want) if _apart(_explicit(x), x, g, want) else x
            for x in (g, *leaves)
        ]
        out = fn(*moved)
        back = have if have is not None else NamedSharding(want.mesh, PartitionSpec())
        return (jax.sharding.reshard(out[0], back), *out[1:])

    out = jax.tree.map(run, updates, *trees)
    return tuple(jax.tree.map(lambda _, o, i=i: o[i], updates, out) for i in range(num_outputs))


def _apart(sharding: Any, x: Any, g: Any, other: Any) -> bool:
    # x, an array of g's shape, is explicitly sharded (as sharding) other than other
    if sharding is None or jnp.shape(x) != jnp.shape(g):
        return False
    return other is None or _spec(sharding, g) != _spec(other, g)


def gathered(fn: Callable[[jax.Array], jax.Array], x: jax.Array) -> jax.Array:
    """``fn(x)`` on the whole of ``x``: an ``x`` sharded over ``Explicit`` mesh axes is
    gathered first and the result resharded as ``x`` (for math on a whole matrix, such as
    Muon's Newton–Schulz products, which explicit shardings cannot contract); otherwise
    ``fn(x)`` as it is (``Auto`` axes: XLA places the products)."""
    have = _explicit(x)
    if have is None or all(e is None for e in have.spec):
        return fn(x)
    whole = fn(jax.sharding.reshard(x, NamedSharding(have.mesh, PartitionSpec())))
    return jax.sharding.reshard(whole, have)


def explicit_sharding(x: Any) -> Any:
    """The ``NamedSharding`` an array's type carries over ``Explicit`` mesh axes, or None
    (``Auto`` axes, no mesh, or not an array)."""
    return _explicit(x)


def _explicit(x: Any) -> Any:
    # The sharding a value's type carries over Explicit mesh axes (None: none does, or
    # x is not an array, e.g. a factored statistic's NamedTuple).
    if not isinstance(x, (jax.Array, np.ndarray, np.generic)):
        return None
    sharding = getattr(jax.typeof(x), "sharding", None)
    if sharding is None or jax.sharding.AxisType.Explicit not in sharding.mesh.axis_types:
        return None
    return sharding


def _spec(sharding: Any, x: Any) -> tuple[Any, ...]:
    spec = tuple(sharding.spec)
    return spec + (None,) * (jnp.ndim(x) - len(spec))
