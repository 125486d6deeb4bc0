"""L2 weight decay added to the gradient (coupled) or to the update (decoupled)."""

from __future__ import annotations

from typing import Any

import jax
import optax

from jopt._base import (
    Scalar,
    ScalarOrSchedule,
    cast,
    check_tree,
    compute_dtype,
    init_learning_rate,
    next_learning_rate,
    per_dtype,
)
from jopt._validation import check_learning_rate, check_nonnegative


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


def decoupled_weight_decay(
    learning_rate: ScalarOrSchedule, weight_decay: Scalar, mask: Any | None = None
) -> optax.GradientTransformationExtraArgs:
    """Adds the decay step −α_t λ θ to updates that already carry their learning rate.

    Δθ ← Δθ − α_t λ θ: Keras 3's ``weight_decay``, θ ← θ − θλα_t applied before the
    optimizer's own step. Use it where the learning rate sits inside a buffer, so the
    decay must not pass through it (Keras SGD and RMSprop momentum: place it after
    :func:`jopt.scale_by_trace`); elsewhere :func:`jopt.add_decayed_weights` before
    the learning-rate step is the same math. ``learning_rate`` is a number or a schedule
    ``count -> α`` evaluated at the updates already applied; the state records the α
    used, as :func:`jopt.scale_by_learning_rate`'s does. ``mask`` as in
    :func:`jopt.add_decayed_weights`.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.decoupled_weight_decay(0.1, 0.5)
    >>> params = jnp.array([2.0, -4.0])
    >>> tx.update(jnp.zeros(2), tx.init(params), params)[0]  # −0.1·0.5·θ
    Array([-0.1,  0.2], dtype=float32)
    """
    call = "jopt.decoupled_weight_decay"
    check_learning_rate(call, learning_rate)
    check_nonnegative(call, "weight_decay", weight_decay)

    def init_fn(params):
        del params
        return init_learning_rate(learning_rate)

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        if params is None:
            raise ValueError(
                f"{call}: update() needs params to decay; call tx.update(grads, state, params)."
            )
        check_tree(call, updates, params, "the params")
        lr, state = next_learning_rate(learning_rate, state)

        def decay(u, p):
            dt = compute_dtype(u)
            step = p.astype(dt) * cast(weight_decay, dt) * cast(lr, dt)  # Keras: θ·λ·α
            return (u.astype(dt) - step).astype(u.dtype)

        updates = jax.tree.map(decay, updates, params)
        return updates, state

    tx = optax.GradientTransformationExtraArgs(init_fn, update_fn)
    return tx if mask is None else optax.masked(tx, mask)
