"""Adamax: Adam with the infinity norm in place of the second moment."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._algorithms.adam.adam import MOMENT_RULES, init_moments, moment_scalars, next_step
from jopt._algorithms.regularization.weight_decay import MASK, add_decayed_weights
from jopt._core.chain import chain
from jopt._core.checks import checked, flag, learning_rate, nonnegative
from jopt._core.dtypes import compute_dtype, per_dtype, stored
from jopt._core.elementwise import ema
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.layout import PerParam
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.moments import held, state_format, write
from jopt._core.state import zero_count
from jopt.sharding._leafwise import map_leaves

RULES = {k: v for k, v in MOMENT_RULES.items() if k != "eps_in_sqrt"} | dict(eps_in_max=flag())


class ScaleByAdamaxState(NamedTuple):
    """Adamax's state (:func:`jopt.scale_by_adamax`).

    Args:
      count: int32, steps taken.
      mu: the first moment m.
      nu: the exponentially weighted infinity norm u (real).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_adamax(b1=0.5)
    >>> _, state = tx.update(jnp.array([1.0, -2.0]), tx.init(jnp.zeros(2)))
    >>> state.mu, state.nu  # (1 − β1)g, max(β2·0, |g| + ε)
    (Array([ 0.5, -1. ], dtype=float32), Array([1., 2.], dtype=float32))
    """

    count: jax.Array
    mu: PerParam
    nu: PerParam


@checked(**RULES)
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
    u_t + ε.

    Args:
      b1: β1 in [0, 1), or a schedule ``count -> β1``.
      b2: β2 in [0, 1).
      eps: ε >= 0.
      eps_in_max: u_t = max(β2 u_{t−1}, |g_t| + ε) (PyTorch, optax) or ε added to u_t
        after the max (Keras).
      mu_dtype: the dtype m is stored in.
      nu_dtype: the dtype u is stored in.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.ScaleByAdamaxState`.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_adamax(eps=0.0)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # m̂_1/u_1 = sign(g)
    Array([ 1., -1.], dtype=float32)
    """

    def init_fn(params):
        mu, nu = init_moments(params, mu_dtype, nu_dtype)
        return ScaleByAdamaxState(zero_count(params), mu, nu)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        count, b1_now = next_step(b1, state, updates)
        # scalars once per dtype, not per leaf
        scalars = per_dtype(lambda dt: moment_scalars(b1_now, b2, eps, count, dt))

        def step(g, m, u):
            m, u = held(m, g, mu_dtype), held(u, g, nu_dtype, signed=False)
            dt = compute_dtype(g)
            s = scalars(dt)
            gw = g.astype(dt)
            m_new = ema(s.b1, s.rest1, m, gw)
            size = jnp.abs(gw)  # |g|, real
            # u_t = max(β2 u, |g| + ε) (PyTorch, optax), or max(β2 u, |g|) and u_t + ε (Keras)
            size = size + s.eps if eps_in_max else size
            u_new = stored(jnp.maximum(s.b2 * u.astype(size.dtype), size), u.dtype)
            denom = u_new if eps_in_max else u_new + s.eps
            out = m_new / (s.bias1 * denom.astype(dt))
            return out.astype(g.dtype), write(m_new, m), write(u_new, u)

        out, mu, nu = map_leaves(step, 3, updates, state.mu, state.nu, elementwise=True)
        return out, ScaleByAdamaxState(count, mu, nu)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(learning_rate=learning_rate(), **RULES)
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

    ``chain(scale_by_adamax(...), scale_by_learning_rate(learning_rate))``. Defaults are
    the paper's α = 2e-3, β1 = 0.9, β2 = 0.999; the paper has no ε (``eps=0``); ε = 1e-8
    inside the max is PyTorch's and optax's. u is real for complex leaves (|g| the modulus).

    Args:
      learning_rate: α >= 0, or a schedule.
      b1: β1 in [0, 1), or a schedule ``count -> β1``.
      b2: β2 in [0, 1).
      eps: ε >= 0.
      eps_in_max: ε inside the max (PyTorch, optax) or added after it (Keras).
      mu_dtype: the dtype m is stored in.
      nu_dtype: the dtype u is stored in.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.adamax(0.1)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # first step: −α·sign(g)
    Array([-0.1,  0.1], dtype=float32)
    """
    return chain(
        scale_by_adamax(b1, b2, eps, eps_in_max=eps_in_max, mu_dtype=mu_dtype, nu_dtype=nu_dtype),
        scale_by_learning_rate(learning_rate),
    )


@checked(
    learning_rate=learning_rate(),
    **{k: v for k, v in RULES.items() if k not in ("eps_in_max", "nu_dtype")},
    weight_decay=nonnegative(schedule=True),
    mask=MASK,
    eps_in_max=flag(),
    nu_dtype=state_format(),
)
def adamaxw(
    learning_rate: ScalarOrSchedule = 2e-3,
    b1: ScalarOrSchedule = 0.9,
    b2: Scalar = 0.999,
    eps: Scalar = 1e-8,
    weight_decay: ScalarOrSchedule = 1e-4,
    mask: Any | None = None,
    *,
    eps_in_max: bool = True,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """AdamaxW: Adamax with AdamW's decoupled weight decay (optax's ``adamaxw``).

    m_t = β1 m_{t−1} + (1−β1)g_t,  u_t = max(β2 u_{t−1}, |g_t| + ε),
    Δθ = −α (m_t/((1−β1^t) u_t) + λθ).

    ``chain(scale_by_adamax(...), add_decayed_weights(λ, mask),
    scale_by_learning_rate(α))``, optax's arguments; Adamax's α = 2e-3 of the paper
    (optax needs α given) and optax's λ = 1e-4, so with α given it is ``optax.adamaxw``
    step for step.

    Args:
      learning_rate: α >= 0, or a schedule.
      b1: β1 in [0, 1), or a schedule ``count -> β1``.
      b2: β2 in [0, 1).
      eps: ε >= 0.
      weight_decay: λ >= 0, or a schedule ``count -> λ``.
      mask: a pytree of bools, or a function ``params -> pytree``, picking the leaves
        that decay.
      eps_in_max: ε inside the max (PyTorch, optax) or added after it (Keras).
      mu_dtype: the dtype m is stored in.
      nu_dtype: the dtype u is stored in.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.adamaxw(0.1, weight_decay=0.5)
    >>> params = jnp.array([2.0])
    >>> tx.update(jnp.array([1.0]), tx.init(params), params)[0]  # −0.1·(1 + 0.5·2)
    Array([-0.2], dtype=float32)
    """
    return chain(
        scale_by_adamax(b1, b2, eps, eps_in_max=eps_in_max, mu_dtype=mu_dtype, nu_dtype=nu_dtype),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
