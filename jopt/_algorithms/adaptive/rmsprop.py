"""RMSprop: steps divided by a moving root mean square of the gradients."""

from __future__ import annotations

from typing import Any, NamedTuple

import optax

from jopt._algorithms.sgd.sgd import scale_by_trace
from jopt._core.chain import chain
from jopt._core.checks import (
    checked,
    flag,
    learning_rate,
    nonnegative,
    optional,
    unit_interval,
)
from jopt._core.dtypes import cast, compute_dtype, per_dtype, real_dtype
from jopt._core.elementwise import abs_sq, ema, ema_weights, normalize
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.layout import PerParam
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.moments import held, state_format, write
from jopt._core.state import check_tree, moments_like, requested
from jopt.sharding._leafwise import map_leaves

# The rules of RMSprop's direction, shared by every factory of this module.
RULES = dict(rho=unit_interval(), eps=nonnegative(), eps_in_sqrt=flag(), nu_dtype=state_format())


class ScaleByRmsState(NamedTuple):
    """RMSprop's average (:func:`jopt.scale_by_rms`).

    Args:
      nu: v, the EMA of |g|² (real).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_rms(rho=0.5)
    >>> _, state = tx.update(jnp.array([1.0, -2.0]), tx.init(jnp.zeros(2)))
    >>> state.nu  # (1 − ρ)g²
    Array([0.5, 2. ], dtype=float32)
    """

    nu: PerParam


class ScaleByStddevState(NamedTuple):
    """Centered RMSprop's averages (:func:`jopt.scale_by_stddev`).

    Args:
      mu: m̄, the EMA of g.
      nu: v, the EMA of |g|² (real).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_stddev(rho=0.5)
    >>> _, state = tx.update(jnp.array([1.0, -2.0]), tx.init(jnp.zeros(2)))
    >>> state.mu, state.nu  # (1 − ρ)g, (1 − ρ)g²
    (Array([ 0.5, -1. ], dtype=float32), Array([0.5, 2. ], dtype=float32))
    """

    mu: PerParam
    nu: PerParam


def _scale_by_rms(
    rho: Scalar,
    eps: Scalar,
    eps_in_sqrt: bool,
    centered: bool,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """v_t = ρv + (1−ρ)|g|², and with ``centered`` m_t = ρm + (1−ρ)g; g / sqrt(v − |m|² (+) ε)."""

    def init_fn(params):
        nu = moments_like(params, nu_dtype, real=True, signed=False)
        if centered:
            return ScaleByStddevState(moments_like(params, mu_dtype), nu)
        return ScaleByRmsState(nu)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        check_tree(updates, state.nu)

        @per_dtype  # scalars once per dtype, not per leaf
        def scalars(dt):
            return *ema_weights(rho, dt), cast(eps, dt)

        def step(g, v, m=None):
            v, m = held(v, g, nu_dtype, signed=False), held(m, g, mu_dtype)
            dt = compute_dtype(g)
            gw = g.astype(dt)
            r, one_minus_r, eps_ = scalars(real_dtype(dt))
            v_new = ema(r, one_minus_r, v, abs_sq(gw))
            if m is None:
                out = normalize(gw, v_new, eps_, eps_in_sqrt)
                return out.astype(g.dtype), write(v_new, v)
            rc, one_minus_rc, _ = scalars(dt)
            m_new = ema(rc, one_minus_rc, m, gw)
            out = normalize(gw, v_new - abs_sq(m_new), eps_, eps_in_sqrt)
            return out.astype(g.dtype), write(v_new, v), write(m_new, m)

        if centered:
            out, nu, mu = map_leaves(step, 3, updates, state.nu, state.mu, elementwise=True)
            return out, ScaleByStddevState(mu, nu)
        out, nu = map_leaves(step, 2, updates, state.nu, elementwise=True)
        return out, ScaleByRmsState(nu)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(**RULES)
def scale_by_rms(
    rho: Scalar = 0.99,
    eps: Scalar = 1e-8,
    *,
    eps_in_sqrt: bool = True,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """v_t = ρv_{t−1} + (1−ρ)|g_t|², output g_t / sqrt(v_t + ε) (see :func:`jopt.rmsprop`).

    Args:
      rho: ρ in [0, 1), the average's decay.
      eps: ε >= 0.
      eps_in_sqrt: ε inside the square root (the deck, Keras; the default) or outside,
        g_t / (sqrt(v_t) + ε) (PyTorch).
      nu_dtype: the dtype v is stored in (None: the dtype rule of :mod:`jopt`).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.ScaleByRmsState`.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_rms(rho=0.75, eps=0.0)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # 2 / sqrt(0.25·4)
    Array([2.], dtype=float32)
    """
    return _scale_by_rms(rho, eps, eps_in_sqrt, False, nu_dtype=nu_dtype)


@checked(**RULES, mu_dtype=state_format())
def scale_by_stddev(
    rho: Scalar = 0.99,
    eps: Scalar = 1e-8,
    *,
    eps_in_sqrt: bool = True,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Centered RMSprop: m_t = ρm + (1−ρ)g, v_t = ρv + (1−ρ)|g|², output g / sqrt(v − |m|² + ε).

    Args:
      rho: ρ in [0, 1), the averages' decay.
      eps: ε >= 0.
      eps_in_sqrt: ε inside the square root (the default) or outside (PyTorch).
      mu_dtype: the dtype m̄ is stored in.
      nu_dtype: the dtype v is stored in.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.ScaleByStddevState`.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_stddev(rho=0.5, eps=0.0)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # 2 / sqrt(2 − 1)
    Array([2.], dtype=float32)
    """
    return _scale_by_rms(rho, eps, eps_in_sqrt, True, mu_dtype, nu_dtype)


def rmsprop_steps(
    rho: Scalar,
    eps: Scalar,
    *,
    eps_in_sqrt: bool,
    centered: bool,
    momentum: ScalarOrSchedule | None = None,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> list[optax.GradientTransformation]:
    """RMSprop's steps before the learning rate, from checked arguments:
    :func:`scale_by_stddev` if ``centered``, else :func:`scale_by_rms`, then
    :func:`jopt.scale_by_trace` when a ``momentum`` is asked for (:func:`jopt.rmsprop`
    and the PyTorch and Keras presets share it)."""
    direction = (
        scale_by_stddev(rho, eps, eps_in_sqrt=eps_in_sqrt, mu_dtype=mu_dtype, nu_dtype=nu_dtype)
        if centered
        else scale_by_rms(rho, eps, eps_in_sqrt=eps_in_sqrt, nu_dtype=nu_dtype)
    )
    steps: list[optax.GradientTransformation] = [direction]
    if requested(momentum):
        steps.append(scale_by_trace(momentum, mu_dtype=mu_dtype))
    return steps


@checked(
    learning_rate=learning_rate(),
    **RULES,
    centered=flag(),
    momentum=optional(nonnegative(schedule=True)),
    mu_dtype=state_format(),
)
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
    ``None`` (the default) keeps no buffer. The deck's values are α = 0.1, ρ = 0.99,
    ε = 1e-8.

    ``chain(scale_by_rms(...)`` (``scale_by_stddev`` if centered),
    ``scale_by_trace(μ)`` if asked, ``scale_by_learning_rate(learning_rate))``.

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.
      rho: ρ in [0, 1).
      eps: ε >= 0.
      eps_in_sqrt: ε inside the square root (the deck's form, the default).
      centered: divide by the centered second moment v − m̄².
      momentum: μ >= 0, a schedule ``count -> μ``, or ``None`` (no buffer).
      mu_dtype: the dtype m̄ and the momentum buffer are stored in.
      nu_dtype: the dtype v is stored in.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.rmsprop(0.1, rho=0.75, eps=0.0)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # −0.1·2/sqrt(0.25·4)
    Array([-0.2], dtype=float32)
    """
    steps = rmsprop_steps(
        rho,
        eps,
        eps_in_sqrt=eps_in_sqrt,
        centered=centered,
        momentum=momentum,
        mu_dtype=mu_dtype,
        nu_dtype=nu_dtype,
    )
    return chain(*steps, scale_by_learning_rate(learning_rate))
