"""L2 weight decay added to the gradient (coupled) or to the update (decoupled)."""

from __future__ import annotations

from typing import Any

import jax
import optax

from jopt._base import Scalar, cast, check_tree, compute_dtype, per_dtype
from jopt._validation import check_nonnegative


def add_decayed_weights(
    weight_decay: Scalar = 0.0, mask: Any | None = None
) -> optax.GradientTransformationExtraArgs:
    """Adds ``weight_decay * θ`` to the updates: g ← g + λθ.

    Placed before the optimizer's scaling it is PyTorch's coupled L2 penalty
    (``torch.optim.SGD/Adam(weight_decay=λ)``); placed between the scaling and the
    learning rate it is AdamW's decoupled decay, θ ← θ − αλθ − α·step.
    ``mask`` (a pytree of bools or a callable ``params -> pytree of bools``) limits
    the decay to the leaves marked True, as in ``optax.masked``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.add_decayed_weights(0.5)
    >>> params = jnp.array([2.0, -4.0])
    >>> tx.update(jnp.zeros(2), tx.init(params), params)[0]
    Array([ 1., -2.], dtype=float32)
    """
    check_nonnegative("jopt.add_decayed_weights", "weight_decay", weight_decay)

    def init_fn(params):
        del params
        return optax.EmptyState()

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        if params is None:
            raise ValueError(
                "jopt.add_decayed_weights: update() needs params to decay; call "
                "tx.update(grads, state, params)."
            )
        check_tree("jopt.add_decayed_weights", updates, params, "the params")
        decay_of = per_dtype(lambda dt: cast(weight_decay, dt))

        def decay(g, p):
            dt = compute_dtype(g)
            return (g.astype(dt) + decay_of(dt) * p.astype(dt)).astype(g.dtype)

        return jax.tree.map(decay, updates, params), state

    tx = optax.GradientTransformationExtraArgs(init_fn, update_fn)
    return tx if mask is None else optax.masked(tx, mask)
