"""MoMo and MoMo-Adam (Schaipp et al. 2023): momentum with a Polyak-type step size from
the loss value."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._algorithms.parameter_free._tree import (
    matched,
    sq_norm,
    tree_dtype,
    vdot,
    wide_dtype,
)
from jopt._core.checks import (
    UnnamedTypeError,
    UnnamedValueError,
    checked,
    flag,
    learning_rate,
    nonnegative,
    optional,
    real,
    unit_interval,
)
from jopt._core.dtypes import cast
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.layout import PerParam
from jopt._core.learning_rate import LearningRateState, init_learning_rate, next_learning_rate
from jopt._core.state import (
    check_update_params,
    evaluate,
    increment,
    moments_like,
    scalar,
    zero_count,
)
from jopt.sharding._leafwise import map_leaves


class MomoState(NamedTuple):
    """MoMo's state (:func:`jopt.momo`), optax.contrib's fields.

    Args:
      exp_avg: d, the momentum (EMA of the gradients).
      barf: f̄, the EMA of the loss values.
      gamma: γ, the EMA of ⟨g_t, x_t⟩.
      lb: the loss's lower bound f_* in use (moves with ``adapt_lower_bound``).
      count: int32, steps taken.
      rate: the learning-rate state (the α of the last update, for
        :func:`jopt.get_learning_rate`; not in optax's state).

    >>> import jax.numpy as jnp, jopt
    >>> jopt.momo(lower_bound=-1.0).init(jnp.zeros(2)).lb
    Array(-1., dtype=float32)
    """

    exp_avg: PerParam
    barf: jax.Array
    gamma: jax.Array
    lb: jax.Array
    count: jax.Array
    rate: LearningRateState


class MomoAdamState(NamedTuple):
    """MoMo-Adam's state (:func:`jopt.momo_adam`), optax.contrib's fields.

    Args:
      exp_avg: m, the first moment.
      exp_avg_sq: v, the second moment.
      barf: f̄, the EMA of the loss values (from 0, bias-corrected by 1 − β1^t).
      gamma: γ, the EMA of ⟨g_t, x_t⟩.
      lb: the lower bound f_* in use.
      count: int32, steps taken.
      rate: the learning-rate state (not in optax's state).

    >>> import jax.numpy as jnp, jopt
    >>> jopt.momo_adam().init(jnp.zeros(2)).count
    Array(0, dtype=int32)
    """

    exp_avg: PerParam
    exp_avg_sq: PerParam
    barf: jax.Array
    gamma: jax.Array
    lb: jax.Array
    count: jax.Array
    rate: LearningRateState


RULES = dict(
    learning_rate=learning_rate(),
    lower_bound=real(),
    weight_decay=optional(nonnegative(schedule=True)),
    adapt_lower_bound=flag(),
    optax_weight_decay=flag(),
)


def _loss(value: Any, dt: jnp.dtype) -> jax.Array:
    if value is None:
        raise UnnamedValueError(
            "update() needs the loss at params as value=, e.g. "
            "tx.update(grads, state, params, value=loss) (jax.value_and_grad gives both)."
        )
    if jnp.ndim(value) != 0:
        raise UnnamedTypeError(
            f"update(): value must be the scalar loss, got an array of shape {jnp.shape(value)}."
        )
    return cast(value, dt)


class _Step(NamedTuple):
    """The scalars of one MoMo step, in the state's dtype."""

    alpha: jax.Array  # α_t
    decay: jax.Array  # 1 + α_t λ
    lower: jax.Array  # the floor of the adapted bound


def _scalars(lr: Any, weight_decay: Any, lower_bound: Any, count, dt) -> _Step:
    alpha = cast(lr, dt)
    lam = 0.0 if weight_decay is None else evaluate(weight_decay, count, "the weight_decay")
    return _Step(alpha, 1 + alpha * cast(lam, dt), cast(lower_bound, dt))


def _polyak(
    s: _Step, lb, barf, gamma, iprod, norm_sq, adapt: bool, bc1=None
) -> tuple[jax.Array, jax.Array]:
    """MoMo's (τ, next lower bound), as the authors' code and optax compute them (``bc1``:
    MoMo-Adam's 1 − β1^t; None for MoMo)."""
    one = jnp.ones_like(barf) if bc1 is None else bc1
    if adapt:  # reset the bound when the model's value drops below it
        cap = s.decay * (barf - gamma) + iprod
        lb = jnp.where(
            cap < s.decay * one * lb, jnp.maximum(cap / (2 * one * s.decay), s.lower), lb
        )
    t1 = jnp.maximum(s.decay * (barf - one * lb - gamma) + iprod, 0.0)
    degenerate = norm_sq <= jnp.finfo(norm_sq.dtype).eps
    t1 = jnp.where(degenerate, 0.0, t1 / jnp.where(degenerate, 1.0, norm_sq))
    tau = jnp.minimum(s.alpha / one, t1)
    if adapt:
        lb = jnp.maximum((barf + iprod - gamma - 0.5 * tau * norm_sq) / one, s.lower)
    return tau, lb


def _precond_norm(m: Any, v: Any, eps: Any, bc2: jax.Array, dt: jnp.dtype) -> jax.Array:
    """‖m‖²_D = Σ m² / (ε + sqrt(v / (1 − β2^t))) from the stored moments, in the tree's
    scalar dtype (so that a mixed-precision tree's step is the same jitted or not)."""
    total = jnp.zeros((), dt)
    for a, b in zip(jax.tree.leaves(m), jax.tree.leaves(v), strict=True):
        a, b = a.astype(dt), matched(b, a).astype(dt)
        total = total + jnp.sum(a * a / (cast(eps, dt) + jnp.sqrt(b / bc2)))
    return total


@checked(beta=unit_interval(), **RULES)
def momo(
    learning_rate: ScalarOrSchedule = 1.0,
    beta: Scalar = 0.9,
    lower_bound: Scalar = 0.0,
    weight_decay: ScalarOrSchedule | None = 0.0,
    adapt_lower_bound: bool = False,
    *,
    optax_weight_decay: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """MoMo (Schaipp, Ohana, Eickenberg, Defazio & Gower 2023, "MoMo: Momentum Models for
    Adaptive Learning Rates"): SGD with momentum and a Polyak-type step from the loss.

    With β_t = 0 at the first step and β after (the EMAs start at their first values):
    f̄_t = β_t f̄ + (1−β_t) f(x_t),  d_t = β_t d + (1−β_t) g_t,
    γ_t = β_t γ + (1−β_t) ⟨g_t, x_t⟩,  c = 1 + α_t λ,
    τ_t = min(α_t, [c (f̄_t − f_* − γ_t) + ⟨d_t, x_t⟩]_+ / ‖d_t‖²),
    x_{t+1} = (x_t − τ_t d_t) / c                       (the paper and authors' code)
    x_{t+1} = x_t / c − τ_t d_t                          (optax: ``optax_weight_decay``)

    (τ_t = 0 where ‖d_t‖² is below its dtype's ε.) The two forms agree without weight
    decay. ``adapt_lower_bound`` estimates f_* online (the paper's MoMo*), as optax.contrib
    does. ``update`` needs ``params`` and the loss at them: ``value=loss``, as optax's. The
    learning rate is inside the step (no separate learning-rate transform); α_t is the
    schedule's value at the updates already applied.

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``; the step's cap (the paper's 1).
      beta: β in [0, 1), the momentum.
      lower_bound: f_*, a lower bound of the loss (0 for most losses).
      weight_decay: λ >= 0, or a schedule; 0 or ``None``: off.
      adapt_lower_bound: estimate f_* on the fly, never below ``lower_bound``.
      optax_weight_decay: optax.contrib's form of the decay (τ_t d_t not divided by c).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.MomoState`.

    >>> import jax, jax.numpy as jnp, jopt
    >>> f = lambda x: jnp.sum(x**2)
    >>> tx, x = jopt.momo(), jnp.array([1.0, 2.0])
    >>> loss, g = jax.value_and_grad(f)(x)  # τ = min(1, 5/20): the Polyak step
    >>> tx.update(g, tx.init(x), x, value=loss)[0]
    Array([-0.5, -1. ], dtype=float32)
    """

    def init_fn(params):
        dt = tree_dtype(params)
        return MomoState(
            exp_avg=moments_like(params),
            barf=scalar(params, 0.0, dt),
            gamma=scalar(params, 0.0, dt),
            lb=scalar(params, cast(lower_bound, dt), dt),
            count=zero_count(params),
            rate=init_learning_rate(learning_rate, params),
        )

    def update_fn(updates, state, params=None, *, value=None, **extra_args):
        del extra_args
        check_update_params(updates, params, "(MoMo's model is linear in them)", state.exp_avg)
        dt = state.barf.dtype
        lr, rate = next_learning_rate(learning_rate, state.rate)
        s = _scalars(lr, weight_decay, lower_bound, state.count, dt)
        b = jnp.where(state.count == 0, 0.0, cast(beta, dt))
        barf = b * state.barf + (1 - b) * _loss(value, dt)
        gamma = b * state.gamma + (1 - b) * vdot(updates, params, dt)

        def ema(g, d):
            cdt = wide_dtype(g, dt)
            bw = b.astype(cdt)
            new = bw * d.astype(cdt) + (1 - bw) * g.astype(cdt)
            return (new.astype(d.dtype),)

        (exp_avg,) = map_leaves(ema, 1, updates, state.exp_avg)
        iprod = vdot(exp_avg, params, dt)
        tau, lb = _polyak(s, state.lb, barf, gamma, iprod, sq_norm(exp_avg, dt), adapt_lower_bound)
        shrink = 1.0 if optax_weight_decay else 1.0 / s.decay

        def step(g, x, d):
            cdt = wide_dtype(g, dt)
            pull = ((s.decay - 1) / s.decay).astype(cdt)  # αλ / (1 + αλ)
            out = -pull * x.astype(cdt) - (tau * shrink).astype(cdt) * d.astype(cdt)
            return (out.astype(g.dtype),)

        (out,) = map_leaves(step, 1, updates, params, exp_avg)
        return out, MomoState(exp_avg, barf, gamma, lb, increment(state.count), rate)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(b1=unit_interval(schedule=True), b2=unit_interval(), eps=nonnegative(), **RULES)
def momo_adam(
    learning_rate: ScalarOrSchedule = 1e-2,
    b1: ScalarOrSchedule = 0.9,
    b2: Scalar = 0.999,
    eps: Scalar = 1e-8,
    lower_bound: Scalar = 0.0,
    weight_decay: ScalarOrSchedule | None = 0.0,
    adapt_lower_bound: bool = False,
    *,
    optax_weight_decay: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """MoMo-Adam (Schaipp et al. 2023): Adam's preconditioned momentum with a Polyak-type
    step from the loss.

    f̄_t = β1 f̄ + (1−β1) f(x_t),  m_t = β1 m + (1−β1) g_t,  v_t = β2 v + (1−β2) g_t²,
    γ_t = β1 γ + (1−β1) ⟨g_t, x_t⟩,  D_t = ε + sqrt(v_t / (1 − β2^t)),
    ρ_t = 1 − β1^t,  c = 1 + α_t λ,  ‖m‖²_D = Σ m_t² / D_t,
    τ_t = min(α_t / ρ_t, [c (f̄_t − ρ_t f_* − γ_t) + ⟨m_t, x_t⟩]_+ / ‖m‖²_D),
    x_{t+1} = (x_t − τ_t m_t / D_t) / c                  (the paper and authors' code)
    x_{t+1} = x_t / c − τ_t m_t / D_t                    (optax: ``optax_weight_decay``)

    ``update`` needs ``params`` and ``value=loss``, as optax.contrib.momo_adam's (whose
    arguments and defaults these are; the authors' ``MomoAdam`` has the same).

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.
      b1: β1 in [0, 1), or a schedule ``count -> β1``.
      b2: β2 in [0, 1).
      eps: ε >= 0.
      lower_bound: f_*, a lower bound of the loss.
      weight_decay: λ >= 0, or a schedule; 0 or ``None``: off.
      adapt_lower_bound: estimate f_* on the fly, never below ``lower_bound``.
      optax_weight_decay: optax.contrib's form of the decay.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.MomoAdamState`.

    >>> import jax, jax.numpy as jnp, jopt
    >>> tx, x = jopt.momo_adam(learning_rate=0.5, eps=0.0), jnp.array([1.0, -1.0])
    >>> loss, g = jax.value_and_grad(lambda x: jnp.sum(x**2))(x)
    >>> tx.update(g, tx.init(x), x, value=loss)[0]  # the Polyak step: x + Δ = 0
    Array([-0.5,  0.5], dtype=float32)
    """

    def init_fn(params):
        dt = tree_dtype(params)
        return MomoAdamState(
            exp_avg=moments_like(params),
            exp_avg_sq=moments_like(params, real=True, signed=False),
            barf=scalar(params, 0.0, dt),
            gamma=scalar(params, 0.0, dt),
            lb=scalar(params, cast(lower_bound, dt), dt),
            count=zero_count(params),
            rate=init_learning_rate(learning_rate, params),
        )

    def update_fn(updates, state, params=None, *, value=None, **extra_args):
        del extra_args
        check_update_params(updates, params, "(MoMo's model is linear in them)", state.exp_avg)
        dt = state.barf.dtype
        lr, rate = next_learning_rate(learning_rate, state.rate)
        s = _scalars(lr, weight_decay, lower_bound, state.count, dt)
        count = increment(state.count)
        c1 = cast(evaluate(b1, state.count, "the b1 schedule"), dt)
        c2, t = cast(b2, dt), count.astype(dt)
        bc1, bc2 = 1 - c1**t, 1 - c2**t
        barf = c1 * state.barf + (1 - c1) * _loss(value, dt)
        gamma = c1 * state.gamma + (1 - c1) * vdot(updates, params, dt)

        def moments(g, m, v):
            cdt = wide_dtype(g, dt)
            gw, w1, w2 = g.astype(cdt), c1.astype(cdt), c2.astype(cdt)
            m_new = w1 * m.astype(cdt) + (1 - w1) * gw
            v_new = w2 * v.astype(cdt) + (1 - w2) * gw * gw
            precond = cast(eps, cdt) + jnp.sqrt(v_new / bc2.astype(cdt))
            return m_new.astype(m.dtype), v_new.astype(v.dtype), m_new / precond

        exp_avg, exp_avg_sq, scaled = map_leaves(
            moments, 3, updates, state.exp_avg, state.exp_avg_sq
        )
        norm_sq = _precond_norm(exp_avg, exp_avg_sq, eps, bc2, dt)
        iprod = vdot(exp_avg, params, dt)
        tau, lb = _polyak(s, state.lb, barf, gamma, iprod, norm_sq, adapt_lower_bound, bc1)
        shrink = 1.0 if optax_weight_decay else 1.0 / s.decay

        def step(g, x, direction):
            cdt = wide_dtype(g, dt)
            pull = ((s.decay - 1) / s.decay).astype(cdt)  # αλ / (1 + αλ)
            out = -pull * x.astype(cdt) - (tau * shrink).astype(cdt) * direction
            return (out.astype(g.dtype),)

        (out,) = map_leaves(step, 1, updates, params, scaled)
        return out, MomoAdamState(exp_avg, exp_avg_sq, barf, gamma, lb, count, rate)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
