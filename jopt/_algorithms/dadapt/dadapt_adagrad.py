"""D-Adaptation's AdaGrad (Defazio & Mishchenko 2023), as dadaptation 3.2's
``DAdaptAdaGrad`` (its dense path)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._algorithms.dadapt.common import at, grow, keep, moved, total, wide, wide_sum, widen
from jopt._core.dtypes import cast, compute_dtype, per_dtype
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.layout import PerParam
from jopt._core.learning_rate import LearningRateState, init_learning_rate, next_learning_rate
from jopt._core.state import (
    check_real_params,
    check_update_params,
    increment,
    moments_like,
    scalar,
    zero_count,
)
from jopt.sharding._leafwise import map_leaves

ALPHA0 = 1e-6  # dadaptation's initial AdaGrad sum (fixed, not eps)


class DAdaptAdaGradState(NamedTuple):
    """D-Adapt AdaGrad's state (:func:`jopt.compat.dadaptation.DAdaptAdaGrad`).

    Args:
      alpha: α, 1e-6 plus the sum of g².
      grad_sum: s, the sum of γd·g.
      params0: x0, the initial parameters.
      gsq_weighted: the sum of (γd)²·Σ g²/(sqrt(α) + ε).
      sksq_weighted: Σ s²/(sqrt(α) + ε), kept as dadaptation keeps it (a running sum
        of each step's change).
      skl1: ||s||₁, kept the same way.
      estim_lr: d, the estimate.
      count: int32, updates applied.
      steps: int32, steps taken (a skipped step does not count).
      rate: the learning-rate state.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.dadaptation as jd
    >>> float(jd.DAdaptAdaGrad().init(jnp.zeros(2)).alpha[0])
    1e-06
    """

    alpha: PerParam
    grad_sum: PerParam
    params0: PerParam
    gsq_weighted: jax.Array
    sksq_weighted: jax.Array
    skl1: jax.Array
    estim_lr: jax.Array
    count: jax.Array
    steps: jax.Array
    rate: LearningRateState


def dadapt_adagrad_step(
    learning_rate: ScalarOrSchedule,
    momentum: Scalar,
    weight_decay: Any,
    eps: Scalar,
    d0: Scalar,
    growth_rate: Scalar,
) -> optax.GradientTransformationExtraArgs:
    """D-Adapt AdaGrad's whole step from checked arguments (see
    :func:`jopt.compat.dadaptation.DAdaptAdaGrad`)."""

    def init_fn(params):
        check_real_params(params, "D-Adaptation's estimate needs real parameters.")
        return DAdaptAdaGradState(
            alpha=moments_like(params, fill=ALPHA0),
            grad_sum=moments_like(params),
            params0=jax.tree.map(jnp.copy, params),
            gsq_weighted=scalar(params, 0.0, wide()),
            sksq_weighted=scalar(params, 0.0, wide()),
            skl1=scalar(params, 0.0, wide()),
            estim_lr=scalar(params, d0, wide()),
            count=zero_count(params),
            steps=zero_count(params),
            rate=init_learning_rate(learning_rate, params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        check_update_params(updates, params, "(θ is set from x0 − s/sqrt(α))", state.alpha)
        lr_now, rate = next_learning_rate(learning_rate, state.rate)
        lr, decay = widen(lr_now), at(weight_decay, state.count, "the weight_decay schedule")
        d = state.estim_lr
        dlr = d * lr

        @per_dtype
        def scalars(dt):
            return cast(decay, dt), cast(dlr, dt), cast(eps, dt)

        def accumulate(g, p, a, s):
            dt = compute_dtype(g)
            c_decay, c_dlr, c_eps = scalars(dt)
            g = g.astype(dt) + c_decay * p.astype(dt)  # g ← g + λθ
            a_old, s_old = a.astype(dt), s.astype(dt)
            old_sq = wide_sum(s_old * s_old / (jnp.sqrt(a_old) + c_eps))
            old_l1 = wide_sum(jnp.abs(s_old))
            a_new = (a_old + g * g).astype(a.dtype)
            den = jnp.sqrt(a_new.astype(dt)) + c_eps
            g_sq = wide_sum(g * g / den)
            s_new = (s_old + c_dlr * g).astype(s.dtype)
            s_dt = s_new.astype(dt)
            sq_change = wide_sum(s_dt * s_dt / den) - old_sq
            l1_change = wide_sum(jnp.abs(s_dt)) - old_l1
            return g, a_new, s_new, g_sq, sq_change, l1_change

        _, a, s, g_sqs, sq_changes, l1_changes = map_leaves(
            accumulate, 6, updates, params, state.alpha, state.grad_sum
        )
        sksq = state.sksq_weighted + total(jax.tree.leaves(sq_changes))
        skl1 = state.skl1 + total(jax.tree.leaves(l1_changes))
        skip = skl1 == 0
        gsq = state.gsq_weighted + dlr * dlr * total(jax.tree.leaves(g_sqs))
        d_hat = (sksq - gsq) / jnp.where(skip, jnp.ones_like(skl1), skl1)
        d_new = jnp.where(lr > 0, grow(d, d_hat, growth_rate), d)
        old = (state.gsq_weighted, state.sksq_weighted, state.skl1, d)
        gsq, sksq, skl1, d_new = keep(skip, old, (gsq, sksq, skl1, d_new))
        ck = 1 - widen(momentum)

        @per_dtype
        def step_scalars(dt):
            return cast(1 - ck, dt), cast(ck, dt), cast(eps, dt)

        def step(g, p, x0, a_new, s_new):
            dt = compute_dtype(g)
            keep_p, ck_dt, c_eps = step_scalars(dt)
            z = x0.astype(dt) - s_new.astype(dt) / (jnp.sqrt(a_new.astype(dt)) + c_eps)
            return (moved(p, p.astype(dt) * keep_p + ck_dt * z, skip, g.dtype),)

        (out,) = map_leaves(step, 1, updates, params, state.params0, a, s)
        return out, DAdaptAdaGradState(
            a,
            s,
            state.params0,
            gsq,
            sksq,
            skl1,
            d_new,
            increment(state.count),
            jnp.where(skip, state.steps, increment(state.steps)),
            rate,
        )

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
