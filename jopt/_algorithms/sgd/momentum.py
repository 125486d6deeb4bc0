"""The deck's momentum methods: steepest descent, Momentum and Nesterov's accelerated gradient.

The deck writes momentum as an exponential moving average of the step,
Δθ_t = βΔθ_{t−1} − (1−β)α∇E(θ_t). For a constant α that is −α times the EMA
m_t = βm_{t−1} + (1−β)∇E, which is what the primitives hold; with a schedule the
whole buffer is scaled by the current α (PyTorch's convention, not Keras').
"""

from __future__ import annotations

from typing import Any, NamedTuple

import optax

from jopt._core.chain import chain
from jopt._core.checks import checked, learning_rate, unit_interval
from jopt._core.dtypes import compute_dtype, per_dtype
from jopt._core.elementwise import ema, ema_weights
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.layout import PerParam
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.moments import held, state_format, write
from jopt._core.state import check_tree, moments_like
from jopt.sharding._leafwise import map_leaves


class ScaleByMomentumState(NamedTuple):
    """The deck's momentum (:func:`jopt.scale_by_momentum`, :func:`jopt.scale_by_nesterov`).

    Args:
      mu: the EMA m of the gradients.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_momentum(0.5)
    >>> _, state = tx.update(jnp.array([1.0, -2.0]), tx.init(jnp.zeros(2)))
    >>> state.mu  # (1 − β)g
    Array([ 0.5, -1. ], dtype=float32)
    """

    mu: PerParam


def _scale_by_ema(
    beta: Scalar, mu_dtype: Any | None, nesterov: bool
) -> optax.GradientTransformationExtraArgs:
    """m_t = βm_{t−1} + (1−β)g_t; outputs m_t, or βm_t + (1−β)g_t (``nesterov``)."""

    def init_fn(params):
        return ScaleByMomentumState(mu=moments_like(params, mu_dtype))

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        check_tree(updates, state.mu)

        scalars = per_dtype(lambda dt: ema_weights(beta, dt))  # once per dtype, not per leaf

        def step(g, m):
            m = held(m, g, mu_dtype)
            dt = compute_dtype(g)
            b, one_minus_b = scalars(dt)
            gw = g.astype(dt)
            m_new = ema(b, one_minus_b, m, gw)
            out = b * m_new + one_minus_b * gw if nesterov else m_new
            return out.astype(g.dtype), write(m_new, m)

        out, mu = map_leaves(step, 2, updates, state.mu, elementwise=True)
        return out, ScaleByMomentumState(mu=mu)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(beta=unit_interval(), mu_dtype=state_format())
def scale_by_momentum(
    beta: Scalar = 0.9, *, mu_dtype: Any | None = None
) -> optax.GradientTransformationExtraArgs:
    """The deck's averaged momentum direction m_t = βm_{t−1} + (1−β)g_t: (1−β)× optax's trace.

    optax's ``trace`` and PyTorch's buffer sum b_t = βb_{t−1} + g_t without the (1−β),
    so at the same rate this direction is (1−β) times theirs (10× smaller at β = 0.9);
    see :func:`jopt.momentum`. The math runs in float32 or wider.

    Args:
      beta: β in [0, 1), the average's decay.
      mu_dtype: the dtype m is stored in (e.g. ``jnp.bfloat16``; None: the dtype rule
        of :mod:`jopt`).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.ScaleByMomentumState`.

    >>> import jax.numpy as jnp, optax, jopt
    >>> tx, trace = jopt.scale_by_momentum(0.9), optax.trace(0.9)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # (1 − 0.9)·2
    Array([0.2], dtype=float32)
    >>> trace.update(jnp.array([2.0]), trace.init(jnp.zeros(1)))[0]  # 10× more
    Array([2.], dtype=float32)
    """
    return _scale_by_ema(beta, mu_dtype, nesterov=False)


@checked(beta=unit_interval(), mu_dtype=state_format())
def scale_by_nesterov(
    beta: Scalar = 0.9, *, mu_dtype: Any | None = None
) -> optax.GradientTransformationExtraArgs:
    """The deck's averaged NAG direction βm_t + (1−β)g_t: (1−β)× optax's Nesterov trace.

    See :func:`jopt.nesterov` for the derivation.

    Args:
      beta: β in [0, 1), the average's decay.
      mu_dtype: the dtype m is stored in.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.ScaleByMomentumState`.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_nesterov(0.5)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # m=1, 0.5*1 + 0.5*2
    Array([1.5], dtype=float32)
    """
    return _scale_by_ema(beta, mu_dtype, nesterov=True)


@checked(learning_rate=learning_rate())
def gd(learning_rate: ScalarOrSchedule) -> optax.GradientTransformationExtraArgs:
    """Steepest descent, the deck's first algorithm.

    θ^(t+1) = θ^(t) + Δθ^(t),  Δθ^(t) = −α∇E(θ^(t)).

    Fed mini-batch gradients (:func:`jopt.minibatch_indices`) it is mini-batch SGD;
    with batch size 1 it is online SGD. Given ``params``, ``update`` checks that the
    gradients have their structure. ``chain(scale_by_learning_rate(learning_rate))``.

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.

    Returns:
      An ``optax.GradientTransformationExtraArgs``: the state is the learning-rate
      step's, in a one-element chain.

    >>> import jax.numpy as jnp, optax, jopt
    >>> tx = jopt.gd(0.1)
    >>> params = jnp.array([1.0, 2.0])
    >>> updates, state = tx.update(2 * params, tx.init(params))  # ∇E of |θ|²
    >>> optax.apply_updates(params, updates)
    Array([0.8, 1.6], dtype=float32)
    """
    return chain(scale_by_learning_rate(learning_rate))


@checked(learning_rate=learning_rate(), beta=unit_interval(), mu_dtype=state_format())
def momentum(
    learning_rate: ScalarOrSchedule, beta: Scalar = 0.9, *, mu_dtype: Any | None = None
) -> optax.GradientTransformationExtraArgs:
    """The deck's averaged Momentum: at the same α it moves (1−β)× as far as ``sgd(momentum=β)``.

    Δθ_t = βΔθ_{t−1} − (1−β)α∇E(θ_t), β ∈ [0, 1); β = 0 is steepest descent. Written as
    m_t = βm_{t−1} + (1−β)∇E(θ_t), Δθ_t = −αm_t, which is the deck's form exactly for a
    constant α. PyTorch's ``SGD(momentum=β)``, ``optax.sgd(momentum=β)`` and
    :func:`jopt.sgd` sum without the (1−β): ``jopt.momentum(α/(1−β), β)`` equals
    ``jopt.sgd(α, momentum=β)``.

    ``chain(scale_by_momentum(beta), scale_by_learning_rate(learning_rate))``.

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α`` (it scales the whole buffer).
      beta: β in [0, 1).
      mu_dtype: the dtype m is stored in.

    Returns:
      An ``optax.GradientTransformationExtraArgs``: the state is
      ``(ScaleByMomentumState, ScaleByLearningRateState)``.

    >>> import jax.numpy as jnp, optax, jopt
    >>> tx = jopt.momentum(0.1, beta=0.5)
    >>> params = jnp.array([1.0])
    >>> state = tx.init(params)
    >>> u1, state = tx.update(jnp.array([1.0]), state)  # Δθ_1 = −0.5·0.1·1
    >>> u2, state = tx.update(jnp.array([1.0]), state)  # Δθ_2 = 0.5Δθ_1 − 0.05
    >>> u1, u2
    (Array([-0.05], dtype=float32), Array([-0.075], dtype=float32))
    >>> sgd = jopt.sgd(0.1, momentum=0.5)  # no (1−β): twice the step here
    >>> sgd.update(jnp.array([1.0]), sgd.init(params))[0]
    Array([-0.1], dtype=float32)
    """
    return chain(scale_by_momentum(beta, mu_dtype=mu_dtype), scale_by_learning_rate(learning_rate))


@checked(learning_rate=learning_rate(), beta=unit_interval(), mu_dtype=state_format())
def nesterov(
    learning_rate: ScalarOrSchedule, beta: Scalar = 0.9, *, mu_dtype: Any | None = None
) -> optax.GradientTransformationExtraArgs:
    """The deck's averaged NAG: at the same α it moves (1−β)× as far as ``sgd(nesterov=True)``.

    Deck form (the gradient is taken at the look-ahead point)::

        Δθ_t = βΔθ_{t−1} − (1−β)α∇E(θ_t + βΔθ_{t−1}),   θ_{t+1} = θ_t + Δθ_t

    A gradient transformation only sees ∇E at the parameters it is handed, so the
    parameters it maintains are the look-ahead iterate φ_t = θ_t + βΔθ_{t−1}
    (Sutskever et al. 2013). Then ∇E(φ_t) is the deck's look-ahead gradient and
    φ_{t+1} = φ_t + βΔθ_t − (1−β)α∇E(φ_t): with m the EMA of ∇E(φ),
    the update is −α(βm_t + (1−β)∇E(φ_t)). θ_t is recovered as φ_t − βΔθ_{t−1}; at
    convergence (Δθ → 0) both coincide. The test suite checks φ_t against the
    deck's form step by step on a quadratic. ``jopt.nesterov(α/(1−β), β)`` equals
    ``jopt.sgd(α, momentum=β, nesterov=True)``.

    ``chain(scale_by_nesterov(beta), scale_by_learning_rate(learning_rate))``.

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.
      beta: β in [0, 1).
      mu_dtype: the dtype m is stored in.

    Returns:
      An ``optax.GradientTransformationExtraArgs``: the state is
      ``(ScaleByMomentumState, ScaleByLearningRateState)``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.nesterov(0.1, beta=0.5)
    >>> tx.update(jnp.array([1.0]), tx.init(jnp.zeros(1)))[0]  # −0.1·(0.5·0.5 + 0.5)
    Array([-0.075], dtype=float32)
    >>> sgd = jopt.sgd(0.1, momentum=0.5, nesterov=True)  # −0.1·(1 + 0.5·1): twice
    >>> sgd.update(jnp.array([1.0]), sgd.init(jnp.zeros(1)))[0]
    Array([-0.15], dtype=float32)
    """
    return chain(scale_by_nesterov(beta, mu_dtype=mu_dtype), scale_by_learning_rate(learning_rate))
