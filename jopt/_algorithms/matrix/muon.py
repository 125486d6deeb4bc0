"""Muon (Jordan et al. 2024): momentum orthogonalized by a Newton–Schulz iteration."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import optax

from jopt._algorithms.adam.adam import scale_by_adam
from jopt._algorithms.regularization.weight_decay import optional_decay
from jopt._algorithms.sgd.sgd import init_trace, next_trace, trace_momentum
from jopt._core.chain import chain
from jopt._core.checks import (
    Integer,
    Rule,
    UnnamedTypeError,
    UnnamedValueError,
    checked,
    choice,
    closed_unit_interval,
    dtype,
    flag,
    learning_rate,
    nonnegative,
    optional,
    real,
    unit_interval,
)
from jopt._core.dtypes import cast, compute_dtype, per_dtype
from jopt._core.elementwise import ema as moving_average
from jopt._core.elementwise import ema_weights
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.moments import held, state_format, write
from jopt._core.state import (
    check_params,
    check_real_params,
    path_name,
)
from jopt.sharding._leafwise import gathered, map_leaves

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)  # Jordan's quintic (PyTorch's, Keras' defaults)


@dataclass(frozen=True)
class Coefficients(Rule):
    """The Newton–Schulz coefficients (a, b, c): a sequence of three real numbers,
    returned as a tuple. ``message`` replaces the wording of a value that is not three
    numbers (e.g. PyTorch's "Coefficients must be a tuple of exactly 3 values").

    >>> import jopt
    >>> jopt.scale_by_muon(ns_coefficients=(1.0, 2.0))
    Traceback (most recent call last):
    ...
    TypeError: jopt.scale_by_muon: ns_coefficients must be a tuple (a, b, c) of 3 numbers; ...
    """

    kind: ClassVar[str] = "triple"

    message: str | None = None

    def __call__(self, name: str, value: Any) -> Any:
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 3:
            what = self.message or f"{name} must be a tuple (a, b, c) of 3 numbers"
            raise UnnamedTypeError(f"{what}; got {name}={value!r}.")
        entry = real()
        return tuple(entry(f"{name}[{i}]", v) for i, v in enumerate(value))

    def bad(self) -> dict[str, Any]:
        return {"str": "abc", "two": (1.0, 2.0), "none": None, "str-entry": (1.0, "2", 3.0)}


# The rules of Muon's direction, shared by every factory of this module.
RULES = dict(
    momentum=closed_unit_interval(schedule=True),
    nesterov=flag(),
    ns_coefficients=Coefficients(),
    ns_steps=Integer(0, 99, why="each step is unrolled into the program"),
    eps=nonnegative(),
    adjust_lr=choice("original", "match_rms_adamw", "none"),
    ns_dtype=dtype(),
    mu_dtype=state_format(),
)


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


def _check_matrices(params: Any) -> None:
    check_params(params)
    check_real_params(params, "Muon does not support complex parameters (nor does PyTorch's).")
    for path, leaf in jax.tree_util.tree_leaves_with_path(params):
        if jnp.ndim(leaf) != 2:
            raise UnnamedValueError(
                "Muon only supports 2D parameters whereas we found a parameter with "
                f"size: {tuple(jnp.shape(leaf))} at {path_name(path)}. Give the other "
                "parameters another optimizer (jopt.muon uses Adam for them), e.g. with "
                "optax.multi_transform."
            )


@checked(**RULES, ema=flag(), eps_clamp=flag(), rms_rate=nonnegative())
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

    X_K ≈ U Vᵀ of D_t = U S Vᵀ, with singular values spread around 1. Every leaf must be
    a real matrix: ``init`` raises ValueError for any other shape (use :func:`jopt.muon`,
    which gives the other leaves Adam's step, or ``optax.multi_transform``). The PyTorch
    and Keras variants are switches of this one transform. By default the iteration runs
    in the update's dtype (float32, or float64).

    Args:
      momentum: μ in [0, 1], or a schedule ``count -> μ`` (the state then keeps a count).
      nesterov: D_t = (1−μ) G_t + μ B_t (the default) or D_t = B_t.
      ns_coefficients: (a, b, c), Jordan's quintic by default.
      ns_steps: K, the number of Newton–Schulz steps, in [0, 99].
      eps: ε >= 0 of the normalization of D_t.
      ema: B_t = μ B_{t−1} + (1−μ) G_t (the default); ``False`` sums,
        B_t = μ B_{t−1} + G_t and D_t = G_t + μ B_t (Keras).
      eps_clamp: divide by max(‖D_t‖_F, ε) (PyTorch) instead of ‖D_t‖_F + ε.
      adjust_lr: the shape factor s for an m×n leaf: sqrt(max(1, m/n)) (``"original"``,
        Jordan's and PyTorch's default), ``rms_rate``·sqrt(max(m, n))
        (``"match_rms_adamw"``, Moonshot's) or 1 (``"none"``).
      rms_rate: the rate of ``"match_rms_adamw"`` (PyTorch's 0.2, Keras' ``rms_rate``).
      ns_dtype: the dtype the iteration runs in; ``jnp.bfloat16`` runs it in bfloat16 with
        float32 accumulation (PyTorch, and Jordan's reference code). None: the update's.
      mu_dtype: the dtype B is stored in.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.ScaleByTraceState` (the buffer B), a
      :class:`jopt.ScaleByCountedTraceState` for a momentum schedule.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_muon(ns_steps=30, ns_coefficients=(1.5, -0.5, 0.0))  # cubic: exact
    >>> g = jnp.array([[3.0, 0.0], [0.0, 0.5]])  # U S Vᵀ with U = V = I
    >>> tx.update(g, tx.init(g))[0].round(4)
    Array([[1., 0.],
           [0., 1.]], dtype=float32)
    """
    counted = callable(momentum)
    coefficients = (ns_coefficients[0], ns_coefficients[1], ns_coefficients[2])

    def init_fn(params):
        _check_matrices(params)
        return init_trace(params, mu_dtype, counted)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        mu_now = trace_momentum(momentum, state, updates)

        @per_dtype  # scalars once per dtype, not per leaf
        def scalars(dt):
            return ema_weights(mu_now, dt) if ema else (cast(mu_now, dt), None)

        def step(g, b):
            b = held(b, g, mu_dtype)
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
            return out.astype(g.dtype), write(b_new, b)

        out, trace = map_leaves(step, 2, updates, state.trace)
        return out, next_trace(state, trace)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def is_matrix(tree: Any) -> Any:
    """A tree of bools: True for the leaves with exactly two axes."""
    return jax.tree.map(lambda x: jnp.ndim(x) == 2, tree)


def is_not_matrix(tree: Any) -> Any:
    """A tree of bools: True for the leaves without exactly two axes."""
    return jax.tree.map(lambda x: jnp.ndim(x) != 2, tree)


def scaled(learning_rate: ScalarOrSchedule, ratio: Scalar) -> ScalarOrSchedule:
    """α·ratio, a constant or a schedule as α is (Keras' ``adam_lr_ratio``).

    >>> from jopt._algorithms.matrix.muon import scaled
    >>> scaled(0.1, 0.5), float(scaled(lambda count: 0.1 * count, 0.5)(4))
    (0.05, 0.2)
    """

    def product(value: Any) -> Any:
        if isinstance(value, (int, float)) and isinstance(ratio, (int, float)):
            return value * ratio
        value = jnp.asarray(value)
        return value * jnp.asarray(ratio).astype(value.dtype)

    if callable(learning_rate):
        schedule = learning_rate
        return lambda count: product(schedule(count))
    return product(learning_rate)


@checked(
    learning_rate=learning_rate(),
    **RULES,
    weight_decay=optional(nonnegative(schedule=True)),
    adam_learning_rate=optional(learning_rate()),
    adam_b1=unit_interval(schedule=True),
    adam_b2=unit_interval(),
    adam_eps=nonnegative(),
)
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
    ``MuonWithAuxAdam``, optax.contrib.muon and Keras do. (Reshape a convolution kernel to
    2-D yourself if it should take Muon's step.) Which step a leaf takes depends on its
    shape only: ``chain(masked(chain(scale_by_muon(...), add_decayed_weights(λ),
    scale_by_learning_rate(α)), is_matrix), masked(chain(scale_by_adam(...),
    add_decayed_weights(λ), scale_by_learning_rate(α_A)), is_not_matrix))``.

    Defaults are Jordan's reference: α = 0.02, μ = 0.95, Nesterov, (a, b, c) = (3.4445,
    −4.7750, 2.0315), K = 5, ε = 1e-7, s = sqrt(max(1, m/n)). The iteration runs in the
    update's dtype (Jordan's code uses bfloat16: pass ``ns_dtype=jnp.bfloat16``).

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.
      momentum: μ in [0, 1], or a schedule.
      nesterov: Nesterov's D_t (the default) or the buffer itself.
      ns_coefficients: (a, b, c).
      ns_steps: K in [0, 99].
      eps: ε >= 0.
      adjust_lr: the shape factor, as in :func:`jopt.scale_by_muon`.
      weight_decay: λ >= 0, or a schedule; ``None`` (the default): off. Decoupled:
        θ ← θ(1 − αλ) on Muon's leaves, θ ← θ(1 − α_A λ) on the others.
      ns_dtype: the dtype the iteration runs in (None: the update's).
      adam_learning_rate: α_A >= 0, or a schedule; ``None``: α.
      adam_b1: Adam's β1 in [0, 1), or a schedule.
      adam_b2: Adam's β2 in [0, 1).
      adam_eps: Adam's ε >= 0.
      mu_dtype: the dtype Muon's buffer and Adam's m are stored in.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

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
    decay = optional_decay(weight_decay)
    matrices = optax.chain(
        scale_by_muon(
            momentum,
            nesterov=nesterov,
            ns_coefficients=ns_coefficients,
            ns_steps=ns_steps,
            eps=eps,
            adjust_lr=adjust_lr,
            ns_dtype=ns_dtype,
            mu_dtype=mu_dtype,
        ),
        *decay,
        scale_by_learning_rate(learning_rate),
    )
    adam_lr = learning_rate if adam_learning_rate is None else adam_learning_rate
    others = optax.chain(
        scale_by_adam(adam_b1, adam_b2, adam_eps, mu_dtype=mu_dtype),
        *decay,
        scale_by_learning_rate(adam_lr),
    )
    return chain(optax.masked(matrices, is_matrix), optax.masked(others, is_not_matrix))
