"""RMSprop: steps divided by a moving root mean square of the gradients."""

from __future__ import annotations

from typing import Any, NamedTuple

import optax

from jopt._base import (
    Scalar,
    ScalarOrSchedule,
    cast,
    chain,
    check_tree,
    compute_dtype,
    map_leaves,
    moments_like,
    per_dtype,
    real_dtype,
    requested,
)
from jopt._base import _scale_by_learning_rate as lr_step
from jopt._math import abs_sq, ema, normalize
from jopt._sgd import _scale_by_trace
from jopt._validation import (
    check_dtype,
    check_flag,
    check_learning_rate,
    check_nonnegative,
    check_optional,
    check_unit,
)


class ScaleByRmsState(NamedTuple):
    nu: Any  # EMA of |g|²


class ScaleByStddevState(NamedTuple):
    mu: Any  # EMA of g
    nu: Any  # EMA of |g|²


def _check(call: str, rho, eps, eps_in_sqrt, mu_dtype, nu_dtype) -> None:
    check_unit(call, "rho", rho)
    check_nonnegative(call, "eps", eps)
    check_flag(call, "eps_in_sqrt", eps_in_sqrt)
    check_dtype(call, "mu_dtype", mu_dtype)
    check_dtype(call, "nu_dtype", nu_dtype)


def _scale_by_rms(
    call: str,
    rho: Scalar,
    eps: Scalar,
    eps_in_sqrt: bool,
    centered: bool,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """v_t = ρv + (1−ρ)|g|², and with ``centered`` m_t = ρm + (1−ρ)g; g / sqrt(v − |m|² (+) ε)."""

    def init_fn(params):
        nu = moments_like(call, params, nu_dtype, real=True)
        if centered:
            return ScaleByStddevState(moments_like(call, params, mu_dtype), nu)
        return ScaleByRmsState(nu)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        check_tree(call, updates, state.nu)

        @per_dtype  # scalars once per dtype, not per leaf
        def scalars(dt):
            r = cast(rho, dt)
            return r, 1.0 - r, cast(eps, dt)

        def step(g, v, m=None):
            dt = compute_dtype(g)
            gw = g.astype(dt)
            r, one_minus_r, eps_ = scalars(real_dtype(dt))
            v_new = ema(r, one_minus_r, v, abs_sq(gw))
            if m is None:
                out = normalize(gw, v_new, eps_, eps_in_sqrt)
                return out.astype(g.dtype), v_new.astype(v.dtype)
            rc, one_minus_rc, _ = scalars(dt)
            m_new = ema(rc, one_minus_rc, m, gw)
            out = normalize(gw, v_new - abs_sq(m_new), eps_, eps_in_sqrt)
            return out.astype(g.dtype), v_new.astype(v.dtype), m_new.astype(m.dtype)

        if centered:
            out, nu, mu = map_leaves(step, 3, updates, state.nu, state.mu)
            return out, ScaleByStddevState(mu, nu)
        out, nu = map_leaves(step, 2, updates, state.nu)
        return out, ScaleByRmsState(nu)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def scale_by_rms(
    rho: Scalar = 0.99,
    eps: Scalar = 1e-8,
    *,
    eps_in_sqrt: bool = True,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """v_t = ρv_{t−1} + (1−ρ)|g_t|², output g_t / sqrt(v_t + ε) (see :func:`jopt.rmsprop`).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_rms(rho=0.75, eps=0.0)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # 2 / sqrt(0.25·4)
    Array([2.], dtype=float32)
    """
    call = "jopt.scale_by_rms"
    _check(call, rho, eps, eps_in_sqrt, None, nu_dtype)
    return _scale_by_rms(call, rho, eps, eps_in_sqrt, False, nu_dtype=nu_dtype)


def scale_by_stddev(
    rho: Scalar = 0.99,
    eps: Scalar = 1e-8,
    *,
    eps_in_sqrt: bool = True,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Centered RMSprop: m_t = ρm + (1−ρ)g, v_t = ρv + (1−ρ)|g|², output g / sqrt(v − |m|² + ε).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_stddev(rho=0.5, eps=0.0)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # 2 / sqrt(2 − 1)
    Array([2.], dtype=float32)
    """
    call = "jopt.scale_by_stddev"
    _check(call, rho, eps, eps_in_sqrt, mu_dtype, nu_dtype)
    return _scale_by_rms(call, rho, eps, eps_in_sqrt, True, mu_dtype, nu_dtype)


def rmsprop(
    learning_rate: ScalarOrSchedule,
    rho: Scalar = 0.99,
    eps: Scalar = 1e-8,
    *,
    eps_in_sqrt: bool = True,
    centered: bool = False,
    momentum: ScalarOrSchedule | None = None,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """RMSprop. The deck (the defaults): v = ρv + (1−ρ)g²,  Δθ = −α g / sqrt(v + ε).

    ``eps_in_sqrt=False`` puts ε outside, g / (sqrt(v) + ε), as PyTorch does.
    ``centered=True`` divides by sqrt(v − m̄²) with m̄ = ρm̄ + (1−ρ)g.
    ``momentum=μ`` accumulates b = μb + g/sqrt(·) and steps Δθ = −αb (PyTorch's form);
    ``None`` (the default) keeps no buffer, and μ may be a schedule ``count -> μ``.
    The deck's values are α = 0.1, ρ = 0.99, ε = 1e-8. ``mu_dtype`` stores m̄ and the
    momentum buffer, ``nu_dtype`` stores v.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.rmsprop(0.1, rho=0.75, eps=0.0)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # −0.1·2/sqrt(0.25·4)
    Array([-0.2], dtype=float32)
    """
    call = "jopt.rmsprop"
    check_learning_rate(call, learning_rate)
    _check(call, rho, eps, eps_in_sqrt, mu_dtype, nu_dtype)
    check_flag(call, "centered", centered)
    check_optional(call, "momentum", momentum, schedule=True)
    steps = [_scale_by_rms(call, rho, eps, eps_in_sqrt, centered, mu_dtype, nu_dtype)]
    if requested(momentum):
        steps.append(_scale_by_trace(call, momentum, mu_dtype=mu_dtype))
    return chain(*steps, lr_step(call, learning_rate))
