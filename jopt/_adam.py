"""Adam, AMSGrad and AdamW."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._adagrad import normalize
from jopt._base import (
    Scalar,
    ScalarOrSchedule,
    cast,
    check_tree,
    compute_dtype,
    increment,
    map_leaves,
    per_dtype,
    scale_by_learning_rate,
    stored,
    zeros_like,
)
from jopt._validation import check_learning_rate, check_nonnegative, check_range
from jopt._weight_decay import add_decayed_weights


class ScaleByAdamState(NamedTuple):
    count: jax.Array  # int32, steps taken
    mu: Any  # first moment m
    nu: Any  # second moment v


class ScaleByAmsgradState(NamedTuple):
    count: jax.Array
    mu: Any
    nu: Any
    nu_max: Any  # running max of the raw v (PyTorch's and Keras' AMSGrad)


def _check(call: str, b1: Scalar, b2: Scalar, eps: Scalar) -> None:
    check_range(call, "b1", b1, 0.0, 1.0, hi_open=True)
    check_range(call, "b2", b2, 0.0, 1.0, hi_open=True)
    check_nonnegative(call, "eps", eps)


def _adam_leaf(b1, b2, eps, eps_in_sqrt, count, amsgrad, eps_hat=False):
    @per_dtype  # scalars once per dtype, not per leaf
    def scalars(dt):
        c1, c2, t = cast(b1, dt), cast(b2, dt), count.astype(dt)
        bias1, bias2, e = 1.0 - c1**t, 1.0 - c2**t, cast(eps, dt)
        if eps_hat:  # ε added to the uncorrected v (Keras): rescale it like v̂
            e = e / (bias2 if eps_in_sqrt else jnp.sqrt(bias2))
        return c1, 1.0 - c1, c2, 1.0 - c2, bias1, bias2, e

    def step(g, m, v, vmax=None):
        dt = compute_dtype(g)
        c1, one_minus_c1, c2, one_minus_c2, bias1, bias2, eps_ = scalars(dt)
        g32 = g.astype(dt)
        m_new = stored(c1 * m.astype(dt) + one_minus_c1 * g32, m.dtype)
        v_new = stored(c2 * v.astype(dt) + one_minus_c2 * (g32 * g32), v.dtype)
        v_used = jnp.maximum(vmax.astype(dt), v_new) if amsgrad else v_new
        m_hat = m_new / bias1
        v_hat = v_used / bias2
        out = normalize(m_hat, v_hat, eps_, eps_in_sqrt).astype(g.dtype)
        new = (out, m_new.astype(m.dtype), v_new.astype(v.dtype))
        return new + (v_used.astype(vmax.dtype),) if amsgrad else new

    return step


def scale_by_adam(
    b1: Scalar = 0.9,
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
    ``mu_dtype``/``nu_dtype`` store m and v in another dtype (e.g. ``jnp.bfloat16``);
    the update is computed in float32 (or float64 for float64 leaves).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_adam(eps=0.0)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # m̂/sqrt(v̂) = sign(g)
    Array([ 1., -1.], dtype=float32)
    >>> tx = jopt.scale_by_adam(b2=0.75, eps=1.0, eps_hat=True)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # 2 / (2 + 1/sqrt(0.25))
    Array([0.5], dtype=float32)
    """
    return _moments(
        "jopt.scale_by_adam",
        False,
        b1,
        b2,
        eps,
        eps_in_sqrt,
        eps_hat,
        mu_dtype,
        nu_dtype,
    )


def scale_by_amsgrad(
    b1: Scalar = 0.9,
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
    ``eps_hat`` as in :func:`jopt.scale_by_adam`.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_amsgrad(eps=0.0)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]
    Array([1.], dtype=float32)
    """
    return _moments(
        "jopt.scale_by_amsgrad",
        True,
        b1,
        b2,
        eps,
        eps_in_sqrt,
        eps_hat,
        mu_dtype,
        nu_dtype,
    )


def _moments(call, amsgrad, b1, b2, eps, eps_in_sqrt, eps_hat, mu_dtype, nu_dtype):
    """Adam's transform, or AMSGrad's: the same moments plus v_max, kept in the state."""
    _check(call, b1, b2, eps)
    state_cls = ScaleByAmsgradState if amsgrad else ScaleByAdamState

    def init_fn(params):
        mu, nu = zeros_like(params, mu_dtype), zeros_like(params, nu_dtype)
        return state_cls(jnp.zeros([], jnp.int32), mu, nu, *([nu] if amsgrad else []))

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        check_tree(call, updates, state.mu)
        count = increment(state.count)
        leaf = _adam_leaf(b1, b2, eps, eps_in_sqrt, count, amsgrad, eps_hat)
        out, *moments = map_leaves(leaf, len(state), updates, *state[1:])
        return out, state_cls(count, *moments)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def _direction(b1, b2, eps, eps_in_sqrt, amsgrad, mu_dtype, nu_dtype):
    make = scale_by_amsgrad if amsgrad else scale_by_adam
    return make(b1, b2, eps, eps_in_sqrt=eps_in_sqrt, mu_dtype=mu_dtype, nu_dtype=nu_dtype)


def adam(
    learning_rate: ScalarOrSchedule = 1e-3,
    b1: Scalar = 0.9,
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

    Defaults are the paper's α = 1e-3, β1 = 0.9, β2 = 0.999, ε = 1e-8.
    ``amsgrad=True`` uses max over the raw v_t (PyTorch's AMSGrad). Unlike optax.adam,
    it is clean under ``jax_numpy_dtype_promotion="strict"``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.adam(0.1)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # first step: −α·sign(g)
    Array([-0.1,  0.1], dtype=float32)
    """
    call = "jopt.adam"
    check_learning_rate(call, learning_rate)
    _check(call, b1, b2, eps)
    return optax.chain(
        _direction(b1, b2, eps, eps_in_sqrt, amsgrad, mu_dtype, nu_dtype),
        scale_by_learning_rate(learning_rate),
    )


def adamw(
    learning_rate: ScalarOrSchedule = 1e-3,
    b1: Scalar = 0.9,
    b2: Scalar = 0.999,
    eps: Scalar = 1e-8,
    weight_decay: Scalar = 1e-2,
    *,
    mask: Any | None = None,
    eps_in_sqrt: bool = False,
    amsgrad: bool = False,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay λ.

    Δθ = −α (m̂_t / (sqrt(v̂_t) + ε) + λθ), the same as PyTorch's
    θ ← θ(1 − αλ) followed by the Adam step. ``mask`` (pytree of bools or a callable
    ``params -> pytree``) picks the leaves that decay.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.adamw(0.1, weight_decay=0.5)
    >>> params = jnp.array([2.0])
    >>> tx.update(jnp.array([1.0]), tx.init(params), params)[0]  # −0.1·(1 + 0.5·2)
    Array([-0.2], dtype=float32)
    """
    call = "jopt.adamw"
    check_learning_rate(call, learning_rate)
    _check(call, b1, b2, eps)
    check_nonnegative(call, "weight_decay", weight_decay)
    return optax.chain(
        _direction(b1, b2, eps, eps_in_sqrt, amsgrad, mu_dtype, nu_dtype),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
