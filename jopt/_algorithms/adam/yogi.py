"""Yogi (Zaheer et al. 2018): Adam whose second moment moves additively, by the sign of
v − g², so the effective rate cannot grow quickly."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import optax

from jopt._algorithms.adam.adam import ScaleByAdamState, moment_scalars, next_step
from jopt._algorithms.regularization.weight_decay import MASK, optional_decay
from jopt._core.chain import chain
from jopt._core.checks import checked, learning_rate, nonnegative, optional, unit_interval
from jopt._core.dtypes import cast, compute_dtype, per_dtype, real_dtype, stored
from jopt._core.elementwise import abs_sq, ema
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.moments import held, state_format, write
from jopt._core.state import moments_like, zero_count
from jopt.sharding._leafwise import map_leaves

RULES = dict(
    b1=unit_interval(schedule=True),
    b2=unit_interval(),
    eps=nonnegative(),
    eps_root=nonnegative(),
    initial_accumulator_value=nonnegative(),
    mu_dtype=state_format(),
    nu_dtype=state_format(),
)


@checked(**RULES)
def scale_by_yogi(
    b1: ScalarOrSchedule = 0.9,
    b2: Scalar = 0.999,
    eps: Scalar = 1e-3,
    eps_root: Scalar = 0.0,
    initial_accumulator_value: Scalar = 1e-6,
    *,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Yogi's direction m̂_t / (sqrt(v̂_t + ε_root) + ε) (see :func:`jopt.yogi`).

    m_t = β1 m_{t−1} + (1−β1) g_t,  v_t = v_{t−1} − (1−β2) sign(v_{t−1} − |g_t|²) |g_t|²,
    m̂_t = m_t/(1−β1^t),  v̂_t = v_t/(1−β2^t);  m_0 = v_0 = ``initial_accumulator_value``.

    Args:
      b1: β1 in [0, 1), or a schedule ``count -> β1``, the first moment's decay.
      b2: β2 in [0, 1), the second moment's rate.
      eps: ε >= 0, added to the root.
      eps_root: ε_root >= 0, added under the root (optax's argument).
      initial_accumulator_value: m_0 = v_0 >= 0 (both, as the reference and optax).
      mu_dtype: the dtype m is stored in (None: the dtype rule of :mod:`jopt`).
      nu_dtype: the dtype v is stored in.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.ScaleByAdamState` (optax's layout for Yogi).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_yogi(b1=0.0, b2=0.75, eps=0.0, initial_accumulator_value=0.0)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # v̂_1 = 0.25·4/0.25 = g²
    Array([1.], dtype=float32)
    """

    def init_fn(params):
        fill = initial_accumulator_value
        mu = moments_like(params, mu_dtype, fill=fill)
        nu = moments_like(params, nu_dtype, fill=fill, real=True, signed=False)
        return ScaleByAdamState(zero_count(params), mu, nu)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        count, b1_now = next_step(b1, state, updates)

        @per_dtype  # scalars once per dtype, not per leaf
        def scalars(dt):
            return moment_scalars(b1_now, b2, eps, count, dt), cast(eps_root, real_dtype(dt))

        def step(g, m, v):
            m, v = held(m, g, mu_dtype), held(v, g, nu_dtype, signed=False)
            dt = compute_dtype(g)
            s, root = scalars(dt)
            gw = g.astype(dt)
            m_new = ema(s.b1, s.rest1, m, gw)
            g2 = abs_sq(gw)
            v_old = v.astype(g2.dtype)
            v_new = stored(v_old - s.rest2 * jnp.sign(v_old - g2) * g2, v.dtype)
            denom = jnp.sqrt(v_new / s.bias2 + root) + s.eps
            out = (m_new / s.bias1) / denom.astype(dt)
            return out.astype(g.dtype), write(m_new, m), write(v_new, v)

        out, mu, nu = map_leaves(step, 3, updates, state.mu, state.nu, elementwise=True)
        return out, ScaleByAdamState(count, mu, nu)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(
    learning_rate=learning_rate(),
    b1=unit_interval(schedule=True),
    b2=unit_interval(),
    eps=nonnegative(),
    initial_accumulator_value=nonnegative(),
    weight_decay=optional(nonnegative(schedule=True)),
    mask=MASK,
    mu_dtype=state_format(),
    nu_dtype=state_format(),
)
def yogi(
    learning_rate: ScalarOrSchedule = 1e-2,
    b1: ScalarOrSchedule = 0.9,
    b2: Scalar = 0.999,
    eps: Scalar = 1e-3,
    *,
    initial_accumulator_value: Scalar = 1e-6,
    weight_decay: ScalarOrSchedule | None = None,
    mask: Any | None = None,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Yogi (Zaheer et al. 2018, "Adaptive Methods for Nonconvex Optimization").

    v_t = v_{t−1} − (1−β2) sign(v_{t−1} − g_t²) g_t²  (Adam's is v_{t−1} − (1−β2)(v_{t−1} − g_t²)),
    Δθ = −α (m̂_t / (sqrt(v̂_t) + ε) + λθ).

    ``chain(scale_by_yogi(b1, b2, eps, 0, initial_accumulator_value),
    add_decayed_weights(λ, mask), scale_by_learning_rate(learning_rate))``. Defaults are
    the paper's (α = 1e-2, β = (0.9, 0.999), ε = 1e-3, v_0 = 1e-6) and the reference
    package's (pytorch_optimizer's ``Yogi``, which also starts m at 1e-6 and
    bias-corrects both moments); they are optax's too, so ``jopt.yogi`` is ``optax.yogi``
    step for step. The decay is decoupled, as the reference's ``weight_decouple=True``.

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.
      b1: β1 in [0, 1), or a schedule ``count -> β1``.
      b2: β2 in [0, 1).
      eps: ε >= 0.
      initial_accumulator_value: m_0 = v_0 >= 0.
      weight_decay: λ >= 0, or a schedule; ``None`` (the default): off.
      mask: a pytree of bools, or a function ``params -> pytree``, picking the leaves
        that decay.
      mu_dtype: the dtype m is stored in.
      nu_dtype: the dtype v is stored in.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.yogi(0.1, b1=0.0, b2=0.75, eps=0.0, initial_accumulator_value=0.0)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # first step: −α·sign(g)
    Array([-0.1,  0.1], dtype=float32)
    """
    return chain(
        scale_by_yogi(
            b1, b2, eps, 0.0, initial_accumulator_value, mu_dtype=mu_dtype, nu_dtype=nu_dtype
        ),
        *optional_decay(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
