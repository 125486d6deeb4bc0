"""The update that makes ``optax.apply_updates`` land a parameter on a chosen value."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def landing_update(p: jax.Array, target: jax.Array, dtype: jnp.dtype) -> jax.Array:
    """An update u of ``dtype`` with ``(p + u).astype(p.dtype) == target``, as
    ``optax.apply_updates`` computes it (p + u in the dtype NumPy's rules promote p's and
    u's to).

    u is target − p rounded to ``dtype``, or its next value down or up when that one lands
    and the rounded difference does not. So it is exact whenever some u of ``dtype``
    lands; none does only when the step nearly cancels the parameter (a target much
    smaller than p, whose bits lie below the last bit of ``dtype`` near p). Then u is the
    rounded difference, and the parameter lands within its rounding of the target.

    >>> import jax.numpy as jnp
    >>> from jopt._algorithms.precision.landing import landing_update
    >>> p, target = jnp.bfloat16(1.0), jnp.bfloat16(1.0078125)  # the next bfloat16 up
    >>> u = landing_update(p, target, jnp.dtype(jnp.bfloat16))
    >>> bool((p + u).astype(p.dtype) == target)
    True
    """
    with jax.numpy_dtype_promotion("standard"):  # apply_updates's p + u, whatever the mode
        wide = jnp.promote_types(p.dtype, dtype)
    difference = target.astype(jnp.float32) - p.astype(jnp.float32)
    nearest = difference.astype(dtype)

    def lands(u: jax.Array) -> jax.Array:
        return (p.astype(wide) + u.astype(wide)).astype(p.dtype) == target

    below = jnp.nextafter(nearest, jnp.full_like(nearest, -np.inf))
    above = jnp.nextafter(nearest, jnp.full_like(nearest, np.inf))
    fix = jnp.where(lands(below), below, jnp.where(lands(above), above, nearest))
    return jnp.where(lands(nearest), nearest, fix)
