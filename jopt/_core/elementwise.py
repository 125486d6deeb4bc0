"""The elementwise math the primitives share: moving averages, |g|², the normalized step.

Every function takes arrays already in the compute dtype (see :mod:`jopt._core.dtypes`),
except :func:`ema_weights`, which casts a decay hyperparameter to one.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jopt._core.dtypes import cast, stored


def abs_sq(g: jax.Array) -> jax.Array:
    """|g|², real: g² for real g, (conj(g)·g).real for complex g (optax's convention)."""
    if jnp.issubdtype(g.dtype, jnp.complexfloating):
        return (jnp.conj(g) * g).real
    return g * g


def ema_weights(decay: Any, dtype: Any) -> tuple[jax.Array, jax.Array]:
    """(β, 1 − β) as arrays of ``dtype``, for a hyperparameter β: the weights :func:`ema`
    takes."""
    b = cast(decay, dtype)
    return b, 1.0 - b


def ema(decay: jax.Array, rest: jax.Array | None, moment: Any, x: jax.Array) -> jax.Array:
    """The moving average ``decay·moment + rest·x`` (rest = 1 − decay, or None for the sum
    ``decay·moment + x``: no multiply by one for XLA to compile and remove), computed in
    ``x``'s dtype and rounded to the moment's storage dtype. ``moment`` is a stored
    moment: an array, or a quantized one held for the step (:func:`jopt._core.moments.held`).

    The result is in the compute dtype, as the step uses it; store it with
    :func:`jopt._core.moments.write` (``.astype(moment.dtype)`` for an array).
    """
    added = x if rest is None else rest * x
    return stored(decay * moment.astype(x.dtype) + added, moment.dtype)


def normalize(g: jax.Array, denom_sq: jax.Array, eps: jax.Array, eps_in_sqrt: bool) -> jax.Array:
    """g / sqrt(s + ε) when ``eps_in_sqrt`` else g / (sqrt(s) + ε); s, ε real."""
    denom = jnp.sqrt(denom_sq + eps) if eps_in_sqrt else jnp.sqrt(denom_sq) + eps
    return g / denom.astype(g.dtype)
