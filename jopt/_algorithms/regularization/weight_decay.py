"""L2 weight decay added to the gradient (coupled) or to the update (decoupled)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import optax

from jopt._core.checks import checked, learning_rate, nonnegative, unchecked
from jopt._core.dtypes import cast, compute_dtype, per_dtype
from jopt._core.hyperparams import ScalarOrSchedule
from jopt._core.learning_rate import init_learning_rate, next_learning_rate
from jopt._core.state import check_update_params, evaluate, increment, requested, zero_count

MASK = unchecked("a tree of bools or a function of the params, as optax.masked's")


def _decay_now(weight_decay: ScalarOrSchedule, state: Any, updates: Any, params: Any) -> Any:
    """Checks an update's ``params`` against its ``updates`` and returns this update's λ
    (a schedule evaluated at ``state.count``, the updates already applied)."""
    check_update_params(updates, params, "to decay them")
    if callable(weight_decay):
        return evaluate(weight_decay, state.count, "the weight-decay schedule")
    return weight_decay


class AddDecayedWeightsState(NamedTuple):
    """A weight-decay schedule's count (updates applied); a constant decay keeps no state.

    Args:
      count: int32, the updates applied: the schedule's argument.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.add_decayed_weights(jopt.schedules.step_lr(0.5, step_size=1, gamma=0.5))
    >>> params = jnp.ones(2)
    >>> updates, state = tx.update(jnp.zeros(2), tx.init(params), params)
    >>> updates, state.count  # λ_0·θ, one update applied
    (Array([0.5, 0.5], dtype=float32), Array(1, dtype=int32))
    """

    count: jax.Array


@checked(weight_decay=nonnegative(schedule=True), mask=MASK)
def add_decayed_weights(
    weight_decay: ScalarOrSchedule = 0.0, mask: Any | None = None
) -> optax.GradientTransformationExtraArgs:
    """Adds ``weight_decay * θ`` to the updates: g ← g + λθ.

    Placed before the optimizer's scaling it is PyTorch's coupled L2 penalty
    (``torch.optim.SGD/Adam(weight_decay=λ)``); placed between the scaling and the
    learning rate it is AdamW's decoupled decay, θ ← θ − αλθ − α·step.

    Args:
      weight_decay: λ >= 0, or a schedule ``count -> λ`` (then the state is an int32
        count, :class:`jopt.AddDecayedWeightsState`; otherwise empty).
      mask: a pytree of bools or a function ``params -> pytree of bools``: only the
        leaves marked True decay, as in ``optax.masked``.

    Returns:
      An ``optax.GradientTransformationExtraArgs``; ``update`` needs ``params``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.add_decayed_weights(0.5)
    >>> params = jnp.array([2.0, -4.0])
    >>> tx.update(jnp.zeros(2), tx.init(params), params)[0]
    Array([ 1., -2.], dtype=float32)
    """
    scheduled = callable(weight_decay)

    def init_fn(params):
        return AddDecayedWeightsState(zero_count(params)) if scheduled else optax.EmptyState()

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        wd = _decay_now(weight_decay, state, updates, params)
        decay_of = per_dtype(lambda dt: cast(wd, dt))

        def decay(g, p):
            dt = compute_dtype(g)
            return (g.astype(dt) + decay_of(dt) * p.astype(dt)).astype(g.dtype)

        updates = jax.tree.map(decay, updates, params)
        return updates, AddDecayedWeightsState(increment(state.count)) if scheduled else state

    tx = optax.GradientTransformationExtraArgs(init_fn, update_fn)
    return tx if mask is None else optax.masked(tx, mask)


def optional_decay(
    weight_decay: ScalarOrSchedule | None, mask: Any | None = None
) -> list[optax.GradientTransformation]:
    """``[add_decayed_weights(weight_decay, mask)]`` when a decay is asked for
    (``requested``), else ``[]``: an alias's optional decay step,
    which keeps no state when off. From checked arguments."""
    return [add_decayed_weights(weight_decay, mask)] if requested(weight_decay) else []


@checked(learning_rate=learning_rate(), weight_decay=nonnegative(schedule=True), mask=MASK)
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
    the learning-rate step is the same math. The state records the α used, as
    :func:`jopt.scale_by_learning_rate`'s does.

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α`` evaluated at the updates
        already applied.
      weight_decay: λ >= 0, or a schedule.
      mask: as in :func:`jopt.add_decayed_weights`.

    Returns:
      An ``optax.GradientTransformationExtraArgs``; ``update`` needs ``params``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.decoupled_weight_decay(0.1, 0.5)
    >>> params = jnp.array([2.0, -4.0])
    >>> tx.update(jnp.zeros(2), tx.init(params), params)[0]  # −0.1·0.5·θ
    Array([-0.1,  0.2], dtype=float32)
    """
    scheduled = callable(weight_decay)

    def init_fn(params):
        return init_learning_rate(learning_rate, params, counted=scheduled)

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        wd = _decay_now(weight_decay, state, updates, params)
        lr, state = next_learning_rate(learning_rate, state)

        def decay(u, p):
            dt = compute_dtype(u)
            step = p.astype(dt) * cast(wd, dt) * cast(lr, dt)  # Keras: θ·λ·α
            return (u.astype(dt) - step).astype(u.dtype)

        return jax.tree.map(decay, updates, params), state

    tx = optax.GradientTransformationExtraArgs(init_fn, update_fn)
    return tx if mask is None else optax.masked(tx, mask)
