"""The deck's momentum methods: steepest descent, Momentum and Nesterov's accelerated gradient.

The deck writes momentum as an exponential moving average of the step,
Δθ_t = βΔθ_{t−1} − (1−β)α∇E(θ_t). For a constant α that is −α times the EMA
m_t = βm_{t−1} + (1−β)∇E, which is what the primitives hold; with a schedule the
whole buffer is scaled by the current α (PyTorch's convention, not Keras').
"""

from __future__ import annotations

from typing import Any, NamedTuple

import optax

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
from jopt._validation import check_learning_rate, check_range


class ScaleByMomentumState(NamedTuple):
    mu: Any  # EMA of the gradients, one leaf per parameter


def _check_beta(call: str, beta: Scalar) -> None:
    check_range(call, "beta", beta, 0.0, 1.0, hi_open=True)


def _ema_leaf(beta, nesterov):
    @per_dtype  # scalars once per dtype, not per leaf
    def scalars(dt):
        b = cast(beta, dt)
        return b, 1.0 - b

    def step(g, m):
        dt = compute_dtype(g)
        b, one_minus_b = scalars(dt)
        m_new = stored(b * m.astype(dt) + one_minus_b * g.astype(dt), m.dtype)
        out = b * m_new + one_minus_b * g.astype(dt) if nesterov else m_new
        return out.astype(g.dtype), m_new.astype(m.dtype)

    return step


def _ema_transform(call: str, beta: Scalar, mu_dtype: Any | None, nesterov: bool):
    _check_beta(call, beta)

    def init_fn(params):
        return ScaleByMomentumState(mu=zeros_like(params, mu_dtype))

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        check_tree(call, updates, state.mu)
        out, mu = map_leaves(_ema_leaf(beta, nesterov), 2, updates, state.mu)
        return out, ScaleByMomentumState(mu=mu)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def scale_by_momentum(
    beta: Scalar = 0.9, *, mu_dtype: Any | None = None
) -> optax.GradientTransformationExtraArgs:
    """The deck's momentum direction m_t = βm_{t−1} + (1−β)g_t (see :func:`jopt.momentum`).

    ``mu_dtype`` stores m in another dtype (e.g. ``jnp.bfloat16``); the math runs in float32
    or wider.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_momentum(0.5)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]
    Array([1.], dtype=float32)
    """
    return _ema_transform("jopt.scale_by_momentum", beta, mu_dtype, nesterov=False)


def scale_by_nesterov(
    beta: Scalar = 0.9, *, mu_dtype: Any | None = None
) -> optax.GradientTransformationExtraArgs:
    """The deck's NAG direction on the look-ahead iterate, βm_t + (1−β)g_t.

    See :func:`jopt.nesterov` for the derivation.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_nesterov(0.5)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # m=1, 0.5*1 + 0.5*2
    Array([1.5], dtype=float32)
    """
    return _ema_transform("jopt.scale_by_nesterov", beta, mu_dtype, nesterov=True)


def gd(learning_rate: ScalarOrSchedule) -> optax.GradientTransformationExtraArgs:
    """Steepest descent, the deck's first algorithm.

    θ^(t+1) = θ^(t) + Δθ^(t),  Δθ^(t) = −α∇E(θ^(t)).

    Fed mini-batch gradients (:func:`jopt.minibatch_indices`) it is mini-batch SGD;
    with batch size 1 it is online SGD.

    >>> import jax.numpy as jnp, optax, jopt
    >>> tx = jopt.gd(0.1)
    >>> params = jnp.array([1.0, 2.0])
    >>> updates, state = tx.update(2 * params, tx.init(params))  # ∇E of |θ|²
    >>> optax.apply_updates(params, updates)
    Array([0.8, 1.6], dtype=float32)
    """
    check_learning_rate("jopt.gd", learning_rate)
    return scale_by_learning_rate(learning_rate)


def momentum(
    learning_rate: ScalarOrSchedule, beta: Scalar = 0.9, *, mu_dtype: Any | None = None
) -> optax.GradientTransformationExtraArgs:
    """The deck's Momentum: Δθ_t = βΔθ_{t−1} − (1−β)α∇E(θ_t), β ∈ [0, 1).

    β = 0 is steepest descent. Written as m_t = βm_{t−1} + (1−β)∇E(θ_t),
    Δθ_t = −αm_t, which is the deck's form exactly for a constant α. This is the
    EMA form; PyTorch's ``SGD(momentum=β)`` sums without the (1−β) (use :func:`jopt.sgd`).

    >>> import jax.numpy as jnp, optax, jopt
    >>> tx = jopt.momentum(0.1, beta=0.5)
    >>> params = jnp.array([1.0])
    >>> state = tx.init(params)
    >>> u1, state = tx.update(jnp.array([1.0]), state)  # Δθ_1 = −0.5·0.1·1
    >>> u2, state = tx.update(jnp.array([1.0]), state)  # Δθ_2 = 0.5Δθ_1 − 0.05
    >>> u1, u2
    (Array([-0.05], dtype=float32), Array([-0.075], dtype=float32))
    """
    check_learning_rate("jopt.momentum", learning_rate)
    _check_beta("jopt.momentum", beta)
    return optax.chain(
        scale_by_momentum(beta, mu_dtype=mu_dtype), scale_by_learning_rate(learning_rate)
    )


def nesterov(
    learning_rate: ScalarOrSchedule, beta: Scalar = 0.9, *, mu_dtype: Any | None = None
) -> optax.GradientTransformationExtraArgs:
    """The deck's Nesterov accelerated gradient (NAG).

    Deck form (the gradient is taken at the look-ahead point)::

        Δθ_t = βΔθ_{t−1} − (1−β)α∇E(θ_t + βΔθ_{t−1}),   θ_{t+1} = θ_t + Δθ_t

    A gradient transformation only sees ∇E at the parameters it is handed, so the
    parameters it maintains are the look-ahead iterate φ_t = θ_t + βΔθ_{t−1}
    (Sutskever et al. 2013). Then ∇E(φ_t) is the deck's look-ahead gradient and
    φ_{t+1} = φ_t + βΔθ_t − (1−β)α∇E(φ_t): with m the EMA of ∇E(φ),
    the update is −α(βm_t + (1−β)∇E(φ_t)). θ_t is recovered as φ_t − βΔθ_{t−1}; at
    convergence (Δθ → 0) both coincide. The test suite checks φ_t against the
    deck's form step by step on a quadratic.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.nesterov(0.1, beta=0.5)
    >>> tx.update(jnp.array([1.0]), tx.init(jnp.zeros(1)))[0]  # −0.1·(0.5·0.5 + 0.5)
    Array([-0.075], dtype=float32)
    """
    check_learning_rate("jopt.nesterov", learning_rate)
    _check_beta("jopt.nesterov", beta)
    return optax.chain(
        scale_by_nesterov(beta, mu_dtype=mu_dtype), scale_by_learning_rate(learning_rate)
    )
