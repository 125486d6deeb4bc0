"""NAdam: Adam with Nesterov momentum and Dozat's momentum schedule μ_t."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._adam import check_adam
from jopt._base import (
    Scalar,
    ScalarOrSchedule,
    cast,
    chain,
    check_tree,
    compute_dtype,
    evaluate,
    increment,
    map_leaves,
    moments_like,
    per_dtype,
    real_dtype,
    scalar,
    zero_count,
)
from jopt._base import _scale_by_learning_rate as lr_step
from jopt._math import abs_sq, ema
from jopt._validation import check_learning_rate, check_nonnegative


class ScaleByNadamState(NamedTuple):
    """``count`` (int32, steps taken); ``mu_product`` Π_{i≤t} μ_i, a scalar in the
    widest float (float64 under x64); ``mu`` the first moment m; ``nu`` the second, v."""

    count: jax.Array
    mu_product: jax.Array
    mu: Any
    nu: Any


def check_nadam(call: str, b1, b2, eps, momentum_decay, *, decay_name="momentum_decay", **names):
    """Adam's β1 (or a schedule), β2, ε and a momentum decay ψ >= 0."""
    check_adam(call, b1, b2, eps, **names)
    check_nonnegative(call, decay_name, momentum_decay)


def _scale_by_nadam(
    call: str,
    b1: ScalarOrSchedule,
    b2: Scalar,
    eps: Scalar,
    momentum_decay: Scalar,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    wide = jnp.result_type(float)  # PyTorch's default-dtype scalar; Keras' first variable's

    def init_fn(params):
        mu = moments_like(call, params, mu_dtype)
        nu = moments_like(call, params, nu_dtype, real=True)
        return ScaleByNadamState(zero_count(params), scalar(params, 1.0, wide), mu, nu)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        check_tree(call, updates, state.mu)
        count = increment(state.count)
        c1, psi, t = cast(evaluate(b1, state.count), wide), cast(momentum_decay, wide), count
        mu_t = c1 * (1.0 - 0.5 * 0.96 ** (t.astype(wide) * psi))
        mu_next = c1 * (1.0 - 0.5 * 0.96 ** ((t + 1).astype(wide) * psi))
        product = state.mu_product.astype(wide) * mu_t
        coef_g = (1.0 - mu_t) / (1.0 - product)
        coef_m = mu_next / (1.0 - product * mu_next)

        @per_dtype  # scalars once per dtype, not per leaf
        def scalars(dt):
            rdt = real_dtype(dt)
            c1_, c2 = cast(c1, dt), cast(b2, rdt)
            return dict(
                c1=c1_,
                rest1=1.0 - c1_,
                c2=c2,
                rest2=1.0 - c2,
                bias2=1.0 - c2 ** count.astype(rdt),
                eps=cast(eps, rdt),
                coef_g=cast(coef_g, dt),
                coef_m=cast(coef_m, dt),
            )

        def step(g, m, v):
            dt = compute_dtype(g)
            s = scalars(dt)
            gw = g.astype(dt)
            m_new = ema(s["c1"], s["rest1"], m, gw)
            v_new = ema(s["c2"], s["rest2"], v, abs_sq(gw))
            denom = (jnp.sqrt(v_new / s["bias2"]) + s["eps"]).astype(dt)
            out = (s["coef_g"] * gw + s["coef_m"] * m_new) / denom
            return out.astype(g.dtype), m_new.astype(m.dtype), v_new.astype(v.dtype)

        out, mu, nu = map_leaves(step, 3, updates, state.mu, state.nu)
        mu_product = product.astype(state.mu_product.dtype)
        return out, ScaleByNadamState(count, mu_product, mu, nu)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


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

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_nadam(eps=0.0)
    >>> g = jnp.array([0.5, -2.0])
    >>> tx.update(g, tx.init(jnp.zeros(2)))[0]  # (1 + 0.1μ_2/(1 − μ_1μ_2))·sign(g)
    Array([ 1.0564518, -1.0564518], dtype=float32)
    """
    call = "jopt.scale_by_nadam"
    check_nadam(call, b1, b2, eps, momentum_decay, mu_dtype=mu_dtype, nu_dtype=nu_dtype)
    return _scale_by_nadam(call, b1, b2, eps, momentum_decay, mu_dtype, nu_dtype)


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

    Defaults are PyTorch's, α = 2e-3, β1 = 0.9, β2 = 0.999, ε = 1e-8 and ψ =
    ``momentum_decay`` = 0.004, Dozat's 0.96^(t/250). Keras' ``Nadam`` is the same formula
    with ψ = 1 (its μ_t = β1(1 − 0.5·0.96^t) reaches β1 within a few dozen steps).
    optax's ``nadam`` is a different, simplified rule (constant μ = β1). ``b1`` may be a
    schedule ``count -> β1``: μ_t and μ_{t+1} then use the current β1, as PyTorch does.
    Π_t is kept in the state in float64 under x64.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.nadam(0.1, eps=0.0)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # μ_1 ≈ μ_2 ≈ 0.45
    Array([-0.10564518,  0.10564518], dtype=float32)
    """
    call = "jopt.nadam"
    check_learning_rate(call, learning_rate)
    check_nadam(call, b1, b2, eps, momentum_decay, mu_dtype=mu_dtype, nu_dtype=nu_dtype)
    moments = _scale_by_nadam(call, b1, b2, eps, momentum_decay, mu_dtype, nu_dtype)
    return chain(moments, lr_step(call, learning_rate))
