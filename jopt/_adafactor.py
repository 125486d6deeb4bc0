"""Adafactor (Shazeer & Stern 2018): factored second moments, update clipping, relative steps."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._base import (
    Scalar,
    ScalarOrSchedule,
    cast,
    chain,
    check_params,
    check_tree,
    compute_dtype,
    evaluate,
    increment,
    map_leaves,
    per_dtype,
    real_dtype,
    requested,
    require_params,
    state_dtype,
    zero_count,
    zeros_placed_like,
)
from jopt._base import _scale_by_learning_rate as lr_step
from jopt._math import abs_sq, ema
from jopt._validation import (
    check_flag,
    check_learning_rate,
    check_nonnegative,
    check_optional,
    check_range,
)
from jopt._weight_decay import _decoupled_weight_decay


class FactoredSecondMoment(NamedTuple):
    """Adafactor's second moment of a leaf with two or more axes (shape ``(..., m, n)``):
    ``row``, the moving average of g² averaged over the last axis (shape ``(..., m)``), and
    ``col``, averaged over the second-to-last axis (shape ``(..., n)``)."""

    row: jax.Array
    col: jax.Array


class ScaleByAdafactorState(NamedTuple):
    """``count``: int32, updates applied; ``nu``: per leaf, a
    :class:`jopt.FactoredSecondMoment` for a leaf with two or more axes, else the full
    moving average of g² (an array of the leaf's shape). The layout follows each leaf's
    shape, never a value."""

    count: jax.Array
    nu: Any


@functools.partial(jax.jit, static_argnums=(1, 2))
def _zeros_mean(p: jax.Array, dtype: Any, axis: int) -> jax.Array:
    # Zeros of p's shape without axis, sharded as p is on the other axes (eager, jit,
    # Auto and Explicit mesh axes alike); XLA folds the reduction of zeros to a constant.
    return zeros_placed_like(p, dtype).sum(axis)


def _is_factored(x: Any) -> bool:
    return isinstance(x, FactoredSecondMoment)


def check_adafactor(
    call: str,
    b2_decay: Any,
    eps1: Any,
    eps2: Any,
    clip_threshold: Any,
    *,
    names: tuple[str, str, str, str] = ("b2_decay", "eps1", "eps2", "clip_threshold"),
) -> None:
    """τ <= 0, ε1 (or None) >= 0, ε2 >= 0, d >= 1."""
    check_range(call, names[0], b2_decay, hi=0.0)
    check_optional(call, names[1], eps1)
    check_nonnegative(call, names[2], eps2)
    check_range(call, names[3], clip_threshold, 1.0)


def relative_step_size(learning_rate: ScalarOrSchedule):
    """The schedule ρ_t = min(α_t, 1/sqrt(t)), t = count + 1 (the paper's relative step,
    with PyTorch's and Keras' α_t where the paper has 1e-2)."""

    def schedule(count):
        t = jnp.asarray(count + 1).astype(jnp.result_type(float))
        lr = jnp.asarray(evaluate(learning_rate, count)).astype(t.dtype)
        return jnp.minimum(lr, 1.0 / jnp.sqrt(t))

    return schedule


def scale_by_adafactor_moments(
    call: str,
    *,
    b2_decay: Scalar,
    eps1: Scalar | None,
    eps2: Scalar,
    clip_threshold: Scalar,
    eps_clamp: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """Adafactor's scaled, clipped direction, unchecked: the one home of its math.

    ``eps_clamp=False``: the paper's and Keras' ε1 (added to g² before averaging);
    ``True``: PyTorch's (the moments of g² alone; ε1 clamps the row mean and sqrt(v̂)).
    ``eps1=None``: the machine epsilon of each leaf's dtype (PyTorch's default).
    """

    def init_fn(params):
        check_params(call, params)

        def make(p):
            dt = state_dtype(p, real=True)
            shape = jnp.shape(p)
            if len(shape) >= 2:  # sharded as the parameter's rows / columns are
                return FactoredSecondMoment(_zeros_mean(p, dt, -1), _zeros_mean(p, dt, -2))
            return zeros_placed_like(p, dt)

        return ScaleByAdafactorState(count=zero_count(params), nu=jax.tree.map(make, params))

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        require_params(call, params, "(the step is scaled by their RMS)")
        check_tree(call, updates, params, "the params")
        check_tree(call, updates, jax.tree.map(lambda _: 0, state.nu, is_leaf=_is_factored))
        count = increment(state.count)

        @per_dtype  # scalars once per dtype, not per leaf
        def scalars(rdt):
            rest = count.astype(rdt) ** cast(b2_decay, rdt)  # 1 − β̂2_t = t^τ
            return 1.0 - rest, rest, cast(eps2, rdt), cast(clip_threshold, rdt)

        def step(g, nu, p):
            dt = compute_dtype(g)
            rdt = real_dtype(dt)
            decay, rest, e2, d = scalars(rdt)
            e1 = cast(jnp.finfo(p.dtype).eps if eps1 is None else eps1, rdt)
            gw = g.astype(dt)
            g2 = abs_sq(gw) if eps_clamp else abs_sq(gw) + e1
            if _is_factored(nu):
                row = ema(decay, rest, nu.row, jnp.mean(g2, axis=-1))
                col = ema(decay, rest, nu.col, jnp.mean(g2, axis=-2))
                row_mean = jnp.mean(row, axis=-1, keepdims=True)
                if eps_clamp:
                    row_mean = jnp.maximum(row_mean, e1)
                v = (row / row_mean)[..., None] * col[..., None, :]
                new = FactoredSecondMoment(row.astype(nu.row.dtype), col.astype(nu.col.dtype))
            else:
                v = ema(decay, rest, nu, g2)
                new = v.astype(nu.dtype)
            if eps_clamp:
                v = jnp.maximum(v, e1 * e1)
            u = gw / jnp.sqrt(v).astype(dt)
            u_rms = jnp.sqrt(jnp.mean(abs_sq(u)))
            p_rms = jnp.sqrt(jnp.mean(abs_sq(p.astype(dt))))
            scale = jnp.maximum(e2, p_rms) / jnp.maximum(1.0, u_rms / d)
            return (u * scale.astype(dt)).astype(g.dtype), new

        out, nu = map_leaves(step, 2, updates, state.nu, params)
        return out, ScaleByAdafactorState(count=count, nu=nu)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def scale_by_adafactor(
    b2_decay: Scalar = -0.8,
    eps1: Scalar | None = 1e-30,
    eps2: Scalar = 1e-3,
    clip_threshold: Scalar = 1.0,
    *,
    eps_clamp: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """Adafactor's direction max(ε2, RMS(θ)) · Û_t, without the relative step ρ_t.

    For a leaf G_t of shape (..., m, n) the second moment is factored (the paper's
    means; the state keeps only R and C, :class:`jopt.FactoredSecondMoment`)::

        β̂2_t = 1 − t^τ
        R_t  = β̂2_t R_{t−1} + (1−β̂2_t) mean_n(G_t² + ε1)      (rows, shape (..., m))
        C_t  = β̂2_t C_{t−1} + (1−β̂2_t) mean_m(G_t² + ε1)      (columns, shape (..., n))
        V̂_t  = R_t C_tᵀ / mean_m(R_t)
        U_t  = G_t / sqrt(V̂_t),   Û_t = U_t / max(1, RMS(U_t)/d)

    A leaf with fewer than two axes keeps the full V̂_t = β̂2_t V̂_{t−1} + (1−β̂2_t)(G_t² + ε1).
    Multiply by the relative step ρ_t = min(α, 1/sqrt(t)) (:func:`jopt.adafactor`) or by
    any learning rate. ``update`` needs ``params``.

    PyTorch and Keras differ only in ε1, and one switch covers both:
    ``eps_clamp=False`` is the paper's and Keras' (ε1 = 1e-30 added to G² above);
    ``eps_clamp=True`` is PyTorch's: R, C and V̂ average G² alone, then
    V̂_t = R_t C_tᵀ / max(mean_m(R_t), ε1) and U_t = G_t / max(sqrt(V̂_t), ε1).
    ``eps1=None`` uses the machine epsilon of each leaf's dtype (PyTorch's default).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_adafactor()
    >>> params = jnp.full((2, 2), 2.0)  # RMS(θ) = 2
    >>> g = jnp.array([[1.0, -1.0], [2.0, -2.0]])  # rank 1: V̂ = G² exactly, Û = sign(G)
    >>> tx.update(g, tx.init(params), params)[0]
    Array([[ 2., -2.],
           [ 2., -2.]], dtype=float32)
    """
    call = "jopt.scale_by_adafactor"
    check_adafactor(call, b2_decay, eps1, eps2, clip_threshold)
    check_flag(call, "eps_clamp", eps_clamp)
    return scale_by_adafactor_moments(
        call,
        b2_decay=b2_decay,
        eps1=eps1,
        eps2=eps2,
        clip_threshold=clip_threshold,
        eps_clamp=eps_clamp,
    )


def adafactor(
    learning_rate: ScalarOrSchedule = 1e-2,
    b2_decay: Scalar = -0.8,
    eps1: Scalar | None = 1e-30,
    eps2: Scalar = 1e-3,
    clip_threshold: Scalar = 1.0,
    *,
    relative_step: bool = True,
    weight_decay: ScalarOrSchedule | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Adafactor (Shazeer & Stern 2018), the paper's Algorithm 4 with update clipping.

    ρ_t = min(α, 1/sqrt(t)),  α_t = max(ε2, RMS(θ_{t−1})) ρ_t;
    Δθ = −α_t Û_t − αλθ.

    Û_t is :func:`jopt.scale_by_adafactor`'s clipped direction, with factored second
    moments for the leaves with two or more axes. Defaults are the paper's: ρ_t capped at
    α = 1e-2, τ = −0.8 (β̂2_t = 1 − t^−0.8), ε1 = 1e-30, ε2 = 1e-3, clipping threshold
    d = 1, no momentum. ``relative_step=False``
    uses α_t = max(ε2, RMS(θ_{t−1})) α instead (α may then be any schedule).
    ``weight_decay`` λ (``None``: off) is decoupled and scaled by α, not ρ_t, as in
    PyTorch. :func:`jopt.get_learning_rate` reads ρ_t.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.adafactor()
    >>> params = jnp.full((2, 2), 2.0)  # RMS(θ) = 2; first step: ρ = 0.01
    >>> g = jnp.array([[1.0, -1.0], [2.0, -2.0]])  # Û = sign(G), as above
    >>> tx.update(g, tx.init(params), params)[0]
    Array([[-0.02,  0.02],
           [-0.02,  0.02]], dtype=float32)
    """
    call = "jopt.adafactor"
    check_learning_rate(call, learning_rate)
    check_adafactor(call, b2_decay, eps1, eps2, clip_threshold)
    check_flag(call, "relative_step", relative_step)
    check_optional(call, "weight_decay", weight_decay, schedule=True)
    moments = scale_by_adafactor_moments(
        call, b2_decay=b2_decay, eps1=eps1, eps2=eps2, clip_threshold=clip_threshold
    )
    rho = relative_step_size(learning_rate) if relative_step else learning_rate
    steps = [moments, lr_step(call, rho)]
    if requested(weight_decay):
        steps.append(_decoupled_weight_decay(call, learning_rate, weight_decay))
    return chain(*steps)
