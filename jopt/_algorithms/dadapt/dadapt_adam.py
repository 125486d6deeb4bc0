"""D-Adaptation's Adam (Defazio & Mishchenko 2023): Adam whose step size d is estimated."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._algorithms.dadapt.common import (
    GROWTH_RATE,
    grow,
    keep,
    total,
    wide,
    wide_sum,
    widen,
)
from jopt._core.checks import (
    checked,
    flag,
    learning_rate,
    nonnegative,
    optional,
    pair,
    positive,
    unit_interval,
)
from jopt._core.dtypes import cast, compute_dtype, per_dtype
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.layout import PerParam
from jopt._core.learning_rate import LearningRateState, init_learning_rate, next_learning_rate
from jopt._core.state import (
    check_real_params,
    check_update_params,
    evaluate,
    increment,
    moments_like,
    requested,
    scalar,
    zero_count,
)
from jopt.sharding._leafwise import map_leaves


class DAdaptAdamWState(NamedTuple):
    """D-Adapt Adam's state (:func:`jopt.dadapt_adamw`), optax's fields first.

    Args:
      exp_avg: m, the EMA of γd·bc·g (the rate is inside it).
      exp_avg_sq: v, the EMA of g².
      grad_sum: s, the sqrt(β2)-EMA of γd·bc·g.
      estim_lr: d, the step-size estimate (a scalar in the widest float).
      numerator_weighted: r, the sqrt(β2)-EMA of γd·bc·⟨g, s/(sqrt(v) + ε)⟩.
      count: int32, updates applied.
      steps: int32, steps taken (a step with ||s||₁ = 0 is skipped and not counted).
      rate: the learning-rate state (:func:`jopt.get_learning_rate` reads it).

    >>> import jax.numpy as jnp, jopt
    >>> state = jopt.dadapt_adamw().init(jnp.zeros(2))
    >>> float(state.estim_lr), int(state.count)
    (1e-06, 0)
    """

    exp_avg: PerParam
    exp_avg_sq: PerParam
    grad_sum: PerParam
    estim_lr: jax.Array
    numerator_weighted: jax.Array
    count: jax.Array
    steps: jax.Array
    rate: LearningRateState


RULES = dict(
    learning_rate=learning_rate(),
    betas=pair(unit_interval(), unit_interval(), what="a pair (beta1, beta2)"),
    eps=nonnegative(),
    estim_lr0=positive(),
    weight_decay=optional(nonnegative(schedule=True)),
    bias_correction=flag(),
    growth_rate=GROWTH_RATE,
    decouple=flag(),
)


def dadapt_adam_step(
    learning_rate: ScalarOrSchedule,
    betas: tuple[Scalar, Scalar],
    eps: Scalar,
    estim_lr0: Scalar,
    weight_decay: Any,
    *,
    bias_correction: bool,
    growth_rate: Scalar,
    decouple: bool,
) -> optax.GradientTransformationExtraArgs:
    """D-Adapt Adam's whole step (the rate inside: m accumulates γd·bc·g), from checked
    arguments: :func:`jopt.dadapt_adamw` and :func:`jopt.compat.dadaptation.DAdaptAdam`."""
    b1_, b2_ = betas

    def init_fn(params):
        check_real_params(params, "D-Adaptation's estimate needs real parameters.")
        return DAdaptAdamWState(
            exp_avg=moments_like(params),
            exp_avg_sq=moments_like(params),
            grad_sum=moments_like(params),
            estim_lr=scalar(params, estim_lr0, wide()),
            numerator_weighted=scalar(params, 0.0, wide()),
            count=zero_count(params),
            steps=zero_count(params),
            rate=init_learning_rate(learning_rate, params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        check_update_params(updates, params, "(its decay reads θ)", state.exp_avg)
        lr_now, rate = next_learning_rate(learning_rate, state.rate)
        lr = widen(lr_now)
        decay = (
            widen(evaluate(weight_decay, state.count, "the weight_decay schedule"))
            if requested(weight_decay)
            else None
        )
        b1, b2 = widen(b1_), widen(b2_)
        sb2 = jnp.sqrt(b2)
        d = state.estim_lr
        k1 = (state.steps + 1).astype(wide())
        bc = jnp.sqrt(1 - b2**k1) / (1 - b1**k1) if bias_correction else jnp.ones((), wide())
        dlr = d * lr * bc
        active = lr > 0  # dadaptation leaves every state alone at γ = 0

        @per_dtype
        def scalars(dt):
            values = (b1, b2, sb2, dlr * (1 - b1), 1 - b2, dlr * (1 - sb2), widen(eps))
            return (*(cast(x, dt) for x in values), cast(0.0 if decay is None else decay, dt))

        def accumulate(g, p, m, v, s):
            dt = compute_dtype(g)
            c_b1, c_b2, c_sb2, c_m, c_v, c_s, c_eps, c_decay = scalars(dt)
            g = g.astype(dt)
            if decay is not None and not decouple:  # L2: g ← g + λθ
                g = g + c_decay * p.astype(dt)
            s_old = s.astype(dt)  # s/(sqrt(v) + ε), 0 where s is (also at ε = 0)
            weighted = jnp.where(s_old == 0, 0.0, s_old / (jnp.sqrt(v.astype(dt)) + c_eps))
            dot = wide_sum(g * weighted)
            m_new = keep(~active, m, m.astype(dt) * c_b1 + c_m * g)
            v_new = keep(~active, v, v.astype(dt) * c_b2 + c_v * (g * g))
            s_new = keep(~active, s, s.astype(dt) * c_sb2 + c_s * g)
            norm1 = wide_sum(jnp.abs(s_new.astype(dt)))
            return g, m_new, v_new, s_new, dot, norm1

        _, m, v, s, dots, norms = map_leaves(
            accumulate, 6, updates, params, state.exp_avg, state.exp_avg_sq, state.grad_sum
        )
        numerator = sb2 * state.numerator_weighted + (1 - sb2) * dlr * total(jax.tree.leaves(dots))
        norm = total(jax.tree.leaves(norms))
        skip = (norm == 0) | ~active
        d_new = grow(d, numerator / ((1 - sb2) * norm), growth_rate)
        d_new, numerator = keep(skip, (d, state.numerator_weighted), (d_new, numerator))

        @per_dtype
        def step_scalars(dt):
            return cast(widen(eps), dt), cast(dlr * (0.0 if decay is None else decay), dt)

        def step(g, p, m_new, v_new):
            dt = compute_dtype(g)
            c_eps, c_decay = step_scalars(dt)
            out = -(m_new.astype(dt) / (jnp.sqrt(v_new.astype(dt)) + c_eps))
            if decay is not None and decouple:  # θ ← θ − γd·bc·λθ
                out = out - c_decay * p.astype(dt)
            return (jnp.where(skip, jnp.zeros_like(out), out).astype(g.dtype),)

        (out,) = map_leaves(step, 1, updates, params, m, v)
        return out, DAdaptAdamWState(
            m,
            v,
            s,
            d_new,
            numerator,
            increment(state.count),
            jnp.where(skip, state.steps, increment(state.steps)),
            rate,
        )

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(**RULES)
def dadapt_adamw(
    learning_rate: ScalarOrSchedule = 1.0,
    betas: tuple[Scalar, Scalar] = (0.9, 0.999),
    eps: Scalar = 1e-8,
    estim_lr0: Scalar = 1e-6,
    weight_decay: ScalarOrSchedule | None = 0.0,
    *,
    bias_correction: bool = False,
    growth_rate: Scalar = math.inf,
    decouple: bool = True,
) -> optax.GradientTransformationExtraArgs:
    """D-Adaptation's AdamW (Defazio & Mishchenko 2023, "Learning-Rate-Free Learning by
    D-Adaptation"): Adam whose step size d estimates the distance to the solution.

    With γ_k the learning rate, dlr = γ_k d_k bc (bc = sqrt(1 − β2^{k+1})/(1 − β1^{k+1})
    with ``bias_correction``, else 1), over the whole tree:

        r_{k+1} = sqrt(β2) r_k + (1 − sqrt(β2)) dlr ⟨g, s_k / (sqrt(v_k) + ε)⟩,
        m_{k+1} = β1 m_k + (1 − β1) dlr g,   v_{k+1} = β2 v_k + (1 − β2) g²,
        s_{k+1} = sqrt(β2) s_k + (1 − sqrt(β2)) dlr g,
        d_{k+1} = max(d_k, min(r_{k+1} / ((1 − sqrt(β2)) ||s_{k+1}||₁), growth_rate·d_k)),
        Δθ = −m_{k+1} / (sqrt(v_{k+1}) + ε) − dlr λθ.

    The step of dadaptation 3.2's ``DAdaptAdam`` (in lockstep in
    tests/compat/dadaptation), whose defaults these are (no bias correction, d0 = 1e-6),
    with optax's names; the decay is decoupled (AdamW's; ``decouple=False``: L2, g ← g +
    λθ). A step with ||s||₁ = 0 (no gradient yet) or γ_k = 0 is skipped as dadaptation
    skips it. optax.contrib.dadapt_adamw always corrects the bias: ``bias_correction=True``
    reproduces it. The rate is inside m, so it is not a chain with a learning-rate step;
    the state records it (``rate``).

    Args:
      learning_rate: γ >= 0 or a schedule ``count -> γ`` (1: the method's own step).
      betas: (β1, β2), each in [0, 1).
      eps: ε >= 0.
      estim_lr0: d0 > 0, the initial estimate.
      weight_decay: λ >= 0 or a schedule; 0 or None: off.
      bias_correction: Adam's bias correction in dlr (optax's form).
      growth_rate: the largest factor d grows by in one step (inf: no limit).
      decouple: decoupled decay (else L2 on the gradient).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.DAdaptAdamWState`; its ``update`` needs ``params``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.dadapt_adamw()
    >>> params = jnp.array([1.0, 2.0])
    >>> updates, state = tx.update(jnp.array([1.0, -1.0]), tx.init(params), params)
    >>> updates  # −(1 − β1)·d0·g / (sqrt((1 − β2)g²) + ε)
    Array([-3.1622976e-06,  3.1622976e-06], dtype=float32)
    """
    return dadapt_adam_step(
        learning_rate,
        betas,
        eps,
        estim_lr0,
        weight_decay,
        bias_correction=bias_correction,
        growth_rate=growth_rate,
        decouple=decouple,
    )
