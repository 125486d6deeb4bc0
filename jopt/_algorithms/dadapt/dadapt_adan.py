"""D-Adaptation's Adan, as dadaptation 3.2's ``DAdaptAdan``."""

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


class DAdaptAdanState(NamedTuple):
    """D-Adapt Adan's state (:func:`jopt.compat.dadaptation.DAdaptAdan`).

    Args:
      exp_avg: m, the β1-EMA of γd·g.
      exp_avg_diff: n, the β2-EMA of γd·(g − g_prev).
      exp_avg_sq: v, the β3-EMA of (g + β2(g − g_prev))².
      grad_sum: s, the β3-EMA of γd·g.
      pre_grad: g_prev, the last step's gradient.
      gsq_weighted: the β3-EMA of (γd)²·Σ g²/(sqrt(v) + ε).
      estim_lr: d, the estimate.
      count: int32, updates applied.
      steps: int32, steps taken (a skipped step does not count).
      rate: the learning-rate state.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.dadaptation as jd
    >>> float(jd.DAdaptAdan().init(jnp.zeros(2)).estim_lr)
    1e-06
    """

    exp_avg: PerParam
    exp_avg_diff: PerParam
    exp_avg_sq: PerParam
    grad_sum: PerParam
    pre_grad: PerParam
    gsq_weighted: jax.Array
    estim_lr: jax.Array
    count: jax.Array
    steps: jax.Array
    rate: LearningRateState


def dadapt_adan_step(
    learning_rate: ScalarOrSchedule,
    betas: tuple[Scalar, Scalar, Scalar],
    eps: Scalar,
    weight_decay: Any,
    no_prox: bool,
    d0: Scalar,
    growth_rate: Scalar,
) -> optax.GradientTransformationExtraArgs:
    """D-Adapt Adan's whole step from checked arguments (see
    :func:`jopt.compat.dadaptation.DAdaptAdan`)."""

    def init_fn(params):
        check_real_params(params, "D-Adaptation's estimate needs real parameters.")
        return DAdaptAdanState(
            *(moments_like(params) for _ in range(5)),
            gsq_weighted=scalar(params, 0.0, wide()),
            estim_lr=scalar(params, d0, wide()),
            count=zero_count(params),
            steps=zero_count(params),
            rate=init_learning_rate(learning_rate, params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        check_update_params(updates, params, "(its decay reads θ)", state.exp_avg)
        lr_now, rate = next_learning_rate(learning_rate, state.rate)
        lr, decay = widen(lr_now), at(weight_decay, state.count, "the weight_decay schedule")
        b1, b2, b3 = (widen(b) for b in betas)
        d = state.estim_lr
        dlr = d * lr
        first = state.steps == 0  # g_prev = g: no difference at the first step

        @per_dtype
        def scalars(dt):
            values = (b1, dlr * (1 - b1), b2, dlr * (1 - b2), b3, 1 - b3, dlr * (1 - b3), eps)
            return tuple(cast(x, dt) for x in values)

        def accumulate(g, m, n, v, s, prev):
            dt = compute_dtype(g)
            c_b1, c_m, c_b2, c_n, c_b3, rest3, c_s, c_eps = scalars(dt)
            gw = g.astype(dt)
            diff = gw - jnp.where(first, gw, prev.astype(dt))
            update = gw + c_b2 * diff
            m_new = (m.astype(dt) * c_b1 + c_m * gw).astype(m.dtype)
            n_new = (n.astype(dt) * c_b2 + c_n * diff).astype(n.dtype)
            v_new = (v.astype(dt) * c_b3 + rest3 * (update * update)).astype(v.dtype)
            den = jnp.sqrt(v_new.astype(dt)) + c_eps
            s_new = (s.astype(dt) * c_b3 + c_s * gw).astype(s.dtype)
            s_dt = s_new.astype(dt)
            g_sq = wide_sum(gw * gw / den)
            return (
                g,
                m_new,
                n_new,
                v_new,
                s_new,
                g_sq,
                wide_sum(s_dt * s_dt / den),
                wide_sum(jnp.abs(s_dt)),
            )

        _, m, n, v, s, g_sqs, sk_sqs, norms = map_leaves(
            accumulate, 8, updates, state.exp_avg, state.exp_avg_diff, state.exp_avg_sq,
            state.grad_sum, state.pre_grad,
        )  # fmt: skip
        gsq = b3 * state.gsq_weighted + total(jax.tree.leaves(g_sqs)) * (dlr * dlr) * (1 - b3)
        norm = total(jax.tree.leaves(norms))
        skip = norm == 0
        d_hat = (total(jax.tree.leaves(sk_sqs)) / (1 - b3) - gsq) / jnp.where(
            skip, jnp.ones_like(norm), norm
        )
        d_new = jnp.where(lr > 0, grow(d, d_hat, growth_rate), d)
        gsq, d_new = keep(skip, (state.gsq_weighted, d), (gsq, d_new))

        @per_dtype
        def step_scalars(dt):
            return cast(b2, dt), cast(eps, dt), cast(1 - dlr * decay, dt), cast(1 + dlr * decay, dt)

        def step(g, p, m_new, n_new, v_new, prev):
            dt = compute_dtype(g)
            c_b2, c_eps, shrink, grow_by = step_scalars(dt)
            den = jnp.sqrt(v_new.astype(dt)) + c_eps
            u = (m_new.astype(dt) + c_b2 * n_new.astype(dt)) / den
            pw = p.astype(dt)
            if no_prox:  # θ(1 − γdλ) − u
                new = pw * shrink - u
            else:  # (θ − u)/(1 + γdλ), the proximal decay
                new = (pw - u) / grow_by
            return moved(p, new, skip, g.dtype), keep(skip, prev, g)  # g_prev ← g

        out, prev = map_leaves(step, 2, updates, params, m, n, v, state.pre_grad)
        return out, DAdaptAdanState(
            m,
            n,
            v,
            s,
            prev,
            gsq,
            d_new,
            increment(state.count),
            jnp.where(skip, state.steps, increment(state.steps)),
            rate,
        )

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
