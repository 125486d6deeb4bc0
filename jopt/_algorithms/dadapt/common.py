"""What Prodigy and the D-Adaptation methods share: one global estimate d over the whole
tree, kept in the widest float (float64 under x64, as the reference packages keep it in a
Python float), and steps that are skipped as a whole."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jopt._core.checks import Real
from jopt._core.dtypes import cast
from jopt._core.state import evaluate


def wide() -> jnp.dtype:
    """The dtype of the global scalars: float64 under x64, else float32."""
    return jnp.dtype(jnp.result_type(float))


def widen(value: Any) -> jax.Array:
    """A hyperparameter or a leaf's partial sum as a scalar of :func:`wide`."""
    return cast(value, wide())


def wide_sum(x: jax.Array) -> jax.Array:
    """The sum of a leaf's entries (each computed in the leaf's compute dtype) in
    :func:`wide`: how a sharded leaf's partial sums are ordered then changes d by the
    wide float's rounding only (1e-16 under x64), far below a float32 leaf's."""
    return jnp.sum(x.astype(wide()))


def total(parts: Sequence[jax.Array]) -> jax.Array:
    """The sum of the leaves' partial sums, in :func:`wide` (0 for an empty tree)."""
    out = jnp.zeros((), wide())
    for x in parts:
        out = out + x.astype(wide())
    return out


def keep(skip: jax.Array, old: Any, new: Any) -> Any:
    """``old`` where the step is skipped, else ``new`` (leaf by leaf, dtypes kept)."""
    return jax.tree.map(lambda o, n: jnp.where(skip, o, n.astype(o.dtype)), old, new)


def grow(d: jax.Array, d_hat: jax.Array, growth_rate: Any) -> jax.Array:
    """D-Adaptation's d_{k+1} = max(d_k, min(d̂_{k+1}, d_k·growth_rate))."""
    return jnp.maximum(d, jnp.minimum(d_hat, d * widen(growth_rate)))


# growth_rate: a factor > 0, inf (the packages' default) for no limit
GROWTH_RATE = Real(0.0, lo_open=True, allow_inf=True)


def at(value: Any, count: jax.Array, name: str) -> jax.Array:
    """A hyperparameter (or a schedule at ``count``) as a :func:`wide` scalar."""
    return widen(evaluate(value, count, name))


def safe_divide(x: jax.Array, y: jax.Array) -> jax.Array:
    """x / y, and 0 where y is 0 (a step taken as skipped does not divide by zero)."""
    return x / jnp.where(y == 0, jnp.ones_like(y), y)


def moved(p: jax.Array, new: jax.Array, skip: jax.Array, dtype: Any) -> jax.Array:
    """The update (in ``dtype``, the gradient's) that takes ``p`` to ``new``, 0 where the
    step is skipped: the packages that set θ (θ ← x0 − s, θ ← (θ − u)/(1 + dlr·λ))."""
    out = new - p.astype(new.dtype)
    return jnp.where(skip, jnp.zeros_like(out), out).astype(dtype)
