"""Muon (Jordan et al. 2024): momentum orthogonalized by a Newton–Schulz iteration."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jopt._adam import check_adam, scale_by_adam_moments
from jopt._base import (
    Scalar,
    ScalarOrSchedule,
    cast,
    chain,
    check_params,
    check_real_params,
    check_tree,
    compute_dtype,
    evaluate,
    gathered,
    increment,
    map_leaves,
    moments_like,
    per_dtype,
    requested,
    zero_count,
)
from jopt._base import _scale_by_learning_rate as lr_step
from jopt._math import ema as moving_average
from jopt._sgd import ScaleByCountedTraceState, ScaleByTraceState
from jopt._validation import (
    check_choice,
    check_dtype,
    check_flag,
    check_int,
    check_learning_rate,
    check_nonnegative,
    check_optional,
    check_range,
    check_real,
)
from jopt._weight_decay import _add_decayed_weights

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)  # Jordan's quintic (PyTorch's, Keras' defaults)
ADJUST_LR = ("original", "match_rms_adamw", "none")


def check_muon(
    call: str,
    momentum: Any,
    ns_coefficients: Any,
    ns_steps: Any,
    eps: Any,
    *,
    nesterov: Any = True,
    adjust_lr: Any = "original",
    rms_rate: Any = 0.2,
    ns_dtype: Any = None,
    mu_dtype: Any = None,
) -> tuple[Any, Any, Any]:
    """Muon's configuration; returns the three Newton–Schulz coefficients."""
    check_range(call, "momentum", momentum, 0.0, 1.0, schedule=True)
    coefficients = check_coefficients(call, ns_coefficients)
    check_int(call, "ns_steps", ns_steps, 0, 99, "each step is unrolled into the program")
    check_nonnegative(call, "eps", eps)
    check_flag(call, "nesterov", nesterov)
    check_choice(call, "adjust_lr", adjust_lr, ADJUST_LR)
    check_nonnegative(call, "rms_rate", rms_rate)
    check_dtype(call, "ns_dtype", ns_dtype)
    check_dtype(call, "mu_dtype", mu_dtype)
    return coefficients


def check_coefficients(
    call: str, ns_coefficients: Any, message: str | None = None
) -> tuple[Any, Any, Any]:
    if isinstance(ns_coefficients, (str, bytes)) or not isinstance(ns_coefficients, Sequence):
        ok = False
    else:
        ok = len(ns_coefficients) == 3
    if not ok:
        raise TypeError(
            f"{call}: {message or 'ns_coefficients must be a tuple (a, b, c) of 3 numbers'}; "
            f"got ns_coefficients={ns_coefficients!r}."
        )
    for i, value in enumerate(ns_coefficients):
        check_real(call, f"ns_coefficients[{i}]", value)
    a, b, c = ns_coefficients
    return a, b, c


def orthogonalize(
    x: jax.Array,
    coefficients: tuple[Any, Any, Any],
    ns_steps: int,
    eps: Any,
    eps_clamp: bool,
    ns_dtype: Any | None,
) -> jax.Array:
    """``ns_steps`` quintic Newton–Schulz steps on a matrix ``x``, computed in ``ns_dtype``
    (products accumulated in float32 for 16-bit ``ns_dtype``, as PyTorch's bfloat16
    matmuls do); the result in ``x``'s dtype."""
    nd = jnp.dtype(ns_dtype) if ns_dtype is not None else x.dtype
    acc = compute_dtype(jnp.zeros((), nd))  # float32 for 16-bit, else nd
    a, b, c = (cast(k, acc) for k in coefficients)
    tall = x.shape[0] > x.shape[1]
    y = (x.T if tall else x).astype(nd)

    def mm(p, q):
        return jnp.matmul(p, q, preferred_element_type=acc, precision=jax.lax.Precision.HIGHEST)

    norm = jnp.sqrt(jnp.sum(jnp.square(y.astype(acc)))).astype(nd)
    e = cast(eps, nd)
    denom = jnp.maximum(norm, e) if eps_clamp else norm + e
    y = (y.astype(acc) / denom.astype(acc)).astype(nd)
    for _ in range(ns_steps):
        gram = mm(y, y.T).astype(nd)
        update = (b * gram.astype(acc) + c * mm(gram, gram)).astype(nd)
        y = (a * y.astype(acc) + mm(update, y)).astype(nd)
    return (y.T if tall else y).astype(x.dtype)


def _adjust(shape: tuple[int, ...], adjust_lr: str, rms_rate: Any, dt: Any) -> jax.Array:
    rows, cols = shape
    if adjust_lr == "original":
        return cast(math.sqrt(max(1.0, rows / cols)), dt)
    if adjust_lr == "match_rms_adamw":
        return cast(rms_rate, dt) * cast(math.sqrt(max(rows, cols)), dt)
    return jnp.ones((), dt)


def _check_matrices(call: str, params: Any) -> None:
    check_params(call, params)
    check_real_params(
        call, params, "Muon does not support complex parameters (nor does PyTorch's)."
    )
    for path, leaf in jax.tree_util.tree_leaves_with_path(params):
        where = jax.tree_util.keystr(path) or "(root)"
        if jnp.ndim(leaf) != 2:
            raise ValueError(
                f"{call}: Muon only supports 2D parameters whereas we found a parameter with "
                f"size: {tuple(jnp.shape(leaf))} at {where}. Give the other parameters "
                "another optimizer (jopt.muon uses Adam for them), e.g. with "
                "optax.multi_transform."
            )


def _scale_by_muon(
    call: str,
    momentum: ScalarOrSchedule,
    coefficients: tuple[Any, Any, Any],
    ns_steps: int,
    eps: Scalar,
    *,
    nesterov: bool = True,
    ema: bool = True,
    eps_clamp: bool = False,
    adjust_lr: str = "original",
    rms_rate: Scalar = 0.2,
    ns_dtype: Any | None = None,
    mu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Muon's direction for 2-D leaves, unchecked: the one home of its math."""
    counted = callable(momentum)

    def init_fn(params):
        _check_matrices(call, params)
        trace = moments_like(call, params, mu_dtype)
        if counted:
            return ScaleByCountedTraceState(zero_count(params), trace)
        return ScaleByTraceState(trace)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        check_tree(call, updates, state.trace)
        mu_now = evaluate(momentum, state.count) if counted else momentum

        @per_dtype  # scalars once per dtype, not per leaf
        def scalars(dt):
            mu = cast(mu_now, dt)
            return mu, (1.0 - mu) if ema else None

        def step(g, b):
            dt = compute_dtype(g)
            mu, rest = scalars(dt)
            gw = g.astype(dt)
            b_new = moving_average(mu, rest, b, gw)
            direction = (gw if rest is None else rest * gw) + mu * b_new if nesterov else b_new
            out = gathered(
                lambda x: orthogonalize(x, coefficients, ns_steps, eps, eps_clamp, ns_dtype),
                direction,
            )
            out = out * _adjust(g.shape, adjust_lr, rms_rate, dt)
            return out.astype(g.dtype), b_new.astype(b.dtype)

        out, trace = map_leaves(step, 2, updates, state.trace)
        if counted:
            return out, ScaleByCountedTraceState(increment(state.count), trace)
        return out, ScaleByTraceState(trace)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def scale_by_muon(
    momentum: ScalarOrSchedule = 0.95,
    *,
    nesterov: bool = True,
    ns_coefficients: Sequence[Scalar] = NS_COEFFICIENTS,
    ns_steps: int = 5,
    eps: Scalar = 1e-7,
    ema: bool = True,
    eps_clamp: bool = False,
    adjust_lr: str = "original",
    rms_rate: Scalar = 0.2,
    ns_dtype: Any | None = None,
    mu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Muon's direction for matrices: momentum orthogonalized by Newton–Schulz.

    B_t = μ B_{t−1} + (1−μ) G_t,  D_t = (1−μ) G_t + μ B_t (Nesterov) or B_t;
    X_0 = D_t / (‖D_t‖_F + ε)  (transposed first if it has more rows than columns);
    X_k = a X_{k−1} + (b A + c A²) X_{k−1},  A = X_{k−1} X_{k−1}ᵀ,  k = 1..K;
    output s · X_K.

    (a, b, c) = ``ns_coefficients`` (Jordan's quintic by default), K = ``ns_steps``.
    X_K ≈ U Vᵀ of D_t = U S Vᵀ, with singular values spread around 1. The shape factor s
    for an m×n leaf: sqrt(max(1, m/n)) (``adjust_lr="original"``, Jordan's and PyTorch's
    default), ``rms_rate``·sqrt(max(m, n)) (``"match_rms_adamw"``, Moonshot's; PyTorch's
    rate 0.2, Keras' ``rms_rate``) or 1 (``"none"``).

    Every leaf must be a real matrix: ``init`` raises ValueError for any other shape (use
    :func:`jopt.muon`, which gives the other leaves Adam's step, or ``optax.multi_transform``).
    The PyTorch and Keras variants are switches of this one transform: ``ema=False`` sums,
    B_t = μ B_{t−1} + G_t and D_t = G_t + μ B_t (Keras); ``eps_clamp=True`` divides by
    max(‖D_t‖_F, ε) (PyTorch); ``ns_dtype=jnp.bfloat16`` runs the iteration in bfloat16 with
    float32 accumulation (PyTorch, and Jordan's reference code). By default it runs in the
    update's dtype (float32, or float64). ``momentum`` may be a schedule ``count -> μ`` (the
    state then keeps a count). The state is :class:`jopt.ScaleByTraceState` (the buffer B).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_muon(ns_steps=30, ns_coefficients=(1.5, -0.5, 0.0))  # cubic: exact
    >>> g = jnp.array([[3.0, 0.0], [0.0, 0.5]])  # U S Vᵀ with U = V = I
    >>> tx.update(g, tx.init(g))[0].round(4)
    Array([[1., 0.],
           [0., 1.]], dtype=float32)
    """
    call = "jopt.scale_by_muon"
    options: dict[str, Any] = dict(nesterov=nesterov, adjust_lr=adjust_lr, rms_rate=rms_rate)
    options.update(ns_dtype=ns_dtype, mu_dtype=mu_dtype)
    coefficients = check_muon(call, momentum, ns_coefficients, ns_steps, eps, **options)
    check_flag(call, "ema", ema)
    check_flag(call, "eps_clamp", eps_clamp)
    return _scale_by_muon(
        call, momentum, coefficients, ns_steps, eps, ema=ema, eps_clamp=eps_clamp, **options
    )


def is_matrix(tree: Any) -> Any:
    """A tree of bools: True for the leaves with exactly two axes."""
    return jax.tree.map(lambda x: jnp.ndim(x) == 2, tree)


def is_not_matrix(tree: Any) -> Any:
    return jax.tree.map(lambda x: jnp.ndim(x) != 2, tree)


def scaled(learning_rate: ScalarOrSchedule, ratio: Scalar) -> ScalarOrSchedule:
    """α·ratio, a constant or a schedule as α is."""

    def product(value):
        if isinstance(value, (int, float)) and isinstance(ratio, (int, float)):
            return value * ratio
        value = jnp.asarray(value)
        return value * jnp.asarray(ratio).astype(value.dtype)

    if callable(learning_rate):
        return lambda count: product(learning_rate(count))
    return product(learning_rate)


def muon(
    learning_rate: ScalarOrSchedule = 0.02,
    momentum: ScalarOrSchedule = 0.95,
    *,
    nesterov: bool = True,
    ns_coefficients: Sequence[Scalar] = NS_COEFFICIENTS,
    ns_steps: int = 5,
    eps: Scalar = 1e-7,
    adjust_lr: str = "original",
    weight_decay: ScalarOrSchedule | None = None,
    ns_dtype: Any | None = None,
    adam_learning_rate: ScalarOrSchedule | None = None,
    adam_b1: ScalarOrSchedule = 0.9,
    adam_b2: Scalar = 0.999,
    adam_eps: Scalar = 1e-8,
    mu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Muon (Jordan et al. 2024) for the matrices, Adam for every other leaf.

    Leaves with two axes: B_t = μ B_{t−1} + (1−μ) G_t, Δθ = −α (s · NS_K(D_t) + λθ),
    with D_t, the Newton–Schulz iteration NS_K and the shape factor s of
    :func:`jopt.scale_by_muon`. Every other leaf (vectors, scalars, tensors with 3+ axes)
    takes AdamW's step Δθ = −α_A (m̂_t / (sqrt(v̂_t) + ε_A) + λθ), as Jordan's
    ``MuonWithAuxAdam``, optax.contrib.muon and Keras do, at ``adam_learning_rate``
    (``None``: α), ``adam_b1``, ``adam_b2``, ``adam_eps``. (Reshape a convolution kernel to
    2-D yourself if it should take Muon's step.) Which step a leaf takes depends on its shape
    only.

    Defaults are Jordan's reference: α = 0.02, μ = 0.95, Nesterov, (a, b, c) = (3.4445,
    −4.7750, 2.0315), K = 5, ε = 1e-7, s = sqrt(max(1, m/n)). The iteration runs in the
    update's dtype (Jordan's code uses bfloat16: pass ``ns_dtype=jnp.bfloat16``).
    ``weight_decay`` λ (``None``: off) is decoupled: θ ← θ(1 − αλ) on Muon's leaves,
    θ ← θ(1 − α_A λ) on the others (the λθ term of their AdamW step above).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.muon(0.1)
    >>> params = {"w": jnp.zeros((2, 2)), "b": jnp.zeros(2)}
    >>> grads = {"w": jnp.array([[3.0, 0.0], [0.0, 0.5]]), "b": jnp.array([1.0, -2.0])}
    >>> updates, _ = tx.update(grads, tx.init(params), params)
    >>> updates["b"]  # Adam's first step: −α·sign(g)
    Array([-0.1,  0.1], dtype=float32)
    >>> jnp.diag(updates["w"]).round(3)  # −α·NS(D): singular values 0.99, 0.16 → 0.71, 1.04
    Array([-0.071, -0.104], dtype=float32)
    """
    call = "jopt.muon"
    check_learning_rate(call, learning_rate)
    options: dict[str, Any] = dict(nesterov=nesterov, adjust_lr=adjust_lr)
    options.update(ns_dtype=ns_dtype, mu_dtype=mu_dtype)
    coefficients = check_muon(call, momentum, ns_coefficients, ns_steps, eps, **options)
    check_optional(call, "weight_decay", weight_decay, schedule=True)
    if adam_learning_rate is not None:
        check_learning_rate(call, adam_learning_rate, "adam_learning_rate")
    adam_names: dict[str, Any] = dict(b1_name="adam_b1", b2_name="adam_b2", eps_name="adam_eps")
    check_adam(call, adam_b1, adam_b2, adam_eps, **adam_names)
    decay = [_add_decayed_weights(call, weight_decay)] if requested(weight_decay) else []
    matrices = optax.chain(
        _scale_by_muon(call, momentum, coefficients, ns_steps, eps, **options),
        *decay,
        lr_step(call, learning_rate),
    )
    adam_lr = learning_rate if adam_learning_rate is None else adam_learning_rate
    others = optax.chain(
        scale_by_adam_moments(call, b1=adam_b1, b2=adam_b2, eps=adam_eps, mu_dtype=mu_dtype),
        *decay,
        lr_step(call, adam_lr),
    )
    return chain(optax.masked(matrices, is_matrix), optax.masked(others, is_not_matrix))
