"""Prodigy (Mishchenko & Defazio 2024): Adam whose step size d is estimated on the fly."""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._algorithms.dadapt.common import GROWTH_RATE, keep, total, wide, wide_sum, widen
from jopt._core.chain import chain
from jopt._core.checks import (
    Integer,
    checked,
    flag,
    learning_rate,
    nonnegative,
    optional,
    pair,
    positive,
    unit_interval,
)
from jopt._core.dtypes import cast, compute_dtype, per_dtype, state_dtype
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.layout import PerParam
from jopt._core.learning_rate import scale_by_learning_rate
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


class ProdigyState(NamedTuple):
    """Prodigy's state (:func:`jopt.scale_by_prodigy`), optax's fields first.

    Args:
      exp_avg: m, the EMA of d·g.
      exp_avg_sq: v, the EMA of d²g².
      grad_sum: s, the β3-weighted sum of (d/d0)·γd·g (of every ``slice_p``-th entry).
      params0: θ0, the initial parameters (every ``slice_p``-th entry).
      estim_lr: d, the step-size estimate (a scalar in the widest float).
      numerator_weighted: r, the β3-weighted sum of (d/d0)·γd·⟨g, θ0 − θ⟩.
      count: int32, updates applied (a schedule's argument).
      estim_lr_max: the largest estimate d̂ seen (prodigyopt's ``d_max``).
      steps: int32, steps taken: a step without gradient (Σ|s| = 0) or at γ = 0 is
        skipped as prodigyopt skips it, and does not count (the bias correction's k).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_prodigy()
    >>> state = tx.init(jnp.zeros(2))
    >>> float(state.estim_lr)  # d0
    1e-06
    """

    exp_avg: PerParam
    exp_avg_sq: PerParam
    grad_sum: PerParam
    params0: PerParam
    estim_lr: jax.Array
    numerator_weighted: jax.Array
    count: jax.Array
    estim_lr_max: jax.Array
    steps: jax.Array


class _Scalars(NamedTuple):
    """One step's scalars in a leaf's compute dtype."""

    b1: jax.Array
    b2: jax.Array
    b3: jax.Array
    c_m: jax.Array  # d(1 − β1)
    c_v: jax.Array  # d²(1 − β2)
    c_s: jax.Array  # (d/d0)·γd·bc, or (d/d0)·d with the safeguard
    decay: jax.Array  # λ


BETAS = pair(unit_interval(), unit_interval(), what="a pair (beta1, beta2)")
RULES = dict(
    learning_rate=learning_rate(),
    betas=BETAS,
    beta3=optional(unit_interval()),
    eps=nonnegative(),
    estim_lr0=positive(),
    estim_lr_coef=positive(),
    weight_decay=optional(nonnegative(schedule=True)),
    safeguard_warmup=flag(),
    bias_correction=flag(),
    growth_rate=GROWTH_RATE,
    decouple=flag(),
    slice_p=Integer(1, why="it fixes the shape of the state"),
)


def _slice(x: jax.Array, slice_p: int) -> jax.Array:
    """Every ``slice_p``-th entry of ``x`` flattened (``x`` itself for ``slice_p=1``)."""
    return x if slice_p == 1 else jnp.ravel(x)[::slice_p]


@checked(**RULES)
def scale_by_prodigy(
    learning_rate: ScalarOrSchedule = 1.0,
    betas: tuple[Scalar, Scalar] = (0.9, 0.999),
    beta3: Scalar | None = None,
    eps: Scalar = 1e-8,
    estim_lr0: Scalar = 1e-6,
    estim_lr_coef: Scalar = 1.0,
    weight_decay: ScalarOrSchedule | None = None,
    safeguard_warmup: bool = False,
    *,
    bias_correction: bool = False,
    growth_rate: Scalar = math.inf,
    decouple: bool = True,
    slice_p: int = 1,
) -> optax.GradientTransformationExtraArgs:
    """Prodigy's direction d·bc·(m_{k+1} / (sqrt(v_{k+1}) + d_{k+1}ε) + λθ), d estimated.

    With γ_k the learning rate (read here for the estimate only; :func:`jopt.prodigy`
    scales by it after), bc = sqrt(1 − β2^{k+1})/(1 − β1^{k+1}) with
    ``bias_correction`` (else 1), β3 = sqrt(β2) by default and g ← g + λθ first if
    ``decouple=False``, over the whole tree:

        m_{k+1} = β1 m_k + (1 − β1) d_k g,   v_{k+1} = β2 v_k + (1 − β2) d_k² g²,
        r_{k+1} = β3 r_k + (d_k/d0) γ_k d_k bc ⟨g, θ0 − θ⟩,
        s_{k+1} = β3 s_k + (d_k/d0) γ_k d_k bc g      (safeguard_warmup: (d_k/d0) d_k g),
        d̂ = c·r_{k+1} / ||s_{k+1}||₁,  d_max ← max(d_max, d̂),
        d_{k+1} = min(d_max, growth_rate·max(d_k, d̂) if d_k = d0 else growth_rate·d_k).

    This is prodigyopt 1.1.2's ``Prodigy.step`` (d is global: one estimate over all the
    leaves; r and d live in the widest float, as prodigyopt's Python floats); the
    paper's (1 − β3) factors and the 1/d0 scaling cancel in d̂. With β1 = 0 the step is
    d_{k+1}·g in place of m. A step with ||s||₁ = 0 (no gradient yet) or γ_k = 0 is
    skipped: θ, d, r and k stay (prodigyopt returns early; optax's divides 0 by 0).
    ``bias_correction=True`` is optax.contrib.prodigy's form (it always corrects).

    Args:
      learning_rate: γ >= 0 (1 by default: Prodigy sets the scale), or a schedule
        ``count -> γ``. Pass the same to the ``scale_by_learning_rate`` after it.
      betas: (β1, β2), each in [0, 1).
      beta3: β3 in [0, 1), the weight of the estimate's sums; None: sqrt(β2).
      eps: ε >= 0, added to sqrt(v) scaled by d.
      estim_lr0: d0 > 0, the initial estimate.
      estim_lr_coef: c > 0, scales every estimate d̂ (prodigyopt's ``d_coef``).
      weight_decay: λ >= 0 or a schedule; None (the default): off.
      safeguard_warmup: leave γ out of s (against a warmup's small γ).
      bias_correction: Adam's bias correction (optax's form; off in prodigyopt).
      growth_rate: d grows at most by this factor a step (inf: unlimited).
      decouple: decoupled (AdamW) decay; False adds λθ to g (L2).
      slice_p: keep s and θ0 for every ``slice_p``-th entry only (an approximation that
        saves memory; 1: exact).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.ProdigyState`; its ``update`` needs ``params``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_prodigy()
    >>> params = jnp.array([1.0, 2.0])
    >>> state = tx.init(params)
    >>> u, state = tx.update(jnp.array([1.0, -1.0]), state, params)
    >>> float(state.estim_lr)  # r = 0 at θ = θ0: d stays d0
    1e-06
    """
    b1_, b2_ = betas

    def init_fn(params):
        check_real_params(params, "Prodigy's estimate needs real parameters.")
        wdt = wide()
        return ProdigyState(
            exp_avg=moments_like(params),
            exp_avg_sq=moments_like(params),
            grad_sum=moments_like(params)
            if slice_p == 1
            else jax.tree.map(lambda p: jnp.zeros_like(_slice(p, slice_p), state_dtype(p)), params),
            params0=jax.tree.map(lambda p: jnp.copy(_slice(p, slice_p)), params),
            estim_lr=scalar(params, estim_lr0, wdt),
            numerator_weighted=scalar(params, 0.0, wdt),
            count=zero_count(params),
            estim_lr_max=scalar(params, estim_lr0, wdt),
            steps=zero_count(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        check_update_params(updates, params, "(d's estimate reads θ0 − θ)", state.exp_avg)
        lr = widen(evaluate(learning_rate, state.count, "the learning-rate schedule"))
        decay = (
            widen(evaluate(weight_decay, state.count, "the weight_decay schedule"))
            if requested(weight_decay)
            else None
        )
        b1, b2 = widen(b1_), widen(b2_)
        b3 = jnp.sqrt(b2) if beta3 is None else widen(beta3)
        d, d0, d_max = state.estim_lr, widen(estim_lr0), state.estim_lr_max
        k1 = (state.steps + 1).astype(wide())
        bc = jnp.sqrt(1 - b2**k1) / (1 - b1**k1) if bias_correction else jnp.ones((), wide())
        dlr = d * lr * bc
        active = lr > 0  # prodigyopt leaves every state alone at γ = 0
        c_s = (d / d0) * d if safeguard_warmup else (d / d0) * dlr

        @per_dtype
        def scalars(dt):
            return _Scalars(
                *(cast(x, dt) for x in (b1, b2, b3, d * (1 - b1), d * d * (1 - b2), c_s)),
                decay=cast(0.0 if decay is None else decay, dt),
            )

        def accumulate(g, p, p0, m, v, s):
            dt = compute_dtype(g)
            c = scalars(dt)
            g, p = g.astype(dt), p.astype(dt)
            if decay is not None and not decouple:  # L2: g ← g + λθ
                g = g + c.decay * p
            gs = _slice(g, slice_p)
            dot = wide_sum(gs * (p0.astype(dt) - _slice(p, slice_p)))
            m_new = keep(~active, m, m.astype(dt) * c.b1 + c.c_m * g)
            v_new = keep(~active, v, v.astype(dt) * c.b2 + c.c_v * (g * g))
            s_new = keep(~active, s, s.astype(dt) * c.b3 + c.c_s * gs)
            norm1 = wide_sum(jnp.abs(s_new.astype(dt)))
            return g, m_new, v_new, s_new, dot, norm1

        g_used, m, v, s, dots, norms = map_leaves(
            accumulate, 6, updates, params, state.params0, state.exp_avg, state.exp_avg_sq,
            state.grad_sum,
        )  # fmt: skip
        numerator = b3 * state.numerator_weighted + (d / d0) * dlr * total(jax.tree.leaves(dots))
        denominator = total(jax.tree.leaves(norms))
        skip = (denominator == 0) | ~active
        d_hat = widen(estim_lr_coef) * numerator / denominator
        d_first = jnp.where(d == d0, jnp.maximum(d, d_hat), d)
        d_max_new = jnp.maximum(d_max, d_hat)
        d_new = jnp.minimum(d_max_new, d_first * widen(growth_rate))
        d_new, d_max_new, numerator = keep(skip, (d, d_max, state.numerator_weighted),
                                           (d_new, d_max_new, numerator))  # fmt: skip
        scale = d * bc  # γd·bc, γ applied after

        @per_dtype
        def step_scalars(dt):
            return tuple(cast(x, dt) for x in (b1, d_new * widen(eps), d_new, scale))

        def direction(g, p, m_new, v_new):
            dt = g.dtype
            b1_dt, d_eps, d_now, scale_dt = step_scalars(dt)
            denom = jnp.sqrt(v_new.astype(dt)) + d_eps
            top = jnp.where(b1_dt > 0, m_new.astype(dt), d_now * g)
            out = scale_dt * (top / denom)
            if decay is not None and decouple:  # θ ← θ − γd·bc·λθ
                out = out + scale_dt * scalars(dt).decay * p.astype(dt)
            return (jnp.where(skip, jnp.zeros_like(out), out).astype(p.dtype),)

        (out,) = map_leaves(direction, 1, g_used, params, m, v)
        out = jax.tree.map(lambda o, u: o.astype(u.dtype), out, updates)
        return out, ProdigyState(
            m,
            v,
            s,
            state.params0,
            d_new,
            numerator,
            increment(state.count),
            d_max_new,
            jnp.where(skip, state.steps, increment(state.steps)),
        )

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(**RULES)
def prodigy(
    learning_rate: ScalarOrSchedule = 1.0,
    betas: tuple[Scalar, Scalar] = (0.9, 0.999),
    beta3: Scalar | None = None,
    eps: Scalar = 1e-8,
    estim_lr0: Scalar = 1e-6,
    estim_lr_coef: Scalar = 1.0,
    weight_decay: ScalarOrSchedule | None = None,
    safeguard_warmup: bool = False,
    *,
    bias_correction: bool = False,
    growth_rate: Scalar = math.inf,
    decouple: bool = True,
    slice_p: int = 1,
) -> optax.GradientTransformationExtraArgs:
    """Prodigy (Mishchenko & Defazio 2024, "Prodigy: An Expeditiously Adaptive
    Parameter-Free Learner"): Adam with a learning rate d it estimates.

    Δθ = −γ_k d_k bc (m_{k+1} / (sqrt(v_{k+1}) + d_{k+1}ε) + λθ), with m, v, d as
    :func:`jopt.scale_by_prodigy` computes them:
    ``chain(scale_by_prodigy(...), scale_by_learning_rate(learning_rate))``.

    optax's names and order; the defaults and the step are the authors' package's
    (prodigyopt 1.1.2, in lockstep in tests/compat/prodigyopt): no bias correction, β3 =
    sqrt(β2), d0 = 1e-6. optax.contrib.prodigy always applies Adam's bias correction:
    ``bias_correction=True`` reproduces it (tested against it). Keep γ = 1, or a schedule
    whose peak is 1 (e.g. a cosine decay to 0).

    Args:
      learning_rate: γ >= 0 or a schedule ``count -> γ``.
      betas: (β1, β2), each in [0, 1).
      beta3: β3 in [0, 1); None: sqrt(β2).
      eps: ε >= 0.
      estim_lr0: d0 > 0.
      estim_lr_coef: c > 0, scaling the estimate (prodigyopt's ``d_coef``).
      weight_decay: λ >= 0 or a schedule, decoupled (AdamW's); None: off.
      safeguard_warmup: leave γ out of the estimate's denominator.
      bias_correction: Adam's bias correction (optax's form).
      growth_rate: the largest factor d grows by in one step.
      decouple: False: λθ added to the gradient instead (L2).
      slice_p: estimate d from every ``slice_p``-th entry (1: exact).

    Returns:
      An ``optax.GradientTransformationExtraArgs``; its ``update`` needs ``params``.

    >>> import jax.numpy as jnp, optax, jopt
    >>> tx = jopt.prodigy()
    >>> params = jnp.array([1.0, -1.0])
    >>> state = tx.init(params)
    >>> for _ in range(20):
    ...     grads = 2.0 * params  # the gradient of |θ|²
    ...     updates, state = tx.update(grads, state, params)
    ...     params = optax.apply_updates(params, updates)
    >>> float(state[0].estim_lr) > 1e-3  # d grew from 1e-6
    True
    """
    return chain(
        scale_by_prodigy(
            learning_rate,
            betas,
            beta3,
            eps,
            estim_lr0,
            estim_lr_coef,
            weight_decay,
            safeguard_warmup,
            bias_correction=bias_correction,
            growth_rate=growth_rate,
            decouple=decouple,
            slice_p=slice_p,
        ),
        scale_by_learning_rate(learning_rate),
    )
