"""The update that makes ``optax.apply_updates`` land a parameter on a chosen value."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def landing_update(
    p: jax.Array, target: jax.Array, dtype: jnp.dtype, near: jax.Array | None = None
) -> jax.Array:
    """An update u of ``dtype`` with ``(p + u).astype(p.dtype) == target``, as
    ``optax.apply_updates`` computes it (p + u in the dtype NumPy's rules promote p's and
    u's to).

    u is target − p rounded to ``dtype``, or its next value down or up when that one lands
    and the rounded difference does not. So it is exact whenever some u of ``dtype``
    lands: for a float32 u and a bfloat16 p whenever target − p is a float32 (their
    exponents within 16 of each other), and for a bfloat16 u whenever |target − p| <= |p|.
    A larger bfloat16 step may find none: the sum's spacing is then coarser than p's, and
    when p sits halfway between two of its values, round-to-even reaches every other one
    only. Then u is the one of the three whose result is nearest ``near`` (the exact sum
    the target rounds, default the target itself).

    >>> import jax.numpy as jnp
    >>> from jopt._algorithms.precision.landing import landing_update
    >>> p, target = jnp.bfloat16(1.0), jnp.bfloat16(1.0078125)  # the next bfloat16 up
    >>> u = landing_update(p, target, jnp.dtype(jnp.bfloat16))
    >>> bool((p + u).astype(p.dtype) == target)
    True
    """
    with jax.numpy_dtype_promotion("standard"):  # apply_updates's p + u, whatever the mode
        wide = jnp.promote_types(p.dtype, dtype)
    aim = target.astype(jnp.float32) if near is None else near.astype(jnp.float32)
    nearest = (target.astype(jnp.float32) - p.astype(jnp.float32)).astype(dtype)

    def miss(u: jax.Array) -> jax.Array:  # -1 where u lands, else how far from the aim
        landed = (p.astype(wide) + u.astype(wide)).astype(p.dtype)
        return jnp.where(landed == target, -1.0, jnp.abs(landed.astype(jnp.float32) - aim))

    best, best_miss = nearest, miss(nearest)
    for toward in (-np.inf, np.inf):
        other = jnp.nextafter(nearest, jnp.full_like(nearest, toward))
        other_miss = miss(other)
        better = other_miss < best_miss
        best = jnp.where(better, other, best)
        best_miss = jnp.where(better, other_miss, best_miss)
    return best
