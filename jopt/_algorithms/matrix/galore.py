"""GaLore (Zhao et al. 2024): an optimizer run on low-rank projections of the matrix
gradients, the projector refreshed by an SVD every few steps."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._algorithms.adam.adam import scale_by_adam
from jopt._algorithms.regularization.weight_decay import MASK, optional_decay
from jopt._core.chain import chain
from jopt._core.checks import (
    UnnamedValueError,
    checked,
    choice,
    integer,
    learning_rate,
    nonnegative,
    optional,
    real,
    transformation,
    unchecked,
)
from jopt._core.dtypes import cast, compute_dtype
from jopt._core.hyperparams import ScalarOrSchedule
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.state import check_real_params, increment, zero_count


class GaLoreDimensionNumbers(NamedTuple):
    """Which axes of a tensor GaLore treats as the matrix's rows (``reduction_axis``) and
    columns (``output_axis``), as optax.contrib.GaLoreDimensionNumbers.

    Args:
      reduction_axis: the axis, or axes, that form the matrix's rows.
      output_axis: the axis, or axes, that form its columns.

    >>> import jopt
    >>> jopt.GaLoreDimensionNumbers()
    GaLoreDimensionNumbers(reduction_axis=0, output_axis=1)
    """

    reduction_axis: Sequence[int] | int = 0
    output_axis: Sequence[int] | int = 1


def _is_dims(x: Any) -> bool:
    return x is None or isinstance(x, GaLoreDimensionNumbers)


def _axes(ndim: int, axis: Sequence[int] | int) -> tuple[int, ...]:
    return (axis % ndim,) if isinstance(axis, int) else tuple(a % ndim for a in axis)


def _as_matrix(
    x: Any, dims: GaLoreDimensionNumbers
) -> tuple[Callable[..., Any], Callable[..., Any], int, int]:
    """(to_2d, from_2d, m, n): the tensor as an m × n matrix and back."""
    if x.ndim < 2:
        raise ValueError(f"GaLore needs a leaf of rank >= 2, got shape {x.shape}.")
    rows, cols = _axes(x.ndim, dims.reduction_axis), _axes(x.ndim, dims.output_axis)
    if set(rows) & set(cols) or len(set(rows) | set(cols)) != x.ndim:
        raise ValueError(
            f"GaLore's dimension numbers must split the axes of shape {x.shape} into "
            f"disjoint rows and columns; got {dims}."
        )
    order = rows + cols
    inverse = tuple(sorted(range(x.ndim), key=lambda i: order[i]))
    m = math.prod(x.shape[a] for a in rows)
    n = math.prod(x.shape[a] for a in cols)
    shape = tuple(x.shape[a] for a in order)
    return (
        lambda y: y.transpose(order).reshape(m, n),
        lambda y: y.reshape(shape).transpose(inverse),
        m,
        n,
    )


class GaLoreState(NamedTuple):
    """GaLore's state (:func:`jopt.scale_by_galore`), optax.contrib.GaLoreState's fields.

    Args:
      count: int32, steps taken.
      base_optimizer_state: the base optimizer's state, over the projected gradients.
      projector: per leaf, its projector (m × r on the left, n × r on the right), or an
        empty (0, 0) array for a leaf that is not projected.

    >>> import jax.numpy as jnp, jopt
    >>> state = jopt.scale_by_galore(rank=2).init({"w": jnp.zeros((5, 3))})
    >>> state.projector["w"].shape  # a tall matrix: projected on the right (3 × 2)
    (3, 2)
    """

    count: jax.Array
    base_optimizer_state: Any
    projector: Any


@checked(
    rank=integer(1),
    update_proj_gap=integer(1, traced=True),
    scale=real(),
    base_optimizer=optional(transformation("jopt.scale_by_adam()")),
    weight_dimension_numbers=unchecked(
        "GaLoreDimensionNumbers, a tree of them (None: not projected) or a function of "
        "the params: checked leaf by leaf at init"
    ),
    projection_type=choice("std", "reverse_std"),
)
def scale_by_galore(
    rank: int = 128,
    update_proj_gap: Any = 200,
    scale: Any = 0.25,
    base_optimizer: optax.GradientTransformation | None = None,
    weight_dimension_numbers: Any | None = None,
    *,
    projection_type: str = "std",
) -> optax.GradientTransformationExtraArgs:
    """GaLore's update: the base optimizer run on projected matrix gradients, projected back.

    For a matrix leaf G (m × n; other leaves go to the base optimizer unprojected), with
    r = min(rank, m, n) and U Σ Vᵀ the SVD of G at the steps t = 1, T + 1, 2T + 1, …
    (T = ``update_proj_gap``; computed in float32, as every reference does):

    ``"std"`` (the paper's code and pytorch_optimizer's): m >= n projects on the right,
    Q = V[:, :r], R = G Q (m × r), Δ = s · B(R) Qᵀ; m < n on the left, P = U[:, :r],
    R = Pᵀ G (r × n), Δ = s · P B(R); ``"reverse_std"`` swaps the sides (optax.contrib's
    choice). B is ``base_optimizer`` (default: the paper's Adam, the step-size bias
    correction with ε = 1e-6 outside, ``scale_by_adam(eps=1e-6, eps_hat=True)``), s is
    ``scale`` (the paper's α = 0.25).

    Between refreshes the base optimizer's moments carry over in the projected space
    (the paper's choice). An SVD's singular vectors are fixed up to sign; a sign flip
    cancels in P B(PᵀG) for a sign-equivariant B (Adam), except in moments carried
    across a refresh, so two implementations agree exactly only on the same projector.

    Args:
      rank: r >= 1.
      update_proj_gap: T >= 1, the steps between SVDs.
      scale: s, the scale of the projected-back update.
      base_optimizer: the optimizer of the projected gradients (None: the paper's Adam).
      weight_dimension_numbers: None (the 2-D leaves, as matrices), a
        :class:`jopt.GaLoreDimensionNumbers` (every leaf of rank >= 2), a tree of them
        (None: not projected), or a function ``params -> tree``; as optax's.
      projection_type: ``"std"`` or ``"reverse_std"`` (optax's sides).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a :class:`jopt.GaLoreState`.

    >>> import jax.numpy as jnp, optax, jopt
    >>> tx = jopt.scale_by_galore(rank=1, scale=1.0, base_optimizer=optax.identity())
    >>> g = jnp.array([[3.0, 0.0], [0.0, 1.0], [0.0, 0.0]])  # keeps the top direction
    >>> tx.update(g, tx.init(g))[0]
    Array([[3., 0.],
           [0., 0.],
           [0., 0.]], dtype=float32)
    """
    base = scale_by_adam(eps=1e-6, eps_hat=True) if base_optimizer is None else base_optimizer
    base = optax.with_extra_args_support(base)

    def dims_of(tree):
        if weight_dimension_numbers is None:
            return jax.tree.map(lambda p: GaLoreDimensionNumbers() if p.ndim == 2 else None, tree)
        if callable(weight_dimension_numbers):
            return weight_dimension_numbers(tree)
        if isinstance(weight_dimension_numbers, GaLoreDimensionNumbers):
            return jax.tree.map(lambda p: weight_dimension_numbers if p.ndim >= 2 else None, tree)
        return weight_dimension_numbers

    def right_side(m: int, n: int) -> bool:
        """Whether a leaf is projected on the right (its columns)."""
        return (m >= n) == (projection_type == "std")

    def shapes(p, dims):
        if dims is None:
            return jnp.zeros((0, 0), p.dtype), jnp.zeros_like(p)
        _, _, m, n = _as_matrix(p, dims)
        r = min(rank, m, n)
        if right_side(m, n):
            return jnp.zeros((n, r), p.dtype), jnp.zeros((m, r), p.dtype)
        return jnp.zeros((m, r), p.dtype), jnp.zeros((r, n), p.dtype)

    def split(tree, pairs):
        treedef = jax.tree.structure(tree)
        return jax.tree.transpose(treedef, jax.tree.structure((0, 0)), pairs)

    def init_fn(params):
        check_real_params(params, "GaLore's SVD projection takes real matrices.")
        pairs = jax.tree.map(shapes, params, dims_of(params), is_leaf=_is_dims)
        projectors, proxies = split(params, pairs) if jax.tree.leaves(params) else (params, params)
        return GaLoreState(zero_count(params), base.init(proxies), projectors)

    def update_fn(updates, state, params=None, **extra_args):
        del params
        if jax.tree.structure(updates) != jax.tree.structure(state.projector):
            raise UnnamedValueError(
                f"the gradients' tree {jax.tree.structure(updates)} is not the params' "
                f"tree {jax.tree.structure(state.projector)} that init was given."
            )
        refresh = state.count % jnp.asarray(update_proj_gap, jnp.int32) == 0
        dims = dims_of(updates)

        def project(g, proj, d):
            if d is None:
                return g, proj
            to_2d, _, m, n = _as_matrix(g, d)
            g2 = to_2d(g)
            r, right = min(rank, m, n), right_side(m, n)

            def fresh():
                u, _, vh = jnp.linalg.svd(g2.astype(jnp.float32), full_matrices=False)
                return (vh[:r].T if right else u[:, :r]).astype(proj.dtype)

            proj = jax.lax.cond(refresh, fresh, lambda: proj)
            dt = compute_dtype(g)
            p, g2 = proj.astype(dt), g2.astype(dt)
            return (g2 @ p if right else p.T @ g2).astype(g.dtype), proj

        def back(low, proj, g, d):
            if d is None:
                return low
            _, from_2d, m, n = _as_matrix(g, d)
            dt = compute_dtype(g)
            p, low = proj.astype(dt), low.astype(dt)
            full = low @ p.T if right_side(m, n) else p @ low
            return (cast(scale, dt) * from_2d(full)).astype(g.dtype)

        pairs = jax.tree.map(project, updates, state.projector, dims, is_leaf=_is_dims)
        low, projectors = split(updates, pairs)
        low_updates, base_state = base.update(low, state.base_optimizer_state, None, **extra_args)
        out = jax.tree.map(back, low_updates, projectors, updates, dims, is_leaf=_is_dims)
        return out, GaLoreState(increment(state.count), base_state, projectors)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(
    learning_rate=learning_rate(),
    rank=integer(1),
    update_proj_gap=integer(1, traced=True),
    scale=real(),
    base_optimizer=optional(transformation("jopt.scale_by_adam()")),
    weight_decay=optional(nonnegative(schedule=True)),
    mask=MASK,
    weight_dimension_numbers=unchecked("as scale_by_galore's"),
    projection_type=choice("std", "reverse_std"),
)
def galore(
    learning_rate: ScalarOrSchedule = 1e-3,
    rank: int = 128,
    update_proj_gap: Any = 200,
    scale: Any = 0.25,
    base_optimizer: optax.GradientTransformation | None = None,
    weight_decay: ScalarOrSchedule | None = None,
    mask: Any | None = None,
    weight_dimension_numbers: Any | None = None,
    *,
    projection_type: str = "std",
) -> optax.GradientTransformationExtraArgs:
    """GaLore (Zhao et al. 2024, "GaLore: Memory-Efficient LLM Training by Gradient
    Low-Rank Projection"): optax.contrib.galore's signature.

    Δθ = −α (s · proj_back(B(proj(g))) + λθ), see :func:`jopt.scale_by_galore`.
    Defaults: the paper's rank 128, T = 200, s = 0.25 and Adam (β = (0.9, 0.999),
    ε = 1e-6 in the step-size form), α = 1e-3 (pytorch_optimizer's), no decay.
    pytorch_optimizer's ``GaLore`` (with ``rank``, ``update_proj_gap``, ``scale`` and
    ``projection_type="std"`` in the group) is ``galore(lr, rank, T, s)``, with two
    details: it refreshes the projector at steps 1, T, 2T, … (the paper's code and optax
    at 1, T + 1, …), and it decays θ after the step, θ(1 − αλ), which differs from the
    decoupled −αλθ here by α²λ·Δ. optax's: ``scale=1, projection_type="reverse_std",
    base_optimizer=jopt.scale_by_adam()``.

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.
      rank: r >= 1.
      update_proj_gap: T >= 1.
      scale: s.
      base_optimizer: the optimizer of the projected gradients (None: the paper's Adam).
      weight_decay: λ >= 0 (decoupled), or None (off).
      mask: the leaves that decay.
      weight_dimension_numbers: as :func:`jopt.scale_by_galore`.
      projection_type: ``"std"`` or ``"reverse_std"``.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.galore(0.1, rank=1)
    >>> params = {"w": jnp.ones((3, 2)), "b": jnp.zeros(2)}
    >>> jnp.shape(tx.init(params)[0].projector["w"])
    (2, 1)
    """
    return chain(
        scale_by_galore(
            rank,
            update_proj_gap,
            scale,
            base_optimizer,
            weight_dimension_numbers,
            projection_type=projection_type,
        ),
        *optional_decay(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
