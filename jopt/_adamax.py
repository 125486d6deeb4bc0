"""Adamax: Adam with the infinity norm in place of the second moment."""

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
    stored,
    zero_count,
)
from jopt._base import _scale_by_learning_rate as lr_step
from jopt._math import ema
from jopt._validation import check_flag, check_learning_rate


class ScaleByAdamaxState(NamedTuple):
    count: jax.Array  # int32, steps taken
    mu: Any  # first moment m
    nu: Any  # exponentially weighted infinity norm u (real)


def check_adamax(call: str, b1, b2, eps, *, eps_in_max=True, **options) -> None:
    """Adam's β1 (or a schedule), β2, ε and state dtypes (``options``), and the flag."""
    check_adam(call, b1, b2, eps, **options)
    check_flag(call, "eps_in_max", eps_in_max)


def _scale_by_adamax(
    call: str,
    b1: ScalarOrSchedule,
    b2: Scalar,
    eps: Scalar,
    eps_in_max: bool = True,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    def init_fn(params):
        mu = moments_like(call, params, mu_dtype)
        nu = moments_like(call, params, nu_dtype, real=True)
        return ScaleByAdamaxState(count=zero_count(params), mu=mu, nu=nu)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        check_tree(call, updates, state.mu)
        count = increment(state.count)
        b1_now = evaluate(b1, state.count)

        @per_dtype  # scalars once per dtype, not per leaf
        def scalars(dt):
            rdt = real_dtype(dt)
            c1 = cast(b1_now, rdt)
            return dict(
                c1=c1.astype(dt),
                rest1=(1.0 - c1).astype(dt),
                bias1=(1.0 - c1 ** count.astype(rdt)).astype(dt),
                c2=cast(b2, rdt),
                eps=cast(eps, rdt),
            )

        def step(g, m, u):
            dt = compute_dtype(g)
            s = scalars(dt)
            gw = g.astype(dt)
            m_new = ema(s["c1"], s["rest1"], m, gw)
            size = jnp.abs(gw)  # |g|, real
            # u_t = max(β2 u, |g| + ε) (PyTorch, optax), or max(β2 u, |g|) and u_t + ε (Keras)
            size = size + s["eps"] if eps_in_max else size
            u_new = stored(jnp.maximum(s["c2"] * u.astype(size.dtype), size), u.dtype)
            denom = u_new if eps_in_max else u_new + s["eps"]
            out = m_new / (s["bias1"] * denom.astype(dt))
            return out.astype(g.dtype), m_new.astype(m.dtype), u_new.astype(u.dtype)

        out, mu, nu = map_leaves(step, 3, updates, state.mu, state.nu)
        return out, ScaleByAdamaxState(count=count, mu=mu, nu=nu)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def scale_by_adamax(
    b1: ScalarOrSchedule = 0.9,
    b2: Scalar = 0.999,
    eps: Scalar = 1e-8,
    *,
    eps_in_max: bool = True,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Adamax's direction m_t / ((1−β1^t) u_t) (see :func:`jopt.adamax`).

    ``eps_in_max=False`` is Keras' placement: u_t = max(β2 u_{t−1}, |g_t|), divided by
    u_t + ε. ``b1`` may be a schedule ``count -> β1``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_adamax(eps=0.0)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # m̂_1/u_1 = sign(g)
    Array([ 1., -1.], dtype=float32)
    """
    call = "jopt.scale_by_adamax"
    options: dict[str, Any] = dict(eps_in_max=eps_in_max, mu_dtype=mu_dtype, nu_dtype=nu_dtype)
    check_adamax(call, b1, b2, eps, **options)
    return _scale_by_adamax(call, b1, b2, eps, **options)


def adamax(
    learning_rate: ScalarOrSchedule = 2e-3,
    b1: ScalarOrSchedule = 0.9,
    b2: Scalar = 0.999,
    eps: Scalar = 1e-8,
    *,
    eps_in_max: bool = True,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Adamax (Kingma & Ba 2015, Algorithm 2): Adam with the infinity norm.

    m_t = β1 m_{t−1} + (1−β1)g_t,  u_t = max(β2 u_{t−1}, |g_t| + ε);
    Δθ = −α/(1−β1^t) · m_t/u_t.

    Defaults are the paper's α = 2e-3, β1 = 0.9, β2 = 0.999; the paper has no ε
    (``eps=0``); ε = 1e-8 inside the max is PyTorch's and optax's. ``eps_in_max=False``
    divides by u_t + ε instead, with u_t = max(β2 u_{t−1}, |g_t|) (Keras). ``b1`` may be
    a schedule ``count -> β1``; u is real for complex leaves (|g| the modulus).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.adamax(0.1)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # first step: −α·sign(g)
    Array([-0.1,  0.1], dtype=float32)
    """
    call = "jopt.adamax"
    check_learning_rate(call, learning_rate)
    options: dict[str, Any] = dict(eps_in_max=eps_in_max, mu_dtype=mu_dtype, nu_dtype=nu_dtype)
    check_adamax(call, b1, b2, eps, **options)
    return chain(_scale_by_adamax(call, b1, b2, eps, **options), lr_step(call, learning_rate))
