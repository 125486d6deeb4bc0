"""Tree-wide scalars of the parameter-free and Polyak-type steps: a norm or an inner
product over every leaf, in one scalar dtype."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jopt._core.dtypes import complex_dtype, compute_dtype, real_dtype, state_dtype
from jopt._core.elementwise import abs_sq
from jopt._core.state import check_params
from jopt.sharding._leafwise import explicit_sharding


def tree_dtype(tree: Any) -> jnp.dtype:
    """The dtype of a tree-wide scalar: the widest real compute dtype of the leaves
    (float32 for a float32 tree, float64 once a leaf is float64)."""
    dts = [real_dtype(compute_dtype(x)) for x in jax.tree.leaves(tree)]
    return max(dts, key=lambda d: d.itemsize) if dts else jnp.dtype(jnp.float32)


def wide_dtype(x: Any, dt: jnp.dtype) -> jnp.dtype:
    """The dtype a leaf's math runs in beside tree-wide scalars of dtype ``dt`` (the widest
    of the tree): ``dt``, or its complex twin for a complex leaf. In a mixed-precision tree
    a float32 leaf is then computed in float64 and rounded once, so that the scalars it
    feeds (and so every other leaf's step) do not depend on how XLA fused its math (jit
    or not, sharded or not)."""
    complex_ = jnp.issubdtype(compute_dtype(x), jnp.complexfloating)
    return jnp.dtype(complex_dtype(dt) if complex_ else dt)


def _wide(x: Any, dt: jnp.dtype) -> jax.Array:
    """``x`` in ``dt`` (a complex leaf: the complex dtype of ``dt``'s precision), so that a
    tree-wide sum is as precise, and as reproducible over a mesh, as its result."""
    return x.astype(wide_dtype(x, dt))


def matched(y: jax.Array, x: jax.Array) -> jax.Array:
    """``y`` resharded as ``x`` where both carry different ``Explicit`` shardings (a state
    leaf sharded apart from its parameter, ZeRO-1), so that they combine elementwise."""
    have, want = explicit_sharding(y), explicit_sharding(x)
    if have is None or want is None or have == want:
        return y
    return jax.sharding.reshard(y, want)


def _sum(parts: list[jax.Array], dt: jnp.dtype) -> jax.Array:
    total = jnp.zeros((), dt)
    for part in parts:
        total = total + part.astype(dt)
    return total


def sq_norm(tree: Any, dt: jnp.dtype) -> jax.Array:
    """Σ |x|² over every entry of every leaf, computed in and returned as ``dt``."""
    return _sum([jnp.sum(abs_sq(_wide(x, dt))) for x in jax.tree.leaves(tree)], dt)


def vdot(a: Any, b: Any, dt: jnp.dtype) -> jax.Array:
    """Re⟨a, b⟩ = Σ Re(conj(a)·b) over two trees of the same structure, a ``dt`` scalar."""

    def one(x: jax.Array, y: jax.Array) -> jax.Array:
        return jnp.sum(jnp.real(jnp.conj(_wide(x, dt)) * _wide(matched(y, x), dt)))

    pairs = zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    return _sum([one(x, y) for x, y in pairs], dt)


def sq_distance(a: Any, b: Any, dt: jnp.dtype) -> jax.Array:
    """‖a − b‖² over two trees of the same structure, computed in ``dt``."""
    diffs = [
        _wide(x, dt) - _wide(matched(y, x), dt)
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    ]
    return sq_norm(diffs, dt)


def copy_params(params: Any) -> Any:
    """A copy of ``params`` in their state dtypes (own buffers): a reference point x₀."""
    check_params(params)
    return jax.tree.map(lambda p: jnp.copy(p).astype(state_dtype(p)), params)
