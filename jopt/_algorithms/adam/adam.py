"""Adam, AMSGrad and AdamW: the one home of Adam's moment math."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._algorithms.regularization.weight_decay import add_decayed_weights
from jopt._core.chain import chain
from jopt._core.checks import (
    checked,
    flag,
    learning_rate,
    nonnegative,
    unchecked,
    unit_interval,
)
from jopt._core.dtypes import cast, compute_dtype, per_dtype, real_dtype, stored
from jopt._core.elementwise import abs_sq, ema, ema_weights, normalize
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.layout import PerParam
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.moments import held, state_format, write
from jopt._core.state import check_tree, evaluate, increment, moments_like, zero_count
from jopt.sharding._leafwise import map_leaves


class ScaleByAdamState(NamedTuple):
    """Adam's moments (:func:`jopt.scale_by_adam`).

    Args:
      count: int32, steps taken.
      mu: the first moment m.
      nu: the second moment v (real: an average of |g|²).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_adam(b1=0.5, b2=0.75)
    >>> _, state = tx.update(jnp.array([1.0, -2.0]), tx.init(jnp.zeros(2)))
    >>> state.count
    Array(1, dtype=int32)
    >>> state.mu, state.nu  # (1 − β1)g, (1 − β2)g²
    (Array([ 0.5, -1. ], dtype=float32), Array([0.25, 1.  ], dtype=float32))
    """

    count: jax.Array
    mu: PerParam
    nu: PerParam


class ScaleByAmsgradState(NamedTuple):
    """Adam's state and the running max of the raw v (PyTorch's and Keras' AMSGrad,
    :func:`jopt.scale_by_amsgrad`).

    Args:
      count: int32, steps taken.
      mu: the first moment m.
      nu: the second moment v (real).
      nu_max: the running max of v.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_amsgrad(b2=0.5)
    >>> state = tx.init(jnp.zeros(1))
    >>> for g in (2.0, 0.0):  # v: 2, then 1; its max stays 2
    ...     _, state = tx.update(jnp.array([g]), state)
    >>> state.nu, state.nu_max
    (Array([1.], dtype=float32), Array([2.], dtype=float32))
    """

    count: jax.Array
    mu: PerParam
    nu: PerParam
    nu_max: PerParam


# The rules of Adam's direction, shared by every factory of this module.
MOMENT_RULES = dict(
    b1=unit_interval(schedule=True),
    b2=unit_interval(),
    eps=nonnegative(),
    eps_in_sqrt=flag(),
    mu_dtype=state_format(),
    nu_dtype=state_format(),
)


def rectification(b2: Scalar, threshold: Scalar, count: jax.Array) -> tuple[jax.Array, jax.Array]:
    """RAdam's (ρ_t > threshold, r_t) at step t = ``count``, computed as PyTorch does.

    ρ_∞ = 2/(1−β2) − 1,  ρ_t = ρ_∞ − 2tβ2^t/(1−β2^t),
    r_t = sqrt((ρ_t−4)(ρ_t−2)ρ_∞ / ((ρ_∞−4)(ρ_∞−2)ρ_t)).

    In the widest float available (float64 under x64, as PyTorch's Python floats), so
    float32 and float64 leaves take the same branch; r_t is 1 where the test fails.
    """
    wide = jnp.result_type(float)
    c2, t = cast(b2, wide), count.astype(wide)
    rho_inf = 2.0 / (1.0 - c2) - 1.0
    rho_t = rho_inf - 2.0 * t * c2**t / (1.0 - c2**t)
    on = rho_t > cast(threshold, wide)
    ratio = (rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)
    return on, jnp.sqrt(jnp.where(on, ratio, 1.0))


class MomentScalars(NamedTuple):
    """Adam's per-dtype scalars of one update at step t: m's in the compute dtype, v's
    real (:func:`moment_scalars`)."""

    b1: jax.Array
    rest1: jax.Array  # 1 − β1
    bias1: jax.Array  # 1 − β1^t
    b2: jax.Array
    rest2: jax.Array  # 1 − β2
    bias2: jax.Array  # 1 − β2^t
    eps: jax.Array


def moment_scalars(
    b1: Any, b2: Scalar, eps: Scalar, count: jax.Array, dt: jnp.dtype
) -> MomentScalars:
    """The :class:`MomentScalars` of step t = ``count`` for leaves computed in ``dt``
    (``b1`` already evaluated): the scalars of every Adam-family moment update."""
    rdt = real_dtype(dt)
    (c1, rest1), (c2, rest2), t = ema_weights(b1, rdt), ema_weights(b2, rdt), count.astype(rdt)
    return MomentScalars(
        b1=c1.astype(dt),
        rest1=rest1.astype(dt),
        bias1=(1.0 - c1**t).astype(dt),
        b2=c2,
        rest2=rest2,
        bias2=1.0 - c2**t,
        eps=cast(eps, rdt),
    )


def init_moments(params: Any, mu_dtype: Any | None, nu_dtype: Any | None) -> tuple[Any, Any]:
    """New zero moments of ``params``: m (a complex leaf's is complex) and the real v."""
    return moments_like(params, mu_dtype), moments_like(params, nu_dtype, real=True, signed=False)


def next_step(b1: ScalarOrSchedule, state: Any, updates: Any) -> tuple[jax.Array, Any]:
    """Checks ``updates`` against ``state.mu``; returns the step t = ``state.count`` + 1
    and β1 for it (a schedule evaluated at the updates already applied)."""
    check_tree(updates, state.mu)
    return increment(state.count), evaluate(b1, state.count, "the b1 schedule")


def ema_moments(
    s: MomentScalars, g: jax.Array, m: jax.Array, v: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """m_t = β1 m + (1−β1) g and v_t = β2 v + (1−β2)|g|² from ``g`` in the compute dtype,
    each rounded as it is stored (``ema``)."""
    return ema(s.b1, s.rest1, m, g), ema(s.b2, s.rest2, v, abs_sq(g))


def adam_moments(
    b1: ScalarOrSchedule,
    b2: Scalar,
    eps: Scalar,
    *,
    amsgrad: bool = False,
    eps_in_sqrt: bool = False,
    eps_hat: bool = False,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
    rectify_threshold: Scalar | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Adam's transform, AMSGrad's (the same moments plus v_max) or RAdam's (the step
    rectified, ``rectify_threshold``), from checked arguments: the builder
    :func:`scale_by_adam`, :func:`scale_by_amsgrad` and :func:`jopt.scale_by_radam` share.

    ``b1`` may be a schedule ``count -> β1`` evaluated at the updates already applied; the
    bias correction then uses the current β1, 1 − β1_t^t, as PyTorch does.
    """

    def init_fn(params):
        mu, nu = init_moments(params, mu_dtype, nu_dtype)
        if amsgrad:
            nu_max = moments_like(params, nu_dtype, real=True, signed=False)
            return ScaleByAmsgradState(zero_count(params), mu, nu, nu_max)
        return ScaleByAdamState(zero_count(params), mu, nu)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        count, b1_now = next_step(b1, state, updates)
        rectified = (
            None if rectify_threshold is None else rectification(b2, rectify_threshold, count)
        )

        @per_dtype  # scalars once per dtype, not per leaf
        def scalars(dt):
            s = moment_scalars(b1_now, b2, eps, count, dt)
            if eps_hat:  # ε added to the uncorrected v (Keras): rescale it like v̂
                s = s._replace(eps=s.eps / (s.bias2 if eps_in_sqrt else jnp.sqrt(s.bias2)))
            return s, None if rectified is None else rectified[1].astype(dt)

        def step(g, m, v, v_max=None):
            m, v = held(m, g, mu_dtype), held(v, g, nu_dtype, signed=False)
            v_max = held(v_max, g, nu_dtype, signed=False)
            dt = compute_dtype(g)
            s, rect = scalars(dt)
            m_new, v_new = ema_moments(s, g.astype(dt), m, v)
            v_used = (
                v_new
                if v_max is None
                else stored(jnp.maximum(v_max.astype(v_new.dtype), v_new), v_max.dtype)
            )
            out = normalize(m_new / s.bias1, v_used / s.bias2, s.eps, eps_in_sqrt)
            if rectified is not None:  # RAdam: r_t·(Adam's step) once ρ_t > threshold, else m̂_t
                out = jnp.where(rectified[0], rect * out, m_new / s.bias1)
            new = (out.astype(g.dtype), write(m_new, m), write(v_new, v))
            return new if v_max is None else (*new, write(v_used, v_max))

        if amsgrad:
            out, mu, nu, nu_max = map_leaves(
                step, 4, updates, state.mu, state.nu, state.nu_max, elementwise=True
            )
            return out, ScaleByAmsgradState(count, mu, nu, nu_max)
        out, mu, nu = map_leaves(step, 3, updates, state.mu, state.nu, elementwise=True)
        return out, ScaleByAdamState(count, mu, nu)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(**MOMENT_RULES, eps_hat=flag())
def scale_by_adam(
    b1: ScalarOrSchedule = 0.9,
    b2: Scalar = 0.999,
    eps: Scalar = 1e-8,
    *,
    eps_in_sqrt: bool = False,
    eps_hat: bool = False,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Adam's direction m̂_t / (sqrt(v̂_t) + ε) (see :func:`jopt.adam`).

    ``eps_hat=True`` adds ε to the uncorrected moment, as Keras does ("epsilon hat"):
    m̂_t / (sqrt(v̂_t) + ε/sqrt(1−β2^t)), i.e. θ ← θ − α_t m_t / (sqrt(v_t) + ε) with
    α_t = α sqrt(1−β2^t)/(1−β1^t); with ``eps_in_sqrt`` it is m̂_t / sqrt(v̂_t + ε/(1−β2^t)).

    Args:
      b1: β1 in [0, 1), the first moment's decay, or a schedule ``count -> β1``.
      b2: β2 in [0, 1), the second moment's decay.
      eps: ε >= 0, added to the denominator.
      eps_in_sqrt: put ε inside the square root, sqrt(v̂_t + ε) (the deck's form).
      eps_hat: add ε to the uncorrected moment (Keras' form).
      mu_dtype: the dtype m is stored in (None: the dtype rule of :mod:`jopt`).
      nu_dtype: the dtype v is stored in.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.ScaleByAdamState`.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_adam(eps=0.0)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # m̂/sqrt(v̂) = sign(g)
    Array([ 1., -1.], dtype=float32)
    >>> tx = jopt.scale_by_adam(b2=0.75, eps=1.0, eps_hat=True)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # 2 / (2 + 1/sqrt(0.25))
    Array([0.5], dtype=float32)
    """
    return adam_moments(
        b1,
        b2,
        eps,
        eps_in_sqrt=eps_in_sqrt,
        eps_hat=eps_hat,
        mu_dtype=mu_dtype,
        nu_dtype=nu_dtype,
    )


@checked(**MOMENT_RULES, eps_hat=flag())
def scale_by_amsgrad(
    b1: ScalarOrSchedule = 0.9,
    b2: Scalar = 0.999,
    eps: Scalar = 1e-8,
    *,
    eps_in_sqrt: bool = False,
    eps_hat: bool = False,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """AMSGrad: Adam with v̂ built from v_max,t = max(v_max,t−1, v_t) over the raw v.

    This is PyTorch's and Keras' rule (the bias correction divides the running max).

    Args:
      b1: β1 in [0, 1), or a schedule ``count -> β1``.
      b2: β2 in [0, 1).
      eps: ε >= 0.
      eps_in_sqrt: ε inside the square root.
      eps_hat: ε added to the uncorrected moment, as :func:`jopt.scale_by_adam`.
      mu_dtype: the dtype m is stored in.
      nu_dtype: the dtype v and v_max are stored in.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.ScaleByAmsgradState`.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_amsgrad(eps=0.0)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]
    Array([1.], dtype=float32)
    """
    return adam_moments(
        b1,
        b2,
        eps,
        amsgrad=True,
        eps_in_sqrt=eps_in_sqrt,
        eps_hat=eps_hat,
        mu_dtype=mu_dtype,
        nu_dtype=nu_dtype,
    )


def adam_direction(
    b1: ScalarOrSchedule, b2: Scalar, eps: Scalar, *, amsgrad: bool = False, **options: Any
) -> optax.GradientTransformationExtraArgs:
    """:func:`scale_by_amsgrad` if ``amsgrad``, else :func:`scale_by_adam`, with their
    keyword ``options``, from checked arguments (:func:`jopt.adam`, :func:`jopt.adamw` and
    the PyTorch and Keras presets)."""
    return (scale_by_amsgrad if amsgrad else scale_by_adam)(b1, b2, eps, **options)


@checked(learning_rate=learning_rate(), **MOMENT_RULES, amsgrad=flag())
def adam(
    learning_rate: ScalarOrSchedule = 1e-3,
    b1: ScalarOrSchedule = 0.9,
    b2: Scalar = 0.999,
    eps: Scalar = 1e-8,
    *,
    eps_in_sqrt: bool = False,
    amsgrad: bool = False,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Adam (Kingma & Ba 2015).

    m_t = β1 m_{t−1} + (1−β1)g_t,  v_t = β2 v_{t−1} + (1−β2)g_t²,
    m̂_t = m_t/(1−β1^t),  v̂_t = v_t/(1−β2^t),
    Δθ = −α m̂_t / (sqrt(v̂_t) + ε)        (the paper, PyTorch, optax: the default)
    Δθ = −α m̂_t / sqrt(v̂_t + ε)          (the deck: ``eps_in_sqrt=True``)

    ``chain(scale_by_adam(b1, b2, eps), scale_by_learning_rate(learning_rate))``
    (:func:`jopt.scale_by_amsgrad` with ``amsgrad=True``). Defaults are the paper's.
    Unlike optax.adam, it is clean under ``jax_numpy_dtype_promotion="strict"``.

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.
      b1: β1 in [0, 1), or a schedule ``count -> β1``.
      b2: β2 in [0, 1).
      eps: ε >= 0.
      eps_in_sqrt: ε inside the square root (the deck's form).
      amsgrad: use the running max of the raw v_t (PyTorch's AMSGrad).
      mu_dtype: the dtype m is stored in.
      nu_dtype: the dtype v is stored in.

    Returns:
      An ``optax.GradientTransformationExtraArgs``: the state is
      ``(ScaleByAdamState, ScaleByLearningRateState)``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.adam(0.1)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # first step: −α·sign(g)
    Array([-0.1,  0.1], dtype=float32)
    """
    direction = adam_direction(
        b1, b2, eps, amsgrad=amsgrad, eps_in_sqrt=eps_in_sqrt, mu_dtype=mu_dtype, nu_dtype=nu_dtype
    )
    return chain(direction, scale_by_learning_rate(learning_rate))


@checked(
    learning_rate=learning_rate(),
    **MOMENT_RULES,
    weight_decay=nonnegative(schedule=True),
    mask=unchecked("a tree of bools or a function of the params, as optax.masked's"),
    amsgrad=flag(),
)
def adamw(
    learning_rate: ScalarOrSchedule = 1e-3,
    b1: ScalarOrSchedule = 0.9,
    b2: Scalar = 0.999,
    eps: Scalar = 1e-8,
    weight_decay: ScalarOrSchedule = 1e-2,
    *,
    mask: Any | None = None,
    eps_in_sqrt: bool = False,
    amsgrad: bool = False,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay λ.

    Δθ = −α (m̂_t / (sqrt(v̂_t) + ε) + λθ), the same as PyTorch's θ ← θ(1 − αλ) followed by
    the Adam step: ``chain(scale_by_adam(...), add_decayed_weights(λ, mask),
    scale_by_learning_rate(α))``.

    Args:
      learning_rate: α >= 0, or a schedule.
      b1: β1 in [0, 1), or a schedule.
      b2: β2 in [0, 1).
      eps: ε >= 0.
      weight_decay: λ >= 0, or a schedule ``count -> λ`` (PyTorch's default 1e-2).
      mask: a pytree of bools, or a function ``params -> pytree``, picking the leaves
        that decay.
      eps_in_sqrt: ε inside the square root.
      amsgrad: AMSGrad's running max.
      mu_dtype: the dtype m is stored in.
      nu_dtype: the dtype v is stored in.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.adamw(0.1, weight_decay=0.5)
    >>> params = jnp.array([2.0])
    >>> tx.update(jnp.array([1.0]), tx.init(params), params)[0]  # −0.1·(1 + 0.5·2)
    Array([-0.2], dtype=float32)
    """
    direction = adam_direction(
        b1, b2, eps, amsgrad=amsgrad, eps_in_sqrt=eps_in_sqrt, mu_dtype=mu_dtype, nu_dtype=nu_dtype
    )
    return chain(
        direction, add_decayed_weights(weight_decay, mask), scale_by_learning_rate(learning_rate)
    )
