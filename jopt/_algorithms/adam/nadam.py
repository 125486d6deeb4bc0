"""NAdam: Adam with Nesterov momentum and Dozat's momentum schedule μ_t."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._algorithms.adam.adam import (
    MOMENT_RULES,
    ScaleByAdamState,
    ema_moments,
    init_moments,
    moment_scalars,
    next_step,
)
from jopt._algorithms.regularization.weight_decay import MASK, add_decayed_weights
from jopt._core.chain import chain
from jopt._core.checks import checked, learning_rate, nonnegative, unit_interval
from jopt._core.dtypes import cast, compute_dtype, per_dtype, real_dtype
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.layout import PerParam
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.moments import held, state_format, write
from jopt._core.state import scalar, zero_count
from jopt.sharding._leafwise import map_leaves

RULES = {k: v for k, v in MOMENT_RULES.items() if k != "eps_in_sqrt"} | dict(
    momentum_decay=nonnegative()
)


class ScaleByNadamState(NamedTuple):
    """NAdam's state (:func:`jopt.scale_by_nadam`).

    Args:
      count: int32, steps taken.
      mu_product: Π_{i≤t} μ_i, a scalar in the widest float (float64 under x64).
      mu: the first moment m.
      nu: the second moment v.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_nadam(b1=0.5, momentum_decay=0.0)
    >>> _, state = tx.update(jnp.array([1.0, -2.0]), tx.init(jnp.zeros(2)))
    >>> state.count, state.mu_product  # μ_1 = β1(1 − 0.5·0.96⁰)
    (Array(1, dtype=int32), Array(0.25, dtype=float32))
    """

    count: jax.Array
    mu_product: jax.Array
    mu: PerParam
    nu: PerParam


@checked(**RULES)
def scale_by_nadam(
    b1: ScalarOrSchedule = 0.9,
    b2: Scalar = 0.999,
    eps: Scalar = 1e-8,
    momentum_decay: Scalar = 4e-3,
    *,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """NAdam's direction (see :func:`jopt.nadam`); ``momentum_decay=1`` is Keras' schedule.

    Args:
      b1: β1 in [0, 1), or a schedule ``count -> β1`` (μ_t and μ_{t+1} then use the
        current β1, as PyTorch does).
      b2: β2 in [0, 1).
      eps: ε >= 0.
      momentum_decay: ψ >= 0 of μ_t = β1(1 − 0.5·0.96^(tψ)).
      mu_dtype: the dtype m is stored in.
      nu_dtype: the dtype v is stored in.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.ScaleByNadamState`.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_nadam(eps=0.0)
    >>> g = jnp.array([0.5, -2.0])
    >>> tx.update(g, tx.init(jnp.zeros(2)))[0]  # (1 + 0.1μ_2/(1 − μ_1μ_2))·sign(g)
    Array([ 1.0564518, -1.0564518], dtype=float32)
    """
    wide = jnp.result_type(float)  # PyTorch's default-dtype scalar; Keras' first variable's

    def init_fn(params):
        mu, nu = init_moments(params, mu_dtype, nu_dtype)
        return ScaleByNadamState(zero_count(params), scalar(params, 1.0, wide), mu, nu)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        count, b1_now = next_step(b1, state, updates)
        c1, psi, t = cast(b1_now, wide), cast(momentum_decay, wide), count
        mu_t = c1 * (1.0 - 0.5 * 0.96 ** (t.astype(wide) * psi))
        mu_next = c1 * (1.0 - 0.5 * 0.96 ** ((t + 1).astype(wide) * psi))
        product = state.mu_product.astype(wide) * mu_t
        coef_g = (1.0 - mu_t) / (1.0 - product)
        coef_m = mu_next / (1.0 - product * mu_next)

        @per_dtype  # scalars once per dtype, not per leaf
        def scalars(dt):
            s = moment_scalars(b1_now, b2, eps, count, dt)
            return s, cast(coef_g, dt), cast(coef_m, dt)

        def step(g, m, v):
            m, v = held(m, g, mu_dtype), held(v, g, nu_dtype, signed=False)
            dt = compute_dtype(g)
            s, c_g, c_m = scalars(dt)
            gw = g.astype(dt)
            m_new, v_new = ema_moments(s, gw, m, v)
            denom = (jnp.sqrt(v_new / s.bias2) + s.eps).astype(dt)
            out = (c_g * gw + c_m * m_new) / denom
            return out.astype(g.dtype), write(m_new, m), write(v_new, v)

        out, mu, nu = map_leaves(step, 3, updates, state.mu, state.nu, elementwise=True)
        mu_product = product.astype(state.mu_product.dtype)
        return out, ScaleByNadamState(count, mu_product, mu, nu)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(learning_rate=learning_rate(), **RULES)
def nadam(
    learning_rate: ScalarOrSchedule = 2e-3,
    b1: ScalarOrSchedule = 0.9,
    b2: Scalar = 0.999,
    eps: Scalar = 1e-8,
    momentum_decay: Scalar = 4e-3,
    *,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """NAdam (Dozat 2016): Adam with Nesterov momentum and a warming-up momentum μ_t.

    μ_t = β1(1 − 0.5·0.96^(tψ)),  Π_t = μ_1 μ_2 ⋯ μ_t;
    m_t = β1 m_{t−1} + (1−β1)g_t,  v_t = β2 v_{t−1} + (1−β2)g_t²,  v̂_t = v_t/(1−β2^t);
    Δθ = −α [(1−μ_t)/(1−Π_t) · g_t + μ_{t+1}/(1−Π_t μ_{t+1}) · m_t] / (sqrt(v̂_t) + ε).

    ``chain(scale_by_nadam(...), scale_by_learning_rate(learning_rate))``. Defaults are
    PyTorch's, α = 2e-3, β1 = 0.9, β2 = 0.999, ε = 1e-8 and ψ = ``momentum_decay`` =
    0.004, Dozat's 0.96^(t/250). Keras' ``Nadam`` is the same formula with ψ = 1. optax's
    ``nadam`` is a different, simplified rule (constant μ = β1). Π_t is kept in the state
    in float64 under x64.

    Args:
      learning_rate: α >= 0, or a schedule.
      b1: β1 in [0, 1), or a schedule ``count -> β1``.
      b2: β2 in [0, 1).
      eps: ε >= 0.
      momentum_decay: ψ >= 0.
      mu_dtype: the dtype m is stored in.
      nu_dtype: the dtype v is stored in.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.nadam(0.1, eps=0.0)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # μ_1 ≈ μ_2 ≈ 0.45
    Array([-0.10564518,  0.10564518], dtype=float32)
    """
    return chain(
        scale_by_nadam(b1, b2, eps, momentum_decay, mu_dtype=mu_dtype, nu_dtype=nu_dtype),
        scale_by_learning_rate(learning_rate),
    )


def nesterov_adam(
    b1: ScalarOrSchedule, b2: Scalar, eps: Scalar, eps_root: Scalar, mu_dtype: Any | None
) -> optax.GradientTransformationExtraArgs:
    """optax's ``scale_by_adam(nesterov=True)`` from checked arguments: Dozat's NAdam with
    a constant momentum μ = β1,
    m̂_t = β1 m_t/(1−β1^{t+1}) + (1−β1) g_t/(1−β1^t),  step m̂_t/(sqrt(v̂_t + ε_root) + ε)."""

    def init_fn(params):
        mu, nu = init_moments(params, mu_dtype, None)
        return ScaleByAdamState(zero_count(params), mu, nu)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        count, b1_now = next_step(b1, state, updates)

        @per_dtype  # scalars once per dtype, not per leaf
        def scalars(dt):
            rdt = real_dtype(dt)
            c1 = cast(b1_now, rdt)
            next_bias1 = (1.0 - c1 ** (count.astype(rdt) + 1.0)).astype(dt)
            return moment_scalars(b1_now, b2, eps, count, dt), next_bias1, cast(eps_root, rdt)

        def step(g, m, v):
            m = held(m, g, mu_dtype)
            dt = compute_dtype(g)
            s, next_bias1, root = scalars(dt)
            gw = g.astype(dt)
            m_new, v_new = ema_moments(s, gw, m, v)
            m_hat = s.b1 * (m_new / next_bias1) + s.rest1 * (gw / s.bias1)
            out = m_hat / (jnp.sqrt(v_new / s.bias2 + root) + s.eps).astype(dt)
            return out.astype(g.dtype), write(m_new, m), v_new.astype(v.dtype)

        out, mu, nu = map_leaves(step, 3, updates, state.mu, state.nu, elementwise=True)
        return out, ScaleByAdamState(count, mu, nu)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(
    learning_rate=learning_rate(),
    b1=unit_interval(schedule=True),
    b2=unit_interval(),
    eps=nonnegative(),
    eps_root=nonnegative(),
    mu_dtype=state_format(),
    weight_decay=nonnegative(schedule=True),
    mask=MASK,
)
def nadamw(
    learning_rate: ScalarOrSchedule = 1e-3,
    b1: ScalarOrSchedule = 0.9,
    b2: Scalar = 0.999,
    eps: Scalar = 1e-8,
    eps_root: Scalar = 0.0,
    mu_dtype: Any | None = None,
    weight_decay: ScalarOrSchedule = 1e-4,
    mask: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """NAdamW: Dozat's NAdam with a constant momentum, and AdamW's decoupled decay
    (optax's ``nadamw``, its arguments and defaults).

    m_t = β1 m_{t−1} + (1−β1) g_t,  v_t = β2 v_{t−1} + (1−β2) g_t²,
    m̂_t = β1 m_t/(1−β1^{t+1}) + (1−β1) g_t/(1−β1^t),  v̂_t = v_t/(1−β2^t),
    Δθ = −α (m̂_t / (sqrt(v̂_t + ε_root) + ε) + λθ).

    This is Dozat (2016)'s NAdam with μ_t = β1 (no warm-up schedule) and the update
    ``optax.nadamw`` computes. It is not :func:`jopt.nadam` (PyTorch's NAdam, μ_t =
    β1(1 − 0.5·0.96^(tψ))), nor ``torch.optim.NAdam(decoupled_weight_decay=True)``:
    PyTorch's μ_t never equals β1 (ψ = 0 gives β1/2), so no torch setting reproduces it.

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.
      b1: β1 in [0, 1), or a schedule ``count -> β1``.
      b2: β2 in [0, 1).
      eps: ε >= 0.
      eps_root: ε_root >= 0 under the root.
      mu_dtype: the dtype m is stored in.
      weight_decay: λ >= 0, or a schedule ``count -> λ``.
      mask: a pytree of bools, or a function ``params -> pytree``, picking the leaves
        that decay.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.nadamw(0.1, eps=0.0, weight_decay=0.0)
    >>> params = jnp.zeros(2)
    >>> g = jnp.array([0.5, -2.0])  # first step: −α(1 + β1(1−β1)/(1−β1²))·sign(g)
    >>> tx.update(g, tx.init(params), params)[0]
    Array([-0.14736842,  0.14736842], dtype=float32)
    """
    return chain(
        nesterov_adam(b1, b2, eps, eps_root, mu_dtype),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
