"""Adam, AMSGrad and AdamW."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._base import (
    Scalar,
    ScalarOrSchedule,
    cast,
    chain,
    check_tree,
    compute_dtype,
    evaluate,
    increment,
    map_leaves,
    moments_like,
    per_dtype,
    real_dtype,
    zero_count,
)
from jopt._base import _scale_by_learning_rate as lr_step
from jopt._math import abs_sq, ema, normalize
from jopt._validation import (
    check_dtype,
    check_flag,
    check_learning_rate,
    check_nonnegative,
    check_unit,
)
from jopt._weight_decay import _add_decayed_weights


class ScaleByAdamState(NamedTuple):
    count: jax.Array  # int32, steps taken
    mu: Any  # first moment m
    nu: Any  # second moment v (real: |g|²)


class ScaleByAmsgradState(NamedTuple):
    count: jax.Array
    mu: Any
    nu: Any
    nu_max: Any  # running max of the raw v (PyTorch's and Keras' AMSGrad)


def check_adam(
    call: str,
    b1,
    b2,
    eps,
    *,
    eps_in_sqrt=False,
    eps_hat=False,
    mu_dtype=None,
    nu_dtype=None,
    b1_name="b1",
    b2_name="b2",
    eps_name="eps",
) -> None:
    """Adam's configuration: β1 (or a schedule) and β2 in [0, 1), ε >= 0, flags, dtypes."""
    check_unit(call, b1_name, b1, schedule=True)
    check_unit(call, b2_name, b2)
    check_nonnegative(call, eps_name, eps)
    check_flag(call, "eps_in_sqrt", eps_in_sqrt)
    check_flag(call, "eps_hat", eps_hat)
    check_dtype(call, "mu_dtype", mu_dtype)
    check_dtype(call, "nu_dtype", nu_dtype)


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


def scale_by_adam_moments(
    call: str,
    *,
    b1: ScalarOrSchedule,
    b2: Scalar,
    eps: Scalar,
    amsgrad: bool = False,
    eps_in_sqrt: bool = False,
    eps_hat: bool = False,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
    rectify_threshold: Scalar | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Adam's transform, or AMSGrad's (the same moments plus v_max), unchecked.

    The one home of Adam's moment math; ``call`` names the public entry point in errors.
    ``b1`` may be a schedule ``count -> β1`` evaluated at the updates already applied;
    the bias correction then uses the current β1, 1 − β1_t^t, as PyTorch does.
    ``rectify_threshold`` (RAdam, see :func:`jopt.radam`): the Adam step times r_t where
    ρ_t > threshold, m̂_t elsewhere.
    """

    def init_fn(params):
        mu = moments_like(call, params, mu_dtype)
        nu = moments_like(call, params, nu_dtype, real=True)
        if amsgrad:
            nu_max = moments_like(call, params, nu_dtype, real=True)
            return ScaleByAmsgradState(count=zero_count(params), mu=mu, nu=nu, nu_max=nu_max)
        return ScaleByAdamState(count=zero_count(params), mu=mu, nu=nu)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        check_tree(call, updates, state.mu)
        count = increment(state.count)
        b1_now = evaluate(b1, state.count)
        rectified = (
            None if rectify_threshold is None else rectification(b2, rectify_threshold, count)
        )

        @per_dtype  # scalars once per dtype, not per leaf
        def scalars(dt):
            rdt = real_dtype(dt)
            c1, c2, t = cast(b1_now, rdt), cast(b2, rdt), count.astype(rdt)
            bias1, bias2, e = 1.0 - c1**t, 1.0 - c2**t, cast(eps, rdt)
            if eps_hat:  # ε added to the uncorrected v (Keras): rescale it like v̂
                e = e / (bias2 if eps_in_sqrt else jnp.sqrt(bias2))
            return dict(
                c1=c1.astype(dt),
                rest1=(1.0 - c1).astype(dt),
                c2=c2,
                rest2=1.0 - c2,
                bias1=bias1.astype(dt),
                bias2=bias2,
                eps=e,
                rect=None if rectified is None else rectified[1].astype(dt),
            )

        def step(g, m, v, v_max=None):
            dt = compute_dtype(g)
            s = scalars(dt)
            gw = g.astype(dt)
            m_new = ema(s["c1"], s["rest1"], m, gw)
            v_new = ema(s["c2"], s["rest2"], v, abs_sq(gw))
            v_used = v_new if v_max is None else jnp.maximum(v_max.astype(v_new.dtype), v_new)
            out = normalize(m_new / s["bias1"], v_used / s["bias2"], s["eps"], eps_in_sqrt)
            if rectified is not None:  # RAdam: r_t·(Adam's step) once ρ_t > threshold, else m̂_t
                out = jnp.where(rectified[0], s["rect"] * out, m_new / s["bias1"])
            new = (out.astype(g.dtype), m_new.astype(m.dtype), v_new.astype(v.dtype))
            return new if v_max is None else (*new, v_used.astype(v_max.dtype))

        if amsgrad:
            out, mu, nu, nu_max = map_leaves(step, 4, updates, state.mu, state.nu, state.nu_max)
            return out, ScaleByAmsgradState(count=count, mu=mu, nu=nu, nu_max=nu_max)
        out, mu, nu = map_leaves(step, 3, updates, state.mu, state.nu)
        return out, ScaleByAdamState(count=count, mu=mu, nu=nu)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


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
    ``b1`` may be a schedule ``count -> β1``. ``mu_dtype``/``nu_dtype`` store m and v in
    another dtype (e.g. ``jnp.bfloat16``); the update is computed in float32 (or float64
    for float64 leaves).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_adam(eps=0.0)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # m̂/sqrt(v̂) = sign(g)
    Array([ 1., -1.], dtype=float32)
    >>> tx = jopt.scale_by_adam(b2=0.75, eps=1.0, eps_hat=True)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # 2 / (2 + 1/sqrt(0.25))
    Array([0.5], dtype=float32)
    """
    call = "jopt.scale_by_adam"
    options: dict[str, Any] = dict(
        eps_in_sqrt=eps_in_sqrt, eps_hat=eps_hat, mu_dtype=mu_dtype, nu_dtype=nu_dtype
    )
    check_adam(call, b1, b2, eps, **options)
    return scale_by_adam_moments(call, b1=b1, b2=b2, eps=eps, **options)


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
    ``eps_hat`` as in :func:`jopt.scale_by_adam`.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_amsgrad(eps=0.0)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]
    Array([1.], dtype=float32)
    """
    call = "jopt.scale_by_amsgrad"
    options: dict[str, Any] = dict(
        eps_in_sqrt=eps_in_sqrt, eps_hat=eps_hat, mu_dtype=mu_dtype, nu_dtype=nu_dtype
    )
    check_adam(call, b1, b2, eps, **options)
    return scale_by_adam_moments(call, b1=b1, b2=b2, eps=eps, amsgrad=True, **options)


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
    options: dict[str, Any] = dict(eps_in_sqrt=eps_in_sqrt, mu_dtype=mu_dtype, nu_dtype=nu_dtype)
    check_adam(call, b1, b2, eps, **options)
    check_flag(call, "amsgrad", amsgrad)
    return chain(
        scale_by_adam_moments(call, b1=b1, b2=b2, eps=eps, amsgrad=amsgrad, **options),
        lr_step(call, learning_rate),
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

    Δθ = −α (m̂_t / (sqrt(v̂_t) + ε) + λθ), the same as PyTorch's
    θ ← θ(1 − αλ) followed by the Adam step. ``mask`` (pytree of bools or a callable
    ``params -> pytree``) picks the leaves that decay. λ may be a schedule ``count -> λ``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.adamw(0.1, weight_decay=0.5)
    >>> params = jnp.array([2.0])
    >>> tx.update(jnp.array([1.0]), tx.init(params), params)[0]  # −0.1·(1 + 0.5·2)
    Array([-0.2], dtype=float32)
    """
    call = "jopt.adamw"
    check_learning_rate(call, learning_rate)
    options: dict[str, Any] = dict(eps_in_sqrt=eps_in_sqrt, mu_dtype=mu_dtype, nu_dtype=nu_dtype)
    check_adam(call, b1, b2, eps, **options)
    check_nonnegative(call, "weight_decay", weight_decay, schedule=True)
    check_flag(call, "amsgrad", amsgrad)
    return chain(
        scale_by_adam_moments(call, b1=b1, b2=b2, eps=eps, amsgrad=amsgrad, **options),
        _add_decayed_weights(call, weight_decay, mask),
        lr_step(call, learning_rate),
    )
