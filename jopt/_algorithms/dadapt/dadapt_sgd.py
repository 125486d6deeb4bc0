"""D-Adaptation's SGD (Defazio & Mishchenko 2023), as dadaptation 3.2's ``DAdaptSGD``."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._algorithms.dadapt.common import (
    at,
    grow,
    keep,
    moved,
    safe_divide,
    total,
    wide,
    wide_sum,
    widen,
)
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


class DAdaptSGDState(NamedTuple):
    """D-Adapt SGD's state (:func:`jopt.compat.dadaptation.DAdaptSGD`).

    Args:
      grad_sum: s, the sum of γd/||g0||·g.
      params0: x0, the initial parameters.
      g0_norm: ||g0||, the first gradient's norm (over the whole tree).
      estim_lr: d, the estimate.
      numerator_weighted: r, the sum of γd/||g0||·⟨g, s⟩.
      count: int32, updates applied.
      steps: int32, steps taken (a skipped step does not count).
      rate: the learning-rate state.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.dadaptation as jd
    >>> float(jd.DAdaptSGD().init(jnp.zeros(2)).estim_lr)
    1e-06
    """

    grad_sum: PerParam
    params0: PerParam
    g0_norm: jax.Array
    estim_lr: jax.Array
    numerator_weighted: jax.Array
    count: jax.Array
    steps: jax.Array
    rate: LearningRateState


def dadapt_sgd_step(
    learning_rate: ScalarOrSchedule,
    momentum: Scalar,
    weight_decay: Any,
    d0: Scalar,
    growth_rate: Scalar,
) -> optax.GradientTransformationExtraArgs:
    """D-Adapt SGD's whole step from checked arguments (see
    :func:`jopt.compat.dadaptation.DAdaptSGD`)."""

    def init_fn(params):
        check_real_params(params, "D-Adaptation's estimate needs real parameters.")
        return DAdaptSGDState(
            grad_sum=moments_like(params),
            params0=jax.tree.map(jnp.copy, params),
            g0_norm=scalar(params, 0.0, wide()),
            estim_lr=scalar(params, d0, wide()),
            numerator_weighted=scalar(params, 0.0, wide()),
            count=zero_count(params),
            steps=zero_count(params),
            rate=init_learning_rate(learning_rate, params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        check_update_params(updates, params, "(θ is set from x0 − s)", state.grad_sum)
        lr_now, rate = next_learning_rate(learning_rate, state.rate)
        lr, decay = widen(lr_now), at(weight_decay, state.count, "the weight_decay schedule")
        active = lr > 0
        first = state.steps == 0
        # ||g0||: the gradient without the decay (dadaptation's grad.add is not in place)
        g_sq = total([wide_sum(jnp.square(g.astype(compute_dtype(g)))) for g in
                      jax.tree.leaves(updates)])  # fmt: skip
        g0 = jnp.where(first, jnp.where(active, jnp.sqrt(g_sq), 0.0), state.g0_norm)
        d = state.estim_lr
        dlr = safe_divide(d * lr, g0)

        @per_dtype
        def scalars(dt):
            return cast(decay, dt), cast(dlr, dt)

        def accumulate(g, p, s):
            dt = compute_dtype(g)
            c_decay, c_dlr = scalars(dt)
            g = g.astype(dt) + c_decay * p.astype(dt)  # g ← g + λθ
            dot = wide_sum(g * s.astype(dt))
            s_new = keep(~active, s, s.astype(dt) + c_dlr * g)
            return g, s_new, dot, wide_sum(jnp.square(s_new.astype(dt)))

        _, s, dots, squares = map_leaves(accumulate, 4, updates, params, state.grad_sum)
        numerator = state.numerator_weighted + dlr * total(jax.tree.leaves(dots))
        sk_sq = total(jax.tree.leaves(squares))
        skip = (sk_sq == 0) | (g0 == 0) | ~active
        d_new = grow(d, safe_divide(2 * numerator, jnp.sqrt(sk_sq)), growth_rate)
        d_new, numerator = keep(skip, (d, state.numerator_weighted), (d_new, numerator))
        ck = 1 - widen(momentum)

        @per_dtype
        def step_scalars(dt):
            return cast(1 - ck, dt), cast(ck, dt)

        def step(g, p, x0, s_new):
            dt = compute_dtype(g)
            keep_p, ck_dt = step_scalars(dt)
            z = x0.astype(dt) - s_new.astype(dt)
            return (moved(p, p.astype(dt) * keep_p + ck_dt * z, skip, g.dtype),)

        (out,) = map_leaves(step, 1, updates, params, state.params0, s)
        return out, DAdaptSGDState(
            s,
            state.params0,
            jnp.where(skip, state.g0_norm, g0),
            d_new,
            numerator,
            increment(state.count),
            jnp.where(skip, state.steps, increment(state.steps)),
            rate,
        )

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
