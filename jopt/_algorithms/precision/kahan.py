"""Kahan-compensated updates of bfloat16 parameters (Zamirai et al. 2020)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._algorithms.precision.landing import landing_update
from jopt._core.checks import checked
from jopt._core.layout import PerParam
from jopt._core.state import check_params, check_update_params, zeros_placed_like


class KahanSummationState(NamedTuple):
    """The compensations of :func:`jopt.kahan_summation`.

    Args:
      compensation: per bfloat16 parameter, the bfloat16 part of the past updates that
        rounding lost (with its sign flipped: c = applied − intended); an
        ``optax.MaskedNode`` for a parameter of another dtype.

    >>> import jax.numpy as jnp, jopt
    >>> params = {"w": jnp.ones(2, jnp.bfloat16), "b": jnp.ones(2)}
    >>> state = jopt.kahan_summation().init(params)
    >>> state.compensation["w"].dtype, state.compensation["b"]
    (dtype(bfloat16), MaskedNode())
    """

    compensation: PerParam


def _bf16(x: jax.Array) -> jax.Array:
    return x.astype(jnp.bfloat16)


def _f32(x: jax.Array) -> jax.Array:
    return x.astype(jnp.float32)


@checked()
def kahan_summation() -> optax.GradientTransformationExtraArgs:
    """Kahan summation of the updates of bfloat16 parameters, placed last in a chain
    (Zamirai et al. 2020, "Revisiting BFloat16 Training", Algorithm 2).

    With w a bfloat16 parameter, u the update the chain computed and c its bfloat16
    compensation (0 at first), every operation rounded to bfloat16 (nearest):

        y = u − c,  s = w + y,  c ← (s − w) − y,  w ← s.

    An update too small to move w under round-to-nearest is not lost: it accumulates in
    −c until the sum moves w by a whole bfloat16 step. The returned update makes
    ``optax.apply_updates(w, ·)`` equal s (:func:`landing_update`). Leaves of other
    dtypes pass unchanged and keep no compensation.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.KahanSummationState`; its ``update`` needs ``params``.

    >>> import jax, jax.numpy as jnp, optax, jopt
    >>> params = jnp.ones(1, jnp.bfloat16)
    >>> tx = jopt.kahan_summation()
    >>> def step(carry, _):  # 1000 updates of 1e-4, each under half a bfloat16 step of 1
    ...     p, state = carry
    ...     updates, state = tx.update(jnp.full(1, 1e-4, jnp.bfloat16), state, p)
    ...     return (optax.apply_updates(p, updates), state), None
    >>> (p, _), _ = jax.lax.scan(step, (params, tx.init(params)), length=1000)
    >>> p  # plain bfloat16 addition stays at 1.0
    Array([1.10156], dtype=bfloat16)
    """

    def init_fn(params):
        check_params(params)

        def make(p):
            if jnp.dtype(p.dtype) != jnp.bfloat16:
                return optax.MaskedNode()
            return zeros_placed_like(p, jnp.bfloat16)

        return KahanSummationState(compensation=jax.tree.map(make, params))

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        check_update_params(updates, params, "to add each update to its bfloat16 parameter")

        def step(u, w, c):
            if jnp.dtype(w.dtype) != jnp.bfloat16:
                return u, c
            y = _bf16(_f32(u) - _f32(c))
            exact = _f32(w) + _f32(y)
            s = _bf16(exact)
            c_new = _bf16(_f32(_bf16(_f32(s) - _f32(w))) - _f32(y))
            return landing_update(w, s, jnp.dtype(u.dtype), near=exact), c_new

        out = jax.tree.map(step, updates, params, state.compensation)
        new_updates = jax.tree.map(lambda _, o: o[0], updates, out)
        compensation = jax.tree.map(lambda _, o: o[1], updates, out)
        return new_updates, KahanSummationState(compensation=compensation)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
