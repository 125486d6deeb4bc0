"""RMSprop: steps divided by a moving root mean square of the gradients."""

from __future__ import annotations

from typing import Any, NamedTuple

import optax

from jopt._adagrad import normalize
from jopt._base import (
    Scalar,
    ScalarOrSchedule,
    cast,
    check_tree,
    compute_dtype,
    map_leaves,
    per_dtype,
    scale_by_learning_rate,
    stored,
    zeros_like,
)
from jopt._sgd import _is_python_zero, scale_by_trace
from jopt._validation import check_learning_rate, check_nonnegative, check_range


class ScaleByRmsState(NamedTuple):
    nu: Any  # EMA of g²


class ScaleByStddevState(NamedTuple):
    mu: Any  # EMA of g
    nu: Any  # EMA of g²


def _check(call: str, rho: Scalar, eps: Scalar) -> None:
    check_range(call, "rho", rho, 0.0, 1.0, hi_open=True)
    check_nonnegative(call, "eps", eps)


def _rho_scalars(rho, eps):
    def make(dt):
        r = cast(rho, dt)
        return r, 1.0 - r, cast(eps, dt)

    return make


def scale_by_rms(
    rho: Scalar = 0.99,
    eps: Scalar = 1e-8,
    *,
    eps_in_sqrt: bool = True,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """v_t = ρv_{t−1} + (1−ρ)g_t², output g_t / sqrt(v_t + ε) (see :func:`jopt.rmsprop`).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_rms(rho=0.75, eps=0.0)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # 2 / sqrt(0.25·4)
    Array([2.], dtype=float32)
    """
    call = "jopt.scale_by_rms"
    _check(call, rho, eps)

    def init_fn(params):
        return ScaleByRmsState(zeros_like(params, nu_dtype))

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        check_tree(call, updates, state.nu)
        scalars = per_dtype(_rho_scalars(rho, eps))

        def step(g, v):
            dt = compute_dtype(g)
            r, one_minus_r, eps_ = scalars(dt)
            g32 = g.astype(dt)
            v_new = stored(r * v.astype(dt) + one_minus_r * (g32 * g32), v.dtype)
            out = normalize(g32, v_new, eps_, eps_in_sqrt)
            return out.astype(g.dtype), v_new.astype(v.dtype)

        out, nu = map_leaves(step, 2, updates, state.nu)
        return out, ScaleByRmsState(nu)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def scale_by_stddev(
    rho: Scalar = 0.99,
    eps: Scalar = 1e-8,
    *,
    eps_in_sqrt: bool = True,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Centered RMSprop: m_t = ρm + (1−ρ)g, v_t = ρv + (1−ρ)g², output g / sqrt(v − m² + ε).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_stddev(rho=0.5, eps=0.0)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # 2 / sqrt(2 − 1)
    Array([2.], dtype=float32)
    """
    call = "jopt.scale_by_stddev"
    _check(call, rho, eps)

    def init_fn(params):
        return ScaleByStddevState(zeros_like(params, mu_dtype), zeros_like(params, nu_dtype))

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        check_tree(call, updates, state.nu)
        scalars = per_dtype(_rho_scalars(rho, eps))

        def step(g, m, v):
            dt = compute_dtype(g)
            r, one_minus_r, eps_ = scalars(dt)
            g32 = g.astype(dt)
            m_new = stored(r * m.astype(dt) + one_minus_r * g32, m.dtype)
            v_new = stored(r * v.astype(dt) + one_minus_r * (g32 * g32), v.dtype)
            out = normalize(g32, v_new - m_new * m_new, eps_, eps_in_sqrt)
            return out.astype(g.dtype), m_new.astype(m.dtype), v_new.astype(v.dtype)

        out, mu, nu = map_leaves(step, 3, updates, state.mu, state.nu)
        return out, ScaleByStddevState(mu, nu)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def rmsprop(
    learning_rate: ScalarOrSchedule,
    rho: Scalar = 0.99,
    eps: Scalar = 1e-8,
    *,
    eps_in_sqrt: bool = True,
    centered: bool = False,
    momentum: Scalar = 0.0,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """RMSprop. The deck (the defaults): v = ρv + (1−ρ)g²,  Δθ = −α g / sqrt(v + ε).

    ``eps_in_sqrt=False`` puts ε outside, g / (sqrt(v) + ε), as PyTorch does.
    ``centered=True`` divides by sqrt(v − m̄²) with m̄ = ρm̄ + (1−ρ)g.
    ``momentum=μ`` accumulates b = μb + g/sqrt(·) and steps Δθ = −αb (PyTorch's form).
    The deck's values are α = 0.1, ρ = 0.99, ε = 1e-8. ``mu_dtype`` stores m̄ and the
    momentum buffer, ``nu_dtype`` stores v.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.rmsprop(0.1, rho=0.75, eps=0.0)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # −0.1·2/sqrt(0.25·4)
    Array([-0.2], dtype=float32)
    """
    call = "jopt.rmsprop"
    check_learning_rate(call, learning_rate)
    _check(call, rho, eps)
    check_nonnegative(call, "momentum", momentum)
    if centered:
        first = scale_by_stddev(
            rho, eps, eps_in_sqrt=eps_in_sqrt, mu_dtype=mu_dtype, nu_dtype=nu_dtype
        )
    else:
        first = scale_by_rms(rho, eps, eps_in_sqrt=eps_in_sqrt, nu_dtype=nu_dtype)
    steps = [first]
    if not _is_python_zero(momentum):
        steps.append(scale_by_trace(momentum, mu_dtype=mu_dtype))
    steps.append(scale_by_learning_rate(learning_rate))
    return optax.chain(*steps)
