"""COCOB-Backprop (Orabona & Tommasi 2017): training without learning rates by coin
betting."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax.numpy as jnp
import optax

from jopt._algorithms.parameter_free._tree import copy_params
from jopt._algorithms.regularization.weight_decay import MASK, optional_decay
from jopt._core.chain import chain
from jopt._core.checks import checked, learning_rate, nonnegative, optional, positive
from jopt._core.dtypes import cast, compute_dtype, per_dtype
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.layout import PerParam
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.state import check_update_params, moments_like
from jopt.sharding._leafwise import map_leaves


class COCOBState(NamedTuple):
    """COCOB-Backprop's per-coordinate state (:func:`jopt.scale_by_cocob`),
    optax.contrib's fields.

    Args:
      init_particles: w₁, the parameters given to ``init``.
      cumulative_gradients: θ_t = −Σ g (the bet's direction).
      scale: L_t = max(ε, max |g|), the largest gradient seen.
      subgradients: G_t = Σ |g|.
      reward: Reward_t = max(Reward_{t−1} − g_t (w_t − w₁), 0).

    >>> import jax.numpy as jnp, jopt
    >>> jopt.scale_by_cocob(eps=0.5).init(jnp.zeros(2)).scale
    Array([0.5, 0.5], dtype=float32)
    """

    init_particles: PerParam
    cumulative_gradients: PerParam
    scale: PerParam
    subgradients: PerParam
    reward: PerParam


@checked(alpha=positive(), eps=nonnegative())
def scale_by_cocob(
    alpha: Scalar = 100.0, eps: Scalar = 1e-8
) -> optax.GradientTransformationExtraArgs:
    """COCOB-Backprop's step (Orabona & Tommasi 2017, Algorithm 2), per coordinate:

    L_t = max(L_{t−1}, |g_t|),  G_t = G_{t−1} + |g_t|,
    Reward_t = max(Reward_{t−1} − g_t (w_t − w₁), 0),  θ_t = θ_{t−1} − g_t,
    w_{t+1} = w₁ + θ_t / (L_t max(G_t + L_t, α L_t)) · (L_t + Reward_t),

    from L_0 = ε, G_0 = Reward_0 = θ_0 = 0: the authors' TensorFlow optimizer (its
    ``L`` slot starts at 1e-8, ``grad_norm_sum`` at 0; the paper's pseudocode also
    starts G at ε) and optax.contrib's ``scale_by_cocob``. The update is w_{t+1} − w_t.
    ``init`` must get the real parameters (w₁).

    Args:
      alpha: α > 0, bounds the fraction of the wealth bet (the paper's 100).
      eps: ε >= 0, the first L (keeps the first division finite).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.COCOBState`; ``update`` needs ``params``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_cocob(alpha=4.0, eps=0.0)
    >>> params = jnp.zeros(2)
    >>> tx.update(jnp.array([1.0, -2.0]), tx.init(params), params)[0]  # −g/(α|g|)
    Array([-0.25,  0.25], dtype=float32)
    """

    def init_fn(params):
        return COCOBState(
            init_particles=copy_params(params),
            cumulative_gradients=moments_like(params),
            scale=moments_like(params, fill=eps, real=True),
            subgradients=moments_like(params, real=True),
            reward=moments_like(params, real=True),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        check_update_params(updates, params, "(COCOB bets from w₁)", state.scale)

        @per_dtype
        def bet(dt):
            return cast(alpha, dt)

        def step(g, w, w1, theta, big_l, big_g, reward):
            dt = compute_dtype(g)
            gw, moved = g.astype(dt), w.astype(dt) - w1.astype(dt)
            big_l_new = jnp.maximum(big_l.astype(dt), jnp.abs(gw))
            big_g_new = big_g.astype(dt) + jnp.abs(gw)
            reward_new = jnp.maximum(reward.astype(dt) - gw * moved, 0.0)
            theta_new = theta.astype(dt) - gw
            denom = big_l_new * jnp.maximum(big_g_new + big_l_new, bet(dt) * big_l_new)
            target = theta_new / denom * (big_l_new + reward_new)  # w_{t+1} − w₁
            return (
                (target - moved).astype(g.dtype),
                theta_new.astype(theta.dtype),
                big_l_new.astype(big_l.dtype),
                big_g_new.astype(big_g.dtype),
                reward_new.astype(reward.dtype),
            )

        out, theta, big_l, big_g, reward = map_leaves(
            step,
            5,
            updates,
            params,
            state.init_particles,
            state.cumulative_gradients,
            state.scale,
            state.subgradients,
            state.reward,
        )
        return out, COCOBState(state.init_particles, theta, big_l, big_g, reward)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(
    learning_rate=learning_rate(),
    alpha=positive(),
    eps=nonnegative(),
    weight_decay=optional(nonnegative(schedule=True)),
    mask=MASK,
)
def cocob(
    learning_rate: ScalarOrSchedule = 1.0,
    alpha: Scalar = 100.0,
    eps: Scalar = 1e-8,
    weight_decay: ScalarOrSchedule | None = None,
    mask: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """COCOB-Backprop, "COntinuous COin Betting" (Orabona & Tommasi 2017, "Training Deep
    Networks without Learning Rates Through Coin Betting").

    g ← α_lr (g + λw), then :func:`jopt.scale_by_cocob`'s bet:
    w_{t+1} = w₁ + θ_t / (L_t max(G_t + L_t, α L_t)) · (L_t + Reward_t).

    ``chain(add_decayed_weights(λ, mask), scale_by_learning_rate(learning_rate,
    flip_sign=False), scale_by_cocob(alpha, eps))``: optax.contrib.cocob's arguments,
    defaults and order. The "learning rate" scales the gradients the bets see (the
    algorithm has none; 1, the default, is the paper's); a decay λ (optax's L2, off by
    default: ``None`` here, optax's 0.0) is added to them first.

    Args:
      learning_rate: a factor >= 0 on the gradients, or a schedule ``count -> factor``.
      alpha: α > 0.
      eps: ε >= 0, the first L.
      weight_decay: λ >= 0, or a schedule; ``None`` (the default) or 0: off.
      mask: the leaves that decay, as in :func:`jopt.adamw`.

    Returns:
      An ``optax.GradientTransformationExtraArgs``; ``update`` needs ``params``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.cocob(alpha=4.0, eps=0.0)
    >>> params = jnp.zeros(2)
    >>> tx.update(jnp.array([1.0, -2.0]), tx.init(params), params)[0]
    Array([-0.25,  0.25], dtype=float32)
    """
    decay = optional_decay(weight_decay, mask)
    return chain(
        *decay,
        scale_by_learning_rate(learning_rate, flip_sign=False),
        scale_by_cocob(alpha, eps),
    )
