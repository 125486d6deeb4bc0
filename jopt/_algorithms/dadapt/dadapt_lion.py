"""D-Adaptation's Lion, as dadaptation 3.2's ``DAdaptLion``."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._algorithms.dadapt.common import at, keep, moved, total, wide, wide_sum, widen
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


class DAdaptLionState(NamedTuple):
    """D-Adapt Lion's state (:func:`jopt.compat.dadaptation.DAdaptLion`).

    Args:
      exp_avg: m, the β2-EMA of γd·g.
      grad_sum: s, the sqrt(β2)-EMA of γd·sign(…), the steps taken.
      estim_lr: d, the estimate.
      numerator_weighted: r, the sqrt(β2)-EMA of γd·⟨sign(…), s⟩.
      count: int32, updates applied.
      steps: int32, steps counted (a step with ||s||₁ = 0 does not count).
      rate: the learning-rate state.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.dadaptation as jd
    >>> float(jd.DAdaptLion().init(jnp.zeros(2)).estim_lr)
    1e-06
    """

    exp_avg: PerParam
    grad_sum: PerParam
    estim_lr: jax.Array
    numerator_weighted: jax.Array
    count: jax.Array
    steps: jax.Array
    rate: LearningRateState


def dadapt_lion_step(
    learning_rate: ScalarOrSchedule,
    betas: tuple[Scalar, Scalar],
    weight_decay: Any,
    d0: Scalar,
) -> optax.GradientTransformationExtraArgs:
    """D-Adapt Lion's whole step from checked arguments (see
    :func:`jopt.compat.dadaptation.DAdaptLion`)."""

    def init_fn(params):
        check_real_params(params, "D-Adaptation's estimate needs real parameters.")
        return DAdaptLionState(
            exp_avg=moments_like(params),
            grad_sum=moments_like(params),
            estim_lr=scalar(params, d0, wide()),
            numerator_weighted=scalar(params, 0.0, wide()),
            count=zero_count(params),
            steps=zero_count(params),
            rate=init_learning_rate(learning_rate, params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        check_update_params(updates, params, "(its decay reads θ)", state.exp_avg)
        lr_now, rate = next_learning_rate(learning_rate, state.rate)
        lr, decay = widen(lr_now), at(weight_decay, state.count, "the weight_decay schedule")
        b1, b2 = widen(betas[0]), widen(betas[1])
        sb2 = jnp.sqrt(b2)
        d = state.estim_lr
        dlr = d * lr

        @per_dtype
        def scalars(dt):
            values = (1 - dlr * decay, dlr, b1, 1 - b1, b2, (1 - b2) * dlr, sb2, (1 - sb2) * dlr)
            return tuple(cast(x, dt) for x in values)

        def step(g, p, m, s):
            dt = compute_dtype(g)
            shrink, c_dlr, c_b1, rest1, c_b2, c_m, c_sb2, c_s = scalars(dt)
            gw, m_old, s_old = g.astype(dt), m.astype(dt), s.astype(dt)
            direction = jnp.sign(m_old * c_b1 + rest1 * gw)
            new = p.astype(dt) * shrink - c_dlr * direction  # θ(1 − γdλ) − γd·sign(…)
            m_new = (m_old * c_b2 + c_m * gw).astype(m.dtype)
            dot = wide_sum(direction * s_old)
            s_new = (s_old * c_sb2 + c_s * direction).astype(s.dtype)
            l1 = wide_sum(jnp.abs(s_new.astype(dt)))
            return moved(p, new, jnp.zeros((), bool), g.dtype), m_new, s_new, dot, l1

        out, m, s, dots, norms = map_leaves(step, 5, updates, params, state.exp_avg, state.grad_sum)
        numerator = sb2 * state.numerator_weighted + (1 - sb2) * dlr * total(jax.tree.leaves(dots))
        norm = total(jax.tree.leaves(norms))
        skip = norm == 0  # θ has moved all the same (dadaptation steps before it checks)
        d_hat = numerator / ((1 - sb2) * jnp.where(skip, jnp.ones_like(norm), norm))
        d_new = jnp.where(lr > 0, jnp.maximum(d, d_hat), d)
        d_new, numerator = keep(skip, (d, state.numerator_weighted), (d_new, numerator))
        return out, DAdaptLionState(
            m,
            s,
            d_new,
            numerator,
            increment(state.count),
            jnp.where(skip, state.steps, increment(state.steps)),
            rate,
        )

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
