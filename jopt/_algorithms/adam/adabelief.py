"""AdaBelief (Zhuang et al. 2020): Adam with the variance of the gradient's prediction
error, (g − m)², in place of g²."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._algorithms.adam.adam import init_moments, moment_scalars, next_step
from jopt._algorithms.regularization.weight_decay import MASK, optional_decay
from jopt._core.chain import chain
from jopt._core.checks import (
    checked,
    flag,
    learning_rate,
    nonnegative,
    optional,
    unit_interval,
)
from jopt._core.dtypes import cast, compute_dtype, per_dtype, real_dtype, stored
from jopt._core.elementwise import abs_sq, ema
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.layout import PerParam
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.moments import held, state_format, write
from jopt._core.state import zero_count
from jopt.sharding._leafwise import map_leaves

RULES = dict(
    b1=unit_interval(schedule=True),
    b2=unit_interval(),
    eps=nonnegative(),
    eps_root=nonnegative(),
    nesterov=flag(),
    rectify=flag(),
    threshold=nonnegative(),
    degenerated_to_sgd=flag(),
    mu_dtype=state_format(),
    nu_dtype=state_format(),
)


class ScaleByBeliefState(NamedTuple):
    """AdaBelief's moments (:func:`jopt.scale_by_belief`), optax's layout.

    Args:
      count: int32, steps taken.
      mu: the first moment m.
      nu: s, the moving average of the squared prediction error (g − m)², plus ε_root
        (real).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_belief(b1=0.5, b2=0.5, eps_root=0.0)
    >>> _, state = tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))
    >>> state.mu, state.nu  # m = (1 − β1)g = 1, s = (1 − β2)(g − m)² = 0.5
    (Array([1.], dtype=float32), Array([0.5], dtype=float32))
    """

    count: jax.Array
    mu: PerParam
    nu: PerParam


def _rectification(b2: Scalar, threshold: Scalar, count: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(ρ_t >= threshold, r_t) at step t = ``count``, in the widest float, as the
    reference computes them (``>=``: RAdam's own test is ``>``)."""
    wide = jnp.result_type(float)
    c2, t = cast(b2, wide), count.astype(wide)
    rho_inf = 2.0 / (1.0 - c2) - 1.0
    rho_t = rho_inf - 2.0 * t * c2**t / (1.0 - c2**t)
    on = rho_t >= cast(threshold, wide)
    ratio = (rho_t - 4.0) / (rho_inf - 4.0) * (rho_t - 2.0) / rho_t * rho_inf / (rho_inf - 2.0)
    return on, jnp.sqrt(jnp.where(on, ratio, 1.0))


@checked(**RULES)
def scale_by_belief(
    b1: ScalarOrSchedule = 0.9,
    b2: Scalar = 0.999,
    eps: Scalar = 1e-16,
    eps_root: Scalar = 1e-16,
    *,
    nesterov: bool = False,
    rectify: bool = False,
    threshold: Scalar = 5.0,
    degenerated_to_sgd: bool = True,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """AdaBelief's direction m̂_t / (sqrt(ŝ_t) + ε) (see :func:`jopt.adabelief`).

    m_t = β1 m_{t−1} + (1−β1) g_t,  s_t = β2 s_{t−1} + (1−β2)(g_t − m_t)² + ε_root,
    m̂_t = m_t/(1−β1^t),  ŝ_t = s_t/(1−β2^t).

    With ``nesterov=True`` (optax's option) m̂_t = β1 m_t/(1−β1^{t+1}) + (1−β1) g_t/(1−β1^t).

    With ``rectify=True`` (the authors' package's default since adabelief-pytorch 0.2.0,
    pytorch_optimizer's ``rectify=True``), RAdam's rectification:
    r_t sqrt(1−β2^t) m̂_t / (sqrt(s_t) + ε) once ρ_t >= ``threshold``, before that m̂_t
    (``degenerated_to_sgd``) or no move; ρ_t and r_t as in :func:`jopt.radam`.

    Args:
      b1: β1 in [0, 1), or a schedule ``count -> β1``, the first moment's decay.
      b2: β2 in [0, 1), the decay of s.
      eps: ε >= 0, added to sqrt(ŝ_t).
      eps_root: ε_root >= 0, added to s_t at every step (the paper's ε inside s).
      nesterov: Nesterov's momentum, as optax's ``scale_by_belief(nesterov=True)``.
      rectify: RAdam's rectification (the reference's ``rectify=True``).
      threshold: ρ_t >= ``threshold`` turns the rectified step on (the reference's
        ``n_sma_threshold``).
      degenerated_to_sgd: before that, step by m̂_t (else: no move).
      mu_dtype: the dtype m is stored in (None: the dtype rule of :mod:`jopt`).
      nu_dtype: the dtype s is stored in.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.ScaleByBeliefState`.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_belief(eps=0.0, eps_root=0.0)
    >>> g = jnp.array([0.5, -2.0])  # first step: m̂ = g, ŝ = (g − (1−β1)g)² = β1²g²
    >>> tx.update(g, tx.init(jnp.zeros(2)))[0]  # sign(g)/β1
    Array([ 1.1111112, -1.1111112], dtype=float32)
    """

    def init_fn(params):
        mu, nu = init_moments(params, mu_dtype, nu_dtype)
        return ScaleByBeliefState(zero_count(params), mu, nu)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        count, b1_now = next_step(b1, state, updates)
        rect = None if not rectify else _rectification(b2, threshold, count)

        @per_dtype  # scalars once per dtype, not per leaf
        def scalars(dt):
            s = moment_scalars(b1_now, b2, eps, count, dt)
            c1, t = cast(b1_now, real_dtype(dt)), count.astype(real_dtype(dt))
            next_bias1 = (1.0 - c1 ** (t + 1.0)).astype(dt)  # Nesterov's 1 − β1^{t+1}
            if rect is None:
                return s, cast(eps_root, real_dtype(dt)), next_bias1, None
            on, r = rect
            return s, cast(eps_root, real_dtype(dt)), next_bias1, (on, r.astype(dt))

        def step(g, m, v):
            m, v = held(m, g, mu_dtype), held(v, g, nu_dtype, signed=False)
            dt = compute_dtype(g)
            s, root, next_bias1, rect_now = scalars(dt)
            gw = g.astype(dt)
            m_new = ema(s.b1, s.rest1, m, gw)
            error = abs_sq(gw - m_new)
            v_new = stored(ema(s.b2, s.rest2, v, error) + root, v.dtype)
            if nesterov:
                m_hat = s.b1 * m_new / next_bias1 + s.rest1 * gw / s.bias1
            else:
                m_hat = m_new / s.bias1
            if rect_now is None:
                out = m_hat / (jnp.sqrt(v_new / s.bias2) + s.eps).astype(dt)
            else:  # the reference's rectified step: sqrt(1 − β2^t) m̂/(sqrt(s) + ε)
                on, r = rect_now
                scale = (r * jnp.sqrt(s.bias2).astype(dt)) / (jnp.sqrt(v_new) + s.eps).astype(dt)
                early = m_hat if degenerated_to_sgd else jnp.zeros_like(m_hat)
                out = jnp.where(on, scale * m_hat, early)
            return out.astype(g.dtype), write(m_new, m), write(v_new, v)

        out, mu, nu = map_leaves(step, 3, updates, state.mu, state.nu, elementwise=True)
        return out, ScaleByBeliefState(count, mu, nu)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(
    learning_rate=learning_rate(),
    **RULES,
    weight_decay=optional(nonnegative(schedule=True)),
    mask=MASK,
)
def adabelief(
    learning_rate: ScalarOrSchedule = 1e-3,
    b1: ScalarOrSchedule = 0.9,
    b2: Scalar = 0.999,
    eps: Scalar = 1e-16,
    eps_root: Scalar = 1e-16,
    *,
    nesterov: bool = False,
    rectify: bool = False,
    threshold: Scalar = 5.0,
    degenerated_to_sgd: bool = True,
    weight_decay: ScalarOrSchedule | None = None,
    mask: Any | None = None,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """AdaBelief (Zhuang et al. 2020, "AdaBelief Optimizer: Adapting Stepsizes by the
    Belief in Observed Gradients", Algorithm 2).

    m_t = β1 m_{t−1} + (1−β1) g_t,  s_t = β2 s_{t−1} + (1−β2)(g_t − m_t)² + ε,
    Δθ = −α (m̂_t / (sqrt(ŝ_t) + ε) + λθ),  m̂_t = m_t/(1−β1^t), ŝ_t = s_t/(1−β2^t).

    ``chain(scale_by_belief(b1, b2, eps, eps_root), add_decayed_weights(λ, mask),
    scale_by_learning_rate(learning_rate))``. Defaults are the paper's and the reference
    package's (pytorch_optimizer's ``AdaBelief``: α = 1e-3, β = (0.9, 0.999), ε = 1e-16
    both inside s and outside the root, no rectification, decoupled decay off); they are
    also optax's, so ``jopt.adabelief`` is ``optax.adabelief`` step for step. The decay is
    decoupled, as the reference's default ``weight_decouple=True``. The authors' package
    (adabelief-pytorch >= 0.2.0) rectifies by default: ``rectify=True`` (its ``ams_bound``
    variant is not built here).

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.
      b1: β1 in [0, 1), or a schedule ``count -> β1``.
      b2: β2 in [0, 1).
      eps: ε >= 0 outside the square root.
      eps_root: ε_root >= 0 added to s_t (the paper's ε inside s).
      nesterov: Nesterov's momentum (optax's option).
      rectify: RAdam's rectification (the authors' package's default since 0.2.0).
      threshold: ρ_t >= ``threshold`` turns the rectified step on.
      degenerated_to_sgd: before that, step by m̂_t (else: no move).
      weight_decay: λ >= 0, or a schedule; ``None`` (the default): off.
      mask: a pytree of bools, or a function ``params -> pytree``, picking the leaves
        that decay.
      mu_dtype: the dtype m is stored in.
      nu_dtype: the dtype s is stored in.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.adabelief(0.1, eps=0.0, eps_root=0.0)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # first step: −α·sign(g)/β1
    Array([-0.11111112,  0.11111112], dtype=float32)
    """
    return chain(
        scale_by_belief(
            b1,
            b2,
            eps,
            eps_root,
            nesterov=nesterov,
            rectify=rectify,
            threshold=threshold,
            degenerated_to_sgd=degenerated_to_sgd,
            mu_dtype=mu_dtype,
            nu_dtype=nu_dtype,
        ),
        *optional_decay(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
