"""ACProp (Zhuang et al. 2021): AdaBelief's centered second moment, applied one step
late (asynchronously), as optax.contrib implements it."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import optax

from jopt._algorithms.adam.adabelief import ScaleByBeliefState
from jopt._algorithms.adam.adam import init_moments, next_step
from jopt._algorithms.regularization.weight_decay import MASK, add_decayed_weights
from jopt._core.chain import chain
from jopt._core.checks import checked, learning_rate, nonnegative, unit_interval
from jopt._core.dtypes import cast, compute_dtype, per_dtype, real_dtype, stored
from jopt._core.elementwise import abs_sq, ema, ema_weights
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.state import zero_count
from jopt.sharding._leafwise import map_leaves

RULES = dict(
    b1=unit_interval(schedule=True), b2=unit_interval(), eps=nonnegative(), eps_root=nonnegative()
)


@checked(**RULES)
def scale_by_acprop(
    b1: ScalarOrSchedule = 0.9, b2: Scalar = 0.999, eps: Scalar = 1e-16, eps_root: Scalar = 1e-16
) -> optax.GradientTransformationExtraArgs:
    """ACProp's direction g_t / (sqrt(ŝ_{t−1}) + ε) (see :func:`jopt.acprop`).

    m_t = β1 m_{t−1} + (1−β1) g_t,
    s_t = β2 s_{t−1} + (1−β2)(g_t − m_{t−1})² + ε_root,
    ŝ_{t−1} = s_{t−1}/(1−β2^{t−1}) (1 at the first step).

    Args:
      b1: β1 in [0, 1), or a schedule ``count -> β1``, the decay of m (the prediction of g).
      b2: β2 in [0, 1), the decay of s.
      eps: ε >= 0, added to the root.
      eps_root: ε_root >= 0, added to s at every step.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.ScaleByBeliefState`.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_acprop(eps=0.0)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # first step: g
    Array([ 0.5, -2. ], dtype=float32)
    """

    def init_fn(params):
        mu, nu = init_moments(params, None, None)
        return ScaleByBeliefState(zero_count(params), mu, nu)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        count, b1_now = next_step(b1, state, updates)
        initial = state.count == 0

        @per_dtype  # scalars once per dtype, not per leaf
        def scalars(dt):
            rdt = real_dtype(dt)
            (c1, r1), (c2, r2) = ema_weights(b1_now, dt), ema_weights(b2, rdt)
            bias_prev = 1.0 - c2 ** state.count.astype(rdt)  # 1 − β2^{t−1}
            return c1, r1, c2, r2, bias_prev, cast(eps, rdt), cast(eps_root, rdt)

        def step(g, m, v):
            dt = compute_dtype(g)
            c1, r1, c2, r2, bias_prev, e, root = scalars(dt)
            gw = g.astype(dt)
            v_old = v.astype(real_dtype(dt))
            s_hat = jnp.where(initial, 1.0, v_old / jnp.where(initial, 1.0, bias_prev))
            out = gw / (jnp.sqrt(s_hat) + e).astype(dt)
            error = abs_sq(gw - m.astype(dt))
            v_new = stored(ema(c2, r2, v, error) + root, v.dtype)
            m_new = ema(c1, r1, m, gw)
            return out.astype(g.dtype), m_new.astype(m.dtype), v_new.astype(v.dtype)

        out, mu, nu = map_leaves(step, 3, updates, state.mu, state.nu, elementwise=True)
        return out, ScaleByBeliefState(count, mu, nu)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(learning_rate=learning_rate(), **RULES, weight_decay=nonnegative(schedule=True), mask=MASK)
def acprop(
    learning_rate: ScalarOrSchedule = 1e-3,
    b1: ScalarOrSchedule = 0.9,
    b2: Scalar = 0.999,
    eps: Scalar = 1e-16,
    eps_root: Scalar = 1e-16,
    weight_decay: ScalarOrSchedule = 0.0,
    mask: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """ACProp (Zhuang et al. 2021, "Momentum Centering and Asynchronous Update for
    Adaptive Gradient Methods"), as ``optax.contrib.acprop`` computes it.

    Δθ = −α (g_t / (sqrt(ŝ_{t−1}) + ε) + λθ), with AdaBelief's centered s (the
    denominator of step t uses s up to step t − 1: :func:`jopt.scale_by_acprop`).

    ``chain(scale_by_acprop(...), add_decayed_weights(λ, mask),
    scale_by_learning_rate(learning_rate))``, optax's arguments and defaults (α = 1e-3
    added, the authors' experiments' rate). No reference package implements ACProp;
    the formula is optax's code (its docstring writes the error as g_t − m_t, its code
    uses m_{t−1}; jopt follows the code), checked here in NumPy and against optax.

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.
      b1: β1 in [0, 1), or a schedule ``count -> β1``.
      b2: β2 in [0, 1).
      eps: ε >= 0.
      eps_root: ε_root >= 0.
      weight_decay: λ >= 0, or a schedule.
      mask: a pytree of bools, or a function ``params -> pytree``, picking the leaves
        that decay.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.acprop(0.1)
    >>> params = jnp.zeros(2)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(params), params)[0]  # first step: −α g
    Array([-0.05,  0.2 ], dtype=float32)
    """
    return chain(
        scale_by_acprop(b1, b2, eps, eps_root),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
