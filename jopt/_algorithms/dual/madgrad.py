"""MADGRAD (Defazio & Jelassi 2021): momentumized, adaptive dual averaging."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._algorithms.regularization.weight_decay import add_decayed_weights
from jopt._core.chain import chain
from jopt._core.checks import checked, closed_unit_interval, learning_rate, nonnegative
from jopt._core.dtypes import cast, compute_dtype, per_dtype, real_dtype, state_dtype
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.layout import PerParam
from jopt._core.learning_rate import LearningRateState, init_learning_rate, next_learning_rate
from jopt._core.state import (
    check_update_params,
    increment,
    moments_like,
    zero_count,
)
from jopt.sharding._leafwise import map_leaves


class MadgradState(NamedTuple):
    """MADGRAD's state (:func:`jopt.scale_by_madgrad`), optax's layout.

    Args:
      count: int32, steps taken (k).
      grad_sum_sq: ν_k = Σ λ_i g_i², the weighted sum of squared gradients.
      s: s_k = Σ λ_i g_i, the weighted sum of gradients.
      x0: the initial parameters, the dual averaging's origin.
      rate: the learning-rate state (:class:`jopt.ScaleByScheduleState` for a schedule,
        else :class:`jopt.ScaleByLearningRateState`), which :func:`jopt.get_learning_rate`
        reads (a field optax's ``MadgradState`` does not have).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_madgrad(0.5, eps=0.0)
    >>> params = jnp.array([1.0])
    >>> _, state = tx.update(jnp.array([2.0]), tx.init(params), params)
    >>> state.s, state.grad_sum_sq, state.x0  # λ_0 = α·sqrt(1) = 0.5
    (Array([1.], dtype=float32), Array([2.], dtype=float32), Array([1.], dtype=float32))
    """

    count: jax.Array
    grad_sum_sq: PerParam
    s: PerParam
    x0: PerParam
    rate: LearningRateState


@checked(learning_rate=learning_rate(), momentum=closed_unit_interval(), eps=nonnegative())
def scale_by_madgrad(
    learning_rate: ScalarOrSchedule = 1e-2,
    momentum: Scalar = 0.9,
    eps: Scalar = 1e-6,
) -> optax.GradientTransformationExtraArgs:
    """MADGRAD's step, the learning rate inside it (see :func:`jopt.madgrad`).

    α' = α + ε (0 when α = 0),  λ_k = α' sqrt(k + 1),
    ν_{k+1} = ν_k + λ_k g_k²,  s_{k+1} = s_k + λ_k g_k,
    z_{k+1} = x_0 − s_{k+1} / (ν_{k+1}^(1/3) + ε),
    x_{k+1} = β x_k + (1 − β) z_{k+1}; the update is x_{k+1} − x_k.

    Dual averaging steps from the initial point x_0, kept in the state (``init``'s
    params), so ``update`` needs the current ``params`` (optax's convention) and the
    learning rate cannot be a separate step: like optax's ``scale_by_madgrad``, this
    transform takes it, and its update is the whole step (do not chain a learning rate).

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.
      momentum: β in [0, 1].
      eps: ε >= 0 (added to the cube root and to α, as the authors' code does).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.MadgradState`; ``update`` needs ``params``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_madgrad(1.0, momentum=0.0, eps=0.0)
    >>> params = jnp.array([0.0, 0.0])
    >>> tx.update(jnp.array([8.0, -1.0]), tx.init(params), params)[0]  # −g/|g|^(2/3)
    Array([-2.,  1.], dtype=float32)
    """

    def init_fn(params):
        x0 = jax.tree.map(lambda p: jnp.array(p, dtype=state_dtype(p), copy=True), params)
        rate = init_learning_rate(learning_rate, params)
        return MadgradState(
            zero_count(params), moments_like(params), moments_like(params), x0, rate
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        check_update_params(updates, params, "(dual averaging reads them)", state.s)
        lr, rate = next_learning_rate(learning_rate, state.rate)

        @per_dtype  # scalars once per dtype, not per leaf
        def scalars(dt):
            rdt = real_dtype(dt)
            a, e = cast(lr, rdt), cast(eps, rdt)
            a = jnp.where(a != 0.0, a + e, 0.0)
            lam = a * jnp.sqrt(state.count.astype(rdt) + 1.0)
            return lam.astype(dt), cast(momentum, dt), e.astype(dt)

        def step(g, p, nu, s, x0):
            dt = compute_dtype(g)
            lam, beta, e = scalars(dt)
            gw, pw = g.astype(dt), p.astype(dt)
            nu_new = nu.astype(dt) + lam * gw * gw
            s_new = s.astype(dt) + lam * gw
            rms = jnp.cbrt(nu_new) + e
            z = x0.astype(dt) - s_new / rms
            step = (1.0 - beta) * (z - pw)  # x_{k+1} − x_k, the reference's lerp
            return step.astype(g.dtype), nu_new.astype(nu.dtype), s_new.astype(s.dtype)

        out, nu, s = map_leaves(
            lambda g, p, nu, s, x0: step(g, p, nu, s, x0),
            3,
            updates,
            params,
            state.grad_sum_sq,
            state.s,
            state.x0,
        )
        return out, MadgradState(increment(state.count), nu, s, state.x0, rate)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(
    learning_rate=learning_rate(),
    momentum=closed_unit_interval(),
    weight_decay=nonnegative(schedule=True),
    eps=nonnegative(),
)
def madgrad(
    learning_rate: ScalarOrSchedule = 1e-2,
    momentum: Scalar = 0.9,
    weight_decay: ScalarOrSchedule = 0.0,
    eps: Scalar = 1e-6,
) -> optax.GradientTransformationExtraArgs:
    """MADGRAD (Defazio & Jelassi 2021, "Adaptivity without Compromise: A Momentumized,
    Adaptive, Dual Averaged Gradient Method for Stochastic Optimization").

    ``chain(add_decayed_weights(λ), scale_by_madgrad(learning_rate, momentum, eps))``:
    the L2 decay g ← g + λθ enters the gradient sums, as in the authors' code and
    pytorch_optimizer's ``MADGRAD`` default. Defaults are the authors' (``madgrad``
    package: α = 1e-2, β = 0.9, ε = 1e-6); optax's arguments and formula, so it is
    ``optax.contrib.madgrad`` step for step (which needs α given).

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.
      momentum: β in [0, 1].
      weight_decay: λ >= 0, or a schedule.
      eps: ε >= 0.

    Returns:
      An ``optax.GradientTransformationExtraArgs``; ``update`` needs ``params``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.madgrad(1.0, momentum=0.0, eps=0.0)
    >>> params = jnp.zeros(2)
    >>> tx.update(jnp.array([8.0, -1.0]), tx.init(params), params)[0]
    Array([-2.,  1.], dtype=float32)
    """
    return chain(add_decayed_weights(weight_decay), scale_by_madgrad(learning_rate, momentum, eps))
