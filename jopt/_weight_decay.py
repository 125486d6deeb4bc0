"""L2 weight decay added to the gradient (coupled) or to the update (decoupled)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import optax

from jopt._base import (
    ScalarOrSchedule,
    cast,
    check_tree,
    compute_dtype,
    evaluate,
    increment,
    init_learning_rate,
    next_learning_rate,
    per_dtype,
    requested,
    require_params,
    zero_count,
)
from jopt._validation import check_learning_rate, check_nonnegative


class AddDecayedWeightsState(NamedTuple):
    """A weight-decay schedule's count (updates applied); a constant decay keeps no state."""

    count: jax.Array


def _add_decayed_weights(
    call: str, weight_decay: ScalarOrSchedule, mask: Any | None = None
) -> optax.GradientTransformationExtraArgs:
    scheduled = callable(weight_decay)

    def init_fn(params):
        return AddDecayedWeightsState(zero_count(params)) if scheduled else optax.EmptyState()

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        require_params(call, params, "to decay them")
        check_tree(call, updates, params, "the params")
        wd = evaluate(weight_decay, state.count) if scheduled else weight_decay
        decay_of = per_dtype(lambda dt: cast(wd, dt))

        def decay(g, p):
            dt = compute_dtype(g)
            return (g.astype(dt) + decay_of(dt) * p.astype(dt)).astype(g.dtype)

        updates = jax.tree.map(decay, updates, params)
        return updates, AddDecayedWeightsState(increment(state.count)) if scheduled else state

    tx = optax.GradientTransformationExtraArgs(init_fn, update_fn)
    return tx if mask is None else optax.masked(tx, mask)


def add_decayed_weights(
    weight_decay: ScalarOrSchedule = 0.0, mask: Any | None = None
) -> optax.GradientTransformationExtraArgs:
    """Adds ``weight_decay * θ`` to the updates: g ← g + λθ.

    Placed before the optimizer's scaling it is PyTorch's coupled L2 penalty
    (``torch.optim.SGD/Adam(weight_decay=λ)``); placed between the scaling and the
    learning rate it is AdamW's decoupled decay, θ ← θ − αλθ − α·step.
    ``weight_decay`` may be a schedule ``count -> λ`` (then the state is an int32
    count, :class:`jopt.AddDecayedWeightsState`; otherwise empty). ``mask`` (a pytree of
    bools or a callable ``params -> pytree of bools``) limits the decay to the leaves
    marked True, as in ``optax.masked``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.add_decayed_weights(0.5)
    >>> params = jnp.array([2.0, -4.0])
    >>> tx.update(jnp.zeros(2), tx.init(params), params)[0]
    Array([ 1., -2.], dtype=float32)
    """
    call = "jopt.add_decayed_weights"
    check_nonnegative(call, "weight_decay", weight_decay, schedule=True)
    return _add_decayed_weights(call, weight_decay, mask)


def maximize_and_decay(
    call: str, maximize: bool, weight_decay: ScalarOrSchedule | None
) -> list[optax.GradientTransformation]:
    """PyTorch's first two lines: g ← −g if maximize; g ← g + λθ (coupled L2), if asked."""
    steps: list[optax.GradientTransformation] = [optax.scale(-1.0)] if maximize else []
    if requested(weight_decay):
        steps.append(_add_decayed_weights(call, weight_decay))
    return steps


def _decoupled_weight_decay(
    call: str,
    learning_rate: ScalarOrSchedule,
    weight_decay: ScalarOrSchedule,
    mask: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    scheduled = callable(weight_decay)

    def init_fn(params):
        return init_learning_rate(learning_rate, params, counted=scheduled)

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        require_params(call, params, "to decay them")
        check_tree(call, updates, params, "the params")
        wd = evaluate(weight_decay, state.count) if scheduled else weight_decay
        lr, state = next_learning_rate(learning_rate, state)

        def decay(u, p):
            dt = compute_dtype(u)
            step = p.astype(dt) * cast(wd, dt) * cast(lr, dt)  # Keras: θ·λ·α
            return (u.astype(dt) - step).astype(u.dtype)

        return jax.tree.map(decay, updates, params), state

    tx = optax.GradientTransformationExtraArgs(init_fn, update_fn)
    return tx if mask is None else optax.masked(tx, mask)


def decoupled_weight_decay(
    learning_rate: ScalarOrSchedule, weight_decay: ScalarOrSchedule, mask: Any | None = None
) -> optax.GradientTransformationExtraArgs:
    """Adds the decay step −α_t λ θ to updates that already carry their learning rate.

    Δθ ← Δθ − α_t λ θ: Keras 3's ``weight_decay`` θ ← θ − θλα_t, for a step that does
    not read θ (``jopt.compat.keras`` presets decay θ first and run the step on the
    decayed θ, Keras' exact order, which differs for steps that read θ: LAMB, Adafactor,
    FTRL). Use it where the learning rate sits inside a buffer, so the decay must not
    pass through it (a Keras-style SGD or RMSprop momentum: place it after
    :func:`jopt.scale_by_trace`); elsewhere :func:`jopt.add_decayed_weights` before
    the learning-rate step is the same math. ``learning_rate`` and ``weight_decay`` are
    numbers or schedules ``count -> value`` evaluated at the updates already applied; the
    state records the α used, as :func:`jopt.scale_by_learning_rate`'s does. ``mask`` as
    in :func:`jopt.add_decayed_weights`.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.decoupled_weight_decay(0.1, 0.5)
    >>> params = jnp.array([2.0, -4.0])
    >>> tx.update(jnp.zeros(2), tx.init(params), params)[0]  # −0.1·0.5·θ
    Array([-0.1,  0.2], dtype=float32)
    """
    call = "jopt.decoupled_weight_decay"
    check_learning_rate(call, learning_rate)
    check_nonnegative(call, "weight_decay", weight_decay, schedule=True)
    return _decoupled_weight_decay(call, learning_rate, weight_decay, mask)
