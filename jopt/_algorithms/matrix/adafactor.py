"""Adafactor (Shazeer & Stern 2018): factored second moments, update clipping, relative steps."""

from __future__ import annotations

import functools
from typing import Annotated, Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._algorithms.regularization.weight_decay import decoupled_weight_decay
from jopt._core.chain import chain
from jopt._core.checks import Real, checked, flag, learning_rate, nonnegative, optional
from jopt._core.dtypes import cast, compute_dtype, per_dtype, real_dtype, state_dtype
from jopt._core.elementwise import abs_sq, ema
from jopt._core.hyperparams import Scalar, ScalarOrSchedule, Schedule
from jopt._core.layout import PerParam, Reduced
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.state import (
    check_params,
    check_tree,
    check_update_params,
    evaluate,
    increment,
    leaf_states,
    requested,
    zero_count,
    zeros_placed_like,
)
from jopt.sharding._leafwise import map_leaves

# The rules of Adafactor's direction, shared by every factory of this module.
RULES = dict(
    b2_decay=Real(hi=0.0),
    eps1=optional(nonnegative()),
    eps2=nonnegative(),
    clip_threshold=Real(1.0),
    eps_clamp=flag(),
)


class FactoredSecondMoment(NamedTuple):
    """Adafactor's second moment of a leaf with two or more axes (shape ``(..., m, n)``),
    kept as a row and a column of means.

    Args:
      row: the moving average of g² averaged over the last axis (shape ``(..., m)``).
      col: the moving average of g² averaged over the second-to-last axis (shape
        ``(..., n)``).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_adafactor()
    >>> g = jnp.array([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]])
    >>> params = jnp.ones((2, 3))
    >>> _, state = tx.update(g, tx.init(params), params)
    >>> state.nu.row, state.nu.col  # the first step's β2 is 0: g²'s means by row, by column
    (Array([1., 4.], dtype=float32), Array([2.5, 2.5, 2.5], dtype=float32))
    """

    row: Annotated[jax.Array, Reduced(-1)]
    col: Annotated[jax.Array, Reduced(-2)]


class ScaleByAdafactorState(NamedTuple):
    """Adafactor's state; its layout follows each leaf's shape, never a value.

    Args:
      count: int32, updates applied.
      nu: per leaf, a :class:`jopt.FactoredSecondMoment` for a leaf with two or more
        axes, else the full moving average of g² (an array of the leaf's shape).

    >>> import jax.numpy as jnp, jopt
    >>> params = {"w": jnp.zeros((2, 3)), "b": jnp.zeros(3)}
    >>> state = jopt.scale_by_adafactor().init(params)
    >>> state.count, type(state.nu["w"]).__name__, state.nu["b"].shape
    (Array(0, dtype=int32), 'FactoredSecondMoment', (3,))
    """

    count: jax.Array
    nu: PerParam


class _Scalars(NamedTuple):
    """Adafactor's per-dtype scalars of one update (real)."""

    decay: jax.Array  # β̂2_t = 1 − t^τ
    rest: jax.Array  # t^τ
    eps2: jax.Array
    clip: jax.Array  # d


@functools.partial(jax.jit, static_argnums=(1, 2))
def _zeros_mean(p: jax.Array, dtype: Any, axis: int) -> jax.Array:
    # Zeros of p's shape without axis, sharded as p is on the other axes (eager, jit,
    # Auto and Explicit mesh axes alike); XLA folds the reduction of zeros to a constant.
    return zeros_placed_like(p, dtype).sum(axis)


def _is_factored(x: Any) -> bool:
    return isinstance(x, FactoredSecondMoment)


def _like_param(nu: Any) -> Any:
    # A leaf of nu as its parameter's shape: a factored moment (..., m), (..., n) gives
    # (..., m, n). For the tree checks (nothing is allocated).
    if _is_factored(nu):
        return jax.ShapeDtypeStruct((*nu.row.shape, nu.col.shape[-1]), nu.row.dtype)
    return nu


def relative_step_size(learning_rate: ScalarOrSchedule) -> Schedule:
    """The schedule ρ_t = min(α_t, 1/sqrt(t)), t = count + 1 (the paper's relative step,
    with PyTorch's and Keras' α_t where the paper has 1e-2).

    >>> from jopt._algorithms.matrix.adafactor import relative_step_size
    >>> round(float(relative_step_size(0.4)(8)), 4)  # t = 9: min(0.4, 1/3)
    0.3333
    """

    def schedule(count: Any) -> jax.Array:
        t = jnp.asarray(count + 1).astype(jnp.result_type(float))
        lr = evaluate(learning_rate, count, "the learning-rate schedule")
        return jnp.minimum(jnp.asarray(lr).astype(t.dtype), 1.0 / jnp.sqrt(t))

    return schedule


@checked(**RULES)
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

    Args:
      b2_decay: τ <= 0, the exponent of the decay β̂2_t = 1 − t^τ.
      eps1: ε1 >= 0, the regularizer of G² (see ``eps_clamp``); ``None``: the machine
        epsilon of each leaf's dtype (PyTorch's default).
      eps2: ε2 >= 0, the floor of RMS(θ).
      clip_threshold: d >= 1, the update clipping threshold.
      eps_clamp: PyTorch's placement of ε1 (a clamp) instead of the paper's (added to G²).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.ScaleByAdafactorState`; ``update`` needs ``params``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_adafactor()
    >>> params = jnp.full((2, 2), 2.0)  # RMS(θ) = 2
    >>> g = jnp.array([[1.0, -1.0], [2.0, -2.0]])  # rank 1: V̂ = G² exactly, Û = sign(G)
    >>> tx.update(g, tx.init(params), params)[0]
    Array([[ 2., -2.],
           [ 2., -2.]], dtype=float32)
    """

    def init_fn(params):
        check_params(params)

        def make(p):
            dt = state_dtype(p, real=True)
            if jnp.ndim(p) >= 2:  # sharded as the parameter's rows / columns are
                return FactoredSecondMoment(_zeros_mean(p, dt, -1), _zeros_mean(p, dt, -2))
            return zeros_placed_like(p, dt)

        return ScaleByAdafactorState(count=zero_count(params), nu=jax.tree.map(make, params))

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        check_update_params(updates, params, "(the step is scaled by their RMS)")
        nu_tree = leaf_states(updates, state.nu, FactoredSecondMoment)  # nnx's mapping
        check_tree(updates, jax.tree.map(_like_param, nu_tree, is_leaf=_is_factored))
        count = increment(state.count)

        @per_dtype  # scalars once per dtype, not per leaf
        def scalars(rdt):
            rest = count.astype(rdt) ** cast(b2_decay, rdt)  # 1 − β̂2_t = t^τ
            return _Scalars(
                decay=1.0 - rest, rest=rest, eps2=cast(eps2, rdt), clip=cast(clip_threshold, rdt)
            )

        def step(g, nu, p):
            dt = compute_dtype(g)
            rdt = real_dtype(dt)
            s = scalars(rdt)
            e1 = cast(jnp.finfo(p.dtype).eps if eps1 is None else eps1, rdt)
            gw = g.astype(dt)
            g2 = abs_sq(gw) if eps_clamp else abs_sq(gw) + e1
            if _is_factored(nu):
                row = ema(s.decay, s.rest, nu.row, jnp.mean(g2, axis=-1))
                col = ema(s.decay, s.rest, nu.col, jnp.mean(g2, axis=-2))
                row_mean = jnp.mean(row, axis=-1, keepdims=True)
                new = FactoredSecondMoment(row.astype(nu.row.dtype), col.astype(nu.col.dtype))
                if eps_clamp:
                    row_mean = jnp.maximum(row_mean, e1)
                    v = (row / row_mean)[..., None] * col[..., None, :]
                    u = gw / jnp.sqrt(jnp.maximum(v, e1 * e1)).astype(dt)
                else:
                    # 1/sqrt of each factor, as optax: the product v of a zero row's and a
                    # zero column's ε1-sized means underflows to 0 in float32 (0/0 at g = 0)
                    r = jax.lax.rsqrt(row / row_mean)[..., None]
                    u = gw * (r * jax.lax.rsqrt(col)[..., None, :]).astype(dt)
            else:
                v = ema(s.decay, s.rest, nu, g2)
                new = v.astype(nu.dtype)
                u = gw / jnp.sqrt(jnp.maximum(v, e1 * e1) if eps_clamp else v).astype(dt)
            u_rms = jnp.sqrt(jnp.mean(abs_sq(u)))
            p_rms = jnp.sqrt(jnp.mean(abs_sq(p.astype(dt))))
            scale = jnp.maximum(s.eps2, p_rms) / jnp.maximum(1.0, u_rms / s.clip)
            return (u * scale.astype(dt)).astype(g.dtype), new

        out, nu = map_leaves(step, 2, updates, nu_tree, params)
        return out, ScaleByAdafactorState(count=count, nu=nu)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(
    learning_rate=learning_rate(),
    **RULES,
    relative_step=flag(),
    weight_decay=optional(nonnegative(schedule=True)),
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
    eps_clamp: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """Adafactor (Shazeer & Stern 2018), the paper's Algorithm 4 with update clipping.

    ρ_t = min(α, 1/sqrt(t)),  α_t = max(ε2, RMS(θ_{t−1})) ρ_t;
    Δθ = −α_t Û_t − αλθ.

    ``chain(scale_by_adafactor(...), scale_by_learning_rate(ρ),
    decoupled_weight_decay(α, λ))``: Û_t is :func:`jopt.scale_by_adafactor`'s clipped
    direction, with factored second moments for the leaves with two or more axes.
    Defaults are the paper's: ρ_t capped at α = 1e-2, τ = −0.8 (β̂2_t = 1 − t^−0.8),
    ε1 = 1e-30, ε2 = 1e-3, clipping threshold d = 1, no momentum.
    :func:`jopt.get_learning_rate` reads ρ_t.

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``: the cap of the relative step
        (with ``relative_step=False``, the learning rate itself).
      b2_decay: τ <= 0.
      eps1: ε1 >= 0, or ``None`` (the machine epsilon of each leaf's dtype).
      eps2: ε2 >= 0.
      clip_threshold: d >= 1.
      relative_step: ρ_t = min(α, 1/sqrt(t)) (the default) or α_t = max(ε2, RMS(θ_{t−1})) α.
      weight_decay: λ >= 0, or a schedule; ``None`` (the default): off. Decoupled and
        scaled by α, not ρ_t, as in PyTorch.
      eps_clamp: PyTorch's placement of ε1, as :func:`jopt.scale_by_adafactor`'s.

    Returns:
      An ``optax.GradientTransformationExtraArgs``; ``update`` needs ``params``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.adafactor()
    >>> params = jnp.full((2, 2), 2.0)  # RMS(θ) = 2; first step: ρ = 0.01
    >>> g = jnp.array([[1.0, -1.0], [2.0, -2.0]])  # Û = sign(G), as above
    >>> tx.update(g, tx.init(params), params)[0]
    Array([[-0.02,  0.02],
           [-0.02,  0.02]], dtype=float32)
    """
    rho = relative_step_size(learning_rate) if relative_step else learning_rate
    decay = [decoupled_weight_decay(learning_rate, weight_decay)] if requested(weight_decay) else []
    return chain(
        scale_by_adafactor(b2_decay, eps1, eps2, clip_threshold, eps_clamp=eps_clamp),
        scale_by_learning_rate(rho),
        *decay,
    )
