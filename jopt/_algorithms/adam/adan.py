"""Adan (Xie et al. 2022): adaptive Nesterov momentum from the gradient difference."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._algorithms.regularization.weight_decay import MASK, add_decayed_weights
from jopt._core.chain import chain
from jopt._core.checks import checked, flag, learning_rate, nonnegative, unit_interval
from jopt._core.dtypes import cast, compute_dtype, per_dtype, real_dtype
from jopt._core.elementwise import abs_sq, ema, ema_weights
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.layout import PerParam
from jopt._core.learning_rate import (
    init_learning_rate,
    next_learning_rate,
    scale_by_learning_rate,
)
from jopt._core.state import (
    check_tree,
    check_update_params,
    evaluate,
    increment,
    moments_like,
    zero_count,
)
from jopt.sharding._leafwise import map_leaves

RULES = dict(
    b1=unit_interval(schedule=True),
    b2=unit_interval(),
    b3=unit_interval(),
    eps=nonnegative(),
    eps_root=nonnegative(),
    optax_weights=flag(),
)


class ScaleByAdanState(NamedTuple):
    """Adan's state (:func:`jopt.scale_by_adan`), optax's layout.

    Args:
      m: the EMA of the gradients.
      v: the EMA of the gradient differences g_t − g_{t−1}.
      n: the EMA of |g_t + w (g_t − g_{t−1})|² (real).
      g: the last gradient.
      t: int32, steps taken.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_adan(b1=0.5)
    >>> _, state = tx.update(jnp.array([1.0, -2.0]), tx.init(jnp.zeros(2)))
    >>> state.m, state.g, state.t  # (1 − β1)g, g, 1
    (Array([ 0.5, -1. ], dtype=float32), Array([ 1., -2.], dtype=float32), Array(1, dtype=int32))
    """

    m: PerParam
    v: PerParam
    n: PerParam
    g: PerParam
    t: jax.Array


class _Scalars(NamedTuple):
    b1: jax.Array
    rest1: jax.Array
    bias1: jax.Array
    b2: jax.Array
    rest2: jax.Array
    bias2: jax.Array
    weight: jax.Array  # w, the weight of the gradient difference
    b3: jax.Array
    rest3: jax.Array
    bias3: jax.Array
    eps: jax.Array
    eps_root: jax.Array


@checked(**RULES)
def scale_by_adan(
    b1: ScalarOrSchedule = 0.98,
    b2: Scalar = 0.92,
    b3: Scalar = 0.99,
    eps: Scalar = 1e-8,
    eps_root: Scalar = 0.0,
    *,
    optax_weights: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """Adan's direction (m̂_t + w v̂_t) / (sqrt(n̂_t + ε_root) + ε) (see :func:`jopt.adan`).

    Δ_t = g_t − g_{t−1} (0 at the first step),
    m_t = β1 m_{t−1} + (1−β1) g_t,  v_t = β2 v_{t−1} + (1−β2) Δ_t,
    n_t = β3 n_{t−1} + (1−β3)|g_t + w Δ_t|²,  x̂_t = x_t/(1−β^t) for each of them.

    The β are decays (optax's and the reference code's convention; the paper's β_i are
    1 − these). The weight of the difference is w = β2, the paper's 1 − β2 (Algorithm 1)
    and the authors' code; ``optax_weights=True`` takes w = 1 − β2, as ``optax.adan``
    does (0.08 where the paper has 0.92 at the defaults).

    Args:
      b1: β1 in [0, 1), or a schedule ``count -> β1``, the decay of m.
      b2: β2 in [0, 1), the decay of v.
      b3: β3 in [0, 1), the decay of n.
      eps: ε >= 0, added to the root.
      eps_root: ε_root >= 0, added under the root (optax's argument; the paper has none).
      optax_weights: w = 1 − β2, as optax's.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.ScaleByAdanState`.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_adan(eps=0.0)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # first step: sign(g)
    Array([ 1., -1.], dtype=float32)
    """

    def init_fn(params):
        m = moments_like(params)
        return ScaleByAdanState(
            m,
            moments_like(params),
            moments_like(params, real=True),
            moments_like(params),
            zero_count(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        check_tree(updates, state.m)
        t = increment(state.t)
        first = state.t == 0
        b1_now = evaluate(b1, state.t, "the b1 schedule")

        @per_dtype  # scalars once per dtype, not per leaf
        def scalars(dt):
            rdt = real_dtype(dt)
            tt = t.astype(rdt)
            (c1, r1), (c2, r2), (c3, r3) = (ema_weights(b, rdt) for b in (b1_now, b2, b3))
            weight = r2 if optax_weights else c2
            return _Scalars(
                *(c1.astype(dt), r1.astype(dt), (1.0 - c1**tt).astype(dt)),
                *(c2.astype(dt), r2.astype(dt), (1.0 - c2**tt).astype(dt), weight.astype(dt)),
                *(c3, r3, 1.0 - c3**tt),
                cast(eps, rdt),
                cast(eps_root, rdt),
            )

        def step(g, m, v, n, g_prev):
            dt = compute_dtype(g)
            s = scalars(dt)
            gw = g.astype(dt)
            diff = jnp.where(first, jnp.zeros_like(gw), gw - g_prev.astype(dt))
            m_new = ema(s.b1, s.rest1, m, gw)
            v_new = ema(s.b2, s.rest2, v, diff)
            n_new = ema(s.b3, s.rest3, n, abs_sq(gw + s.weight * diff))
            num = m_new / s.bias1 + s.weight * (v_new / s.bias2)
            denom = jnp.sqrt(n_new / s.bias3 + s.eps_root) + s.eps
            out = num / denom.astype(dt)
            return (
                out.astype(g.dtype),
                m_new.astype(m.dtype),
                v_new.astype(v.dtype),
                n_new.astype(n.dtype),
                g.astype(g_prev.dtype),
            )

        out, m, v, n, g = map_leaves(
            step, 5, updates, state.m, state.v, state.n, state.g, elementwise=True
        )
        return out, ScaleByAdanState(m, v, n, g, t)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def proximal_decay(
    learning_rate: ScalarOrSchedule, weight_decay: ScalarOrSchedule, mask: Any | None = None
) -> optax.GradientTransformationExtraArgs:
    """Adan's proximal weight decay on a step Δ that already carries its rate α:
    θ_{t+1} = (θ_t + Δ)/(1 + αλ), i.e. Δ ← (Δ − αλθ)/(1 + αλ). From checked arguments;
    the schedules are evaluated at the updates already applied."""
    scheduled = callable(weight_decay)

    def init_fn(params):
        return init_learning_rate(learning_rate, params, counted=scheduled)

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        check_update_params(updates, params, "to decay them")
        wd = (
            evaluate(weight_decay, state.count, "the weight-decay schedule")
            if scheduled
            else weight_decay
        )
        lr, state = next_learning_rate(learning_rate, state)

        def decay(u, p):
            dt = compute_dtype(u)
            shrink = cast(wd, dt) * cast(lr, dt)
            return ((u.astype(dt) - shrink * p.astype(dt)) / (1.0 + shrink)).astype(u.dtype)

        return jax.tree.map(decay, updates, params), state

    tx = optax.GradientTransformationExtraArgs(init_fn, update_fn)
    return tx if mask is None else optax.masked(tx, mask)


@checked(
    learning_rate=learning_rate(),
    **{k: v for k, v in RULES.items() if k != "optax_weights"},
    weight_decay=nonnegative(schedule=True),
    mask=MASK,
    proximal=flag(),
    optax_weights=flag(),
)
def adan(
    learning_rate: ScalarOrSchedule = 1e-3,
    b1: ScalarOrSchedule = 0.98,
    b2: Scalar = 0.92,
    b3: Scalar = 0.99,
    eps: Scalar = 1e-8,
    eps_root: Scalar = 0.0,
    weight_decay: ScalarOrSchedule = 0.0,
    mask: Any | None = None,
    *,
    proximal: bool = True,
    optax_weights: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """Adan (Xie et al. 2022, "Adan: Adaptive Nesterov Momentum Algorithm for Faster
    Optimizing Deep Models", Algorithm 1).

    u_t = (m̂_t + β2 v̂_t) / (sqrt(n̂_t) + ε)  (:func:`jopt.scale_by_adan`),
    θ_{t+1} = (θ_t − α u_t)/(1 + αλ)         (the paper's proximal decay: the default),
    θ_{t+1} = θ_t − α(u_t + λθ_t)            (``proximal=False``: optax's decoupled decay).

    Defaults are the paper's and the reference code's (the authors' ``Adan``,
    pytorch_optimizer's ``Adan``): α = 1e-3, decays (0.98, 0.92, 0.99), ε = 1e-8, no
    ε_root, the proximal decay. optax's ``adan`` differs in three places, each a switch
    here: it weights the difference by 1 − β2 (``optax_weights=True``), adds ε_root =
    1e-8 under the root (``eps_root=1e-8``) and decays decoupled (``proximal=False``).

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.
      b1: β1 in [0, 1), or a schedule ``count -> β1``.
      b2: β2 in [0, 1).
      b3: β3 in [0, 1).
      eps: ε >= 0.
      eps_root: ε_root >= 0.
      weight_decay: λ >= 0, or a schedule ``count -> λ``.
      mask: a pytree of bools, or a function ``params -> pytree``, picking the leaves
        that decay.
      proximal: the paper's proximal decay θ/(1 + αλ) (else the decoupled θ(1 − αλ)).
      optax_weights: optax's weight 1 − β2 of the gradient difference.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.adan(0.1, eps=0.0)
    >>> params = jnp.zeros(2)  # the decay step reads them (as optax's)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(params), params)[0]  # first step: −α·sign(g)
    Array([-0.1,  0.1], dtype=float32)
    """
    direction = scale_by_adan(b1, b2, b3, eps, eps_root, optax_weights=optax_weights)
    if proximal:
        return chain(
            direction,
            scale_by_learning_rate(learning_rate),
            proximal_decay(learning_rate, weight_decay, mask),
        )
    return chain(
        direction, add_decayed_weights(weight_decay, mask), scale_by_learning_rate(learning_rate)
    )
