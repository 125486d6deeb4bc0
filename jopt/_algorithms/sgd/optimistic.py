"""Optimistic gradient descent and Optimistic Adam (Daskalakis et al. 2018)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._algorithms.adam.adam import (
    ScaleByAdamState,
    init_moments,
    moment_scalars,
    next_step,
)
from jopt._core.chain import chain
from jopt._core.checks import (
    UnnamedTypeError,
    checked,
    flag,
    learning_rate,
    nonnegative,
    optional,
    real,
    unit_interval,
)
from jopt._core.dtypes import cast, compute_dtype, per_dtype, real_dtype
from jopt._core.elementwise import abs_sq, ema
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.layout import PerParam
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.moments import held, state_format, write
from jopt._core.state import check_tree, moments_like, scalar, zero_count
from jopt.sharding._leafwise import map_leaves


class ScaleByOptimisticGradientState(NamedTuple):
    """The previous input of :func:`jopt.scale_by_optimistic_gradient` (optax's layout).

    Args:
      is_initial_step: bool, True until the first update.
      previous_gradient: g_{t−1} (zeros before the first update).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_optimistic_gradient()
    >>> _, state = tx.update(jnp.array([1.0, -2.0]), tx.init(jnp.zeros(2)))
    >>> state.is_initial_step, state.previous_gradient
    (Array(False, dtype=bool), Array([ 1., -2.], dtype=float32))
    """

    is_initial_step: jax.Array
    previous_gradient: PerParam


@checked(alpha=real(), beta=real(), repeat_first=flag())
def scale_by_optimistic_gradient(
    alpha: Scalar = 1.0, beta: Scalar = 1.0, *, repeat_first: bool = False
) -> optax.GradientTransformationExtraArgs:
    """The optimistic gradient u_t = (α + β) g_t − β g_{t−1}.

    α = β = 1 is Daskalakis et al.'s optimistic step 2g_t − g_{t−1}; α, β are optax's
    generalization (Mokhtari et al. 2019). Before the first update g_0 = 0 (the
    paper's zero slot: the first step is (α + β) g_1); ``repeat_first=True`` takes
    g_0 = g_1 instead, so the first step is α g_1 (optax's, since optax#1082).

    Args:
      alpha: α, the weight of the current gradient beyond the correction.
      beta: β, the weight of the correction g_t − g_{t−1}.
      repeat_first: optax's first step.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.ScaleByOptimisticGradientState`.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_optimistic_gradient()
    >>> state = tx.init(jnp.zeros(1))
    >>> u1, state = tx.update(jnp.array([1.0]), state)
    >>> u2, state = tx.update(jnp.array([3.0]), state)
    >>> u1, u2  # 2·1 − 0, 2·3 − 1
    (Array([2.], dtype=float32), Array([5.], dtype=float32))
    """

    def init_fn(params):
        return ScaleByOptimisticGradientState(
            is_initial_step=scalar(params, True, jnp.bool_),
            previous_gradient=moments_like(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        check_tree(updates, state.previous_gradient)

        @per_dtype
        def scalars(dt):
            a, b = cast(alpha, dt), cast(beta, dt)
            return a + b, b

        def step(g, prev):
            dt = compute_dtype(g)
            ab, b = scalars(dt)
            gw, pw = g.astype(dt), prev.astype(dt)
            if repeat_first:
                pw = jnp.where(state.is_initial_step, gw, pw)
            out = ab * gw - b * pw
            return out.astype(g.dtype), g.astype(prev.dtype)

        out, prev = map_leaves(step, 2, updates, state.previous_gradient, elementwise=True)
        return out, ScaleByOptimisticGradientState(jnp.zeros_like(state.is_initial_step), prev)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(
    learning_rate=learning_rate(),
    alpha=real(),
    beta=real(),
    repeat_first=flag(),
)
def optimistic_gradient_descent(
    learning_rate: ScalarOrSchedule,
    alpha: Scalar = 1.0,
    beta: Scalar = 1.0,
    *,
    repeat_first: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """Optimistic gradient descent (Daskalakis et al. 2018, "Training GANs with
    Optimism"; α, β: Mokhtari et al. 2019):

    Δθ_t = −η ((α + β) g_t − β g_{t−1}),   with α = β = 1: θ_{t+1} = θ_t − 2η g_t + η g_{t−1}.

    ``chain(scale_by_optimistic_gradient(alpha, beta), scale_by_learning_rate(η))``, as
    optax.optimistic_gradient_descent, except its first step: g_0 = 0 here (the paper's
    zero slot), optax's g_0 = g_1 with ``repeat_first=True``.

    Args:
      learning_rate: η >= 0, or a schedule ``count -> η``.
      alpha: α.
      beta: β.
      repeat_first: optax's first step (α g_1).

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.optimistic_gradient_descent(0.1)
    >>> tx.update(jnp.array([1.0, -2.0]), tx.init(jnp.zeros(2)))[0]  # −0.1·2g
    Array([-0.2,  0.4], dtype=float32)
    """
    return chain(
        scale_by_optimistic_gradient(alpha, beta, repeat_first=repeat_first),
        scale_by_learning_rate(learning_rate),
    )


# ----------------------------------------------------------------------- Optimistic Adam

ADAM_RULES = dict(
    b1=unit_interval(schedule=True),
    b2=unit_interval(),
    eps=nonnegative(),
    eps_root=nonnegative(),
    mu_dtype=state_format(),
    nesterov=flag(),
)


def _adam_ratio(
    b1: ScalarOrSchedule, b2: Scalar, eps: Scalar, eps_root: Scalar, mu_dtype: Any, nesterov: bool
) -> optax.GradientTransformationExtraArgs:
    """Adam's r_t = m̂_t / (sqrt(v̂_t + ε_root) + ε), with optax's Nesterov m̂_t
    (β1 m_t/(1−β1^{t+1}) + (1−β1) g_t/(1−β1^t)) when ``nesterov`` (checked arguments)."""

    def init_fn(params):
        mu, nu = init_moments(params, mu_dtype, None)
        return ScaleByAdamState(zero_count(params), mu, nu)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        count, b1_now = next_step(b1, state, updates)

        @per_dtype
        def scalars(dt):
            s = moment_scalars(b1_now, b2, eps, count, dt)
            rdt = real_dtype(dt)
            c1, t = cast(b1_now, rdt), count.astype(rdt)
            return s, (1.0 - c1 ** (t + 1.0)).astype(dt), cast(eps_root, rdt)

        def step(g, m, v):
            m = held(m, g, mu_dtype)
            dt = compute_dtype(g)
            s, bias1_next, root = scalars(dt)
            gw = g.astype(dt)
            m_new = ema(s.b1, s.rest1, m, gw)
            v_new = ema(s.b2, s.rest2, v, abs_sq(gw))
            if nesterov:
                m_hat = s.b1 * m_new / bias1_next + s.rest1 * gw / s.bias1
            else:
                m_hat = m_new / s.bias1
            denom = jnp.sqrt(v_new / s.bias2 + root) + s.eps
            out = m_hat / denom.astype(dt)
            return out.astype(g.dtype), write(m_new, m), v_new.astype(v.dtype)

        out, mu, nu = map_leaves(step, 3, updates, state.mu, state.nu, elementwise=True)
        return out, ScaleByAdamState(count, mu, nu)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(
    learning_rate=learning_rate(),
    optimism=optional(real()),
    **ADAM_RULES,
    repeat_first=flag(),
)
def optimistic_adam(
    learning_rate: ScalarOrSchedule,
    optimism: Scalar | None = None,
    b1: ScalarOrSchedule = 0.9,
    b2: Scalar = 0.999,
    eps: Scalar = 1e-8,
    eps_root: Scalar = 0.0,
    mu_dtype: Any | None = None,
    *,
    nesterov: bool = False,
    repeat_first: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """Optimistic Adam (Daskalakis et al. 2018, "Training GANs with Optimism",
    Algorithm 1):

    r_t = m̂_t / (sqrt(v̂_t + ε_root) + ε)   (Adam's bias-corrected moments),
    Δθ_t = −η r_t − o (r_t − r_{t−1}),   o = η by default: θ_{t+1} = θ_t − 2η r_t + η r_{t−1}.

    r_0 = 0 (the paper's zero slot). optax.optimistic_adam is ``nesterov=True,
    repeat_first=True`` (its Adam's Nesterov m̂ and first step −η r_1). With ``optimism``
    None, ``chain(<Adam's r_t>, scale_by_optimistic_gradient(1, 1),
    scale_by_learning_rate(η))`` (η may be a schedule); with an ``optimism`` o, the
    optimistic step takes α = η, β = o and η must be a number (as optax's).

    Args:
      learning_rate: η >= 0 (a schedule only without ``optimism``).
      optimism: o, or ``None`` (= η, the paper's).
      b1: β1 in [0, 1), or a schedule ``count -> β1`` (the bias correction then uses
        the current β1, 1 − β1_t^t, as :func:`jopt.adam`).
      b2: β2 in [0, 1).
      eps: ε >= 0.
      eps_root: ε_root >= 0, inside the square root (optax's; 0 in the paper).
      mu_dtype: the dtype m is stored in.
      nesterov: optax's Nesterov first moment.
      repeat_first: optax's first step (r_0 = r_1).

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.optimistic_adam(0.1)
    >>> tx.update(jnp.array([1.0, -2.0]), tx.init(jnp.zeros(2)))[0]  # −2η·sign(g)
    Array([-0.2,  0.2], dtype=float32)
    """
    ratio = _adam_ratio(b1, b2, eps, eps_root, mu_dtype, nesterov)
    if optimism is None:
        return chain(
            ratio,
            scale_by_optimistic_gradient(1.0, 1.0, repeat_first=repeat_first),
            scale_by_learning_rate(learning_rate),
        )
    if callable(learning_rate):
        raise UnnamedTypeError(
            "learning_rate is a schedule and optimism a number; a schedule needs "
            "optimism=None (o = η at every step)."
        )
    return chain(
        ratio,
        scale_by_optimistic_gradient(learning_rate, optimism, repeat_first=repeat_first),
        scale_by_learning_rate(1.0),
    )
