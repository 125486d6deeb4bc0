"""DoG (Ivgi et al. 2023) and DoWG (Khaled et al. 2023): step sizes from the distance
travelled over the gradients seen."""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._algorithms.parameter_free._tree import copy_params, sq_distance, sq_norm, tree_dtype
from jopt._algorithms.regularization.weight_decay import MASK, optional_decay
from jopt._core.chain import chain
from jopt._core.checks import (
    checked,
    choice,
    flag,
    learning_rate,
    nonnegative,
    optional,
    pair,
    positive,
)
from jopt._core.dtypes import cast
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.layout import PerParam
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.state import check_update_params, scalar
from jopt.sharding._leafwise import map_leaves

InitStep = tuple[Literal["distance", "learning_rate", "heuristic"], Scalar]
"""DoG's first step: ``(tag, value)`` (see :func:`jopt.scale_by_dog`)."""

INIT_STEP = pair(
    choice("distance", "learning_rate", "heuristic"),
    positive(),
    what="a pair (tag, value), tag one of 'distance', 'learning_rate', 'heuristic'",
)


class DoGState(NamedTuple):
    """DoG's state (:func:`jopt.scale_by_dog`), optax.contrib's fields.

    Args:
      is_init_step: bool, True before the first update.
      init_params: x₀, the parameters given to ``init``.
      max_dist: r̄, the largest distance ‖x_t − x₀‖ seen (at least r_ε).
      sum_sq_norm_grads: G, the sum of the squared gradient norms (with ε).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_dog(("distance", 0.5))
    >>> state = tx.init(jnp.zeros(2))
    >>> state.max_dist, state.sum_sq_norm_grads
    (Array(0.5, dtype=float32), Array(0., dtype=float32))
    """

    is_init_step: jax.Array
    init_params: PerParam
    max_dist: jax.Array
    sum_sq_norm_grads: jax.Array


class DoWGState(NamedTuple):
    """DoWG's state (:func:`jopt.scale_by_dowg`), optax.contrib's fields.

    Args:
      init_params: x₀, the parameters given to ``init``.
      weighted_sq_norm_grads: v, the sum of r̄_t²‖g_t‖².
      estim_sq_dist: r̄², the largest squared distance ‖x_t − x₀‖² seen (at least r_ε²).

    >>> import jax.numpy as jnp, jopt
    >>> jopt.scale_by_dowg(0.25).init(jnp.zeros(2)).estim_sq_dist
    Array(0.25, dtype=float32)
    """

    init_params: PerParam
    weighted_sq_norm_grads: jax.Array
    estim_sq_dist: jax.Array


def _scaled(updates: Any, rate: jax.Array) -> Any:
    """η·g leafwise, η cast to each leaf's dtype."""
    (out,) = map_leaves(lambda g: ((cast(rate, g.dtype) * g),), 1, updates)
    return out


@checked(init_step=INIT_STEP, eps=nonnegative())
def scale_by_dog(
    init_step: InitStep = ("heuristic", 1e-6), eps: Scalar = 1e-8
) -> optax.GradientTransformationExtraArgs:
    """DoG's step η_t g_t, with one step size for the whole tree (Ivgi et al. 2023):

    r̄_t = max(r_ε, max_{k<=t} ‖x_k − x₀‖),  G_t = ε + Σ_{k<=t} ‖g_k‖²,
    η_t = r̄_t / sqrt(G_t).

    r_ε comes from ``init_step = (tag, value)``: ``"heuristic"``: r_ε = value·(1 + ‖x₀‖)
    (the authors' ``reps_rel``, 1e-6 by default, 1e-4 with batch normalization);
    ``"distance"``: r_ε = value; ``"learning_rate"``: r_ε = 0 and η_1 = value. This is
    the authors' ``DoG`` (its ε added once to G, its single parameter group) and
    optax.contrib's ``scale_by_dog``. ``init`` must get the real parameters (x₀).

    Args:
      init_step: ``(tag, value)``, tag one of ``"heuristic"``, ``"distance"``,
        ``"learning_rate"``, value > 0.
      eps: ε >= 0, added to the sum of squared gradient norms.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.DoGState`; ``update`` needs ``params``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_dog(("distance", 0.5), eps=0.0)
    >>> params = jnp.zeros(2)
    >>> tx.update(jnp.array([3.0, 4.0]), tx.init(params), params)[0]  # 0.5/5 · g
    Array([0.3, 0.4], dtype=float32)
    """
    tag, value = init_step

    def init_fn(params):
        dt = tree_dtype(params)
        if tag == "heuristic":
            r_eps = cast(value, dt) * (1 + jnp.sqrt(sq_norm(params, dt)))
        elif tag == "distance":
            r_eps = cast(value, dt)
        else:
            r_eps = jnp.zeros((), dt)
        return DoGState(
            is_init_step=scalar(params, True, jnp.bool_),
            init_params=copy_params(params),
            max_dist=scalar(params, r_eps, dt),
            sum_sq_norm_grads=scalar(params, 0.0, dt),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        check_update_params(updates, params, "(DoG measures ‖x − x₀‖)", state.init_params)
        dt = state.max_dist.dtype
        dist = jnp.sqrt(sq_distance(params, state.init_params, dt))
        max_dist = jnp.maximum(state.max_dist, dist)
        total = state.sum_sq_norm_grads + sq_norm(updates, dt)
        rate = max_dist / jnp.sqrt(total + cast(eps, dt))
        if tag == "learning_rate":
            rate = jnp.where(state.is_init_step, cast(value, dt), rate)
        new = DoGState(jnp.zeros_like(state.is_init_step), state.init_params, max_dist, total)
        return _scaled(updates, rate), new

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(
    learning_rate=learning_rate(),
    init_step=INIT_STEP,
    eps=nonnegative(),
    weight_decay=optional(nonnegative(schedule=True)),
    mask=MASK,
)
def dog(
    learning_rate: ScalarOrSchedule = 1.0,
    init_step: InitStep = ("heuristic", 1e-6),
    eps: Scalar = 1e-8,
    weight_decay: ScalarOrSchedule | None = None,
    mask: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """DoG, "Distance over Gradients" (Ivgi, Hinder & Carmon 2023, "DoG is SGD's Best
    Friend: A Parameter-Free Dynamic Step Size Schedule").

    g_t ← g_t + λx_t (coupled, as the authors' ``weight_decay``),
    r̄_t = max(r_ε, max_{k<=t} ‖x_k − x₀‖),  G_t = ε + Σ_{k<=t} ‖g_k‖²,
    x_{t+1} = x_t − α r̄_t / sqrt(G_t) · g_t.

    ``chain(add_decayed_weights(λ, mask), scale_by_dog(init_step, eps),
    scale_by_learning_rate(learning_rate))``, optax.contrib.dog's arguments and defaults,
    the authors' algorithm (``dog-optimizer``'s ``DoG``; α = 1 leaves the step
    parameter-free, a schedule scales it). One difference: with ``init_step =
    ("learning_rate", η)`` the authors' first step is η·g, here (and in optax) αη·g.
    The authors recommend evaluating a running average of the iterates.

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.
      init_step: ``(tag, value)``, see :func:`jopt.scale_by_dog`.
      eps: ε >= 0.
      weight_decay: λ >= 0, or a schedule; ``None`` (the default): off.
      mask: the leaves that decay, as in :func:`jopt.adamw`.

    Returns:
      An ``optax.GradientTransformationExtraArgs``; ``update`` needs ``params``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.dog(init_step=("distance", 0.5), eps=0.0)
    >>> params = jnp.zeros(2)
    >>> tx.update(jnp.array([3.0, 4.0]), tx.init(params), params)[0]
    Array([-0.3, -0.4], dtype=float32)
    """
    decay = optional_decay(weight_decay, mask)
    return chain(*decay, scale_by_dog(init_step, eps), scale_by_learning_rate(learning_rate))


@checked(init_estim_sq_dist=optional(positive()), eps=nonnegative(), eps_in_rate=flag())
def scale_by_dowg(
    init_estim_sq_dist: Scalar | None = None,
    eps: Scalar = 1e-4,
    *,
    eps_in_rate: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """DoWG's step η_t g_t, with one step size for the whole tree (Khaled et al. 2023,
    Algorithm 1):

    r̄_t² = max(r̄_{t−1}², ‖x_t − x₀‖²),  v_t = v_{t−1} + r̄_t² ‖g_t‖²,
    η_t = r̄_t² / sqrt(v_t)           (the paper: the default; η_t = 0 while v_t = 0)
    η_t = r̄_t² / (sqrt(v_t) + ε)     (optax.contrib: ``eps_in_rate=True``)

    r̄_0² = ``init_estim_sq_dist``, or ε when it is None (optax's rule, r_ε² = 1e-4).
    ``init`` must get the real parameters (x₀).

    Args:
      init_estim_sq_dist: r_ε² > 0, the first squared-distance estimate, or None: ε.
      eps: ε >= 0.
      eps_in_rate: add ε to sqrt(v_t) in the rate's denominator (optax's form).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.DoWGState`; ``update`` needs ``params``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_dowg(0.25)
    >>> params = jnp.zeros(2)
    >>> tx.update(jnp.array([3.0, 4.0]), tx.init(params), params)[0]  # r_ε/‖g‖ · g
    Array([0.3, 0.4], dtype=float32)
    """
    first = eps if init_estim_sq_dist is None else init_estim_sq_dist

    def init_fn(params):
        dt = tree_dtype(params)
        return DoWGState(
            init_params=copy_params(params),
            weighted_sq_norm_grads=scalar(params, 0.0, dt),
            estim_sq_dist=scalar(params, cast(first, dt), dt),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        check_update_params(updates, params, "(DoWG measures ‖x − x₀‖)", state.init_params)
        dt = state.estim_sq_dist.dtype
        sq_dist = jnp.maximum(state.estim_sq_dist, sq_distance(params, state.init_params, dt))
        v = state.weighted_sq_norm_grads + sq_dist * sq_norm(updates, dt)
        if eps_in_rate:
            rate = sq_dist / (jnp.sqrt(v) + cast(eps, dt))
        else:
            on = v > 0
            rate = jnp.where(on, sq_dist / jnp.sqrt(jnp.where(on, v, 1.0)), 0.0)
        return _scaled(updates, rate), DoWGState(state.init_params, v, sq_dist)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(
    learning_rate=learning_rate(),
    init_estim_sq_dist=optional(positive()),
    eps=nonnegative(),
    weight_decay=optional(nonnegative(schedule=True)),
    mask=MASK,
    eps_in_rate=flag(),
)
def dowg(
    learning_rate: ScalarOrSchedule = 1.0,
    init_estim_sq_dist: Scalar | None = None,
    eps: Scalar = 1e-4,
    weight_decay: ScalarOrSchedule | None = None,
    mask: Any | None = None,
    *,
    eps_in_rate: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """DoWG, "Distance over Weighted Gradients" (Khaled, Mishchenko & Jin 2023, "DoWG
    Unleashed: An Efficient Universal Parameter-Free Gradient Descent Method").

    r̄_t² = max(r̄_{t−1}², ‖x_t − x₀‖²),  v_t = v_{t−1} + r̄_t² ‖g_t‖²,
    x_{t+1} = x_t − α r̄_t² / sqrt(v_t) · g_t.

    ``chain(add_decayed_weights(λ, mask), scale_by_dowg(init_estim_sq_dist, eps),
    scale_by_learning_rate(learning_rate))`` with optax.contrib.dowg's arguments. The
    default is the paper's rate; optax adds ε to its denominator (``eps_in_rate=True``).

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α`` (1: parameter-free).
      init_estim_sq_dist: r_ε² > 0, or None: ε.
      eps: ε >= 0.
      weight_decay: λ >= 0 (coupled, added to g), or a schedule; ``None``: off.
      mask: the leaves that decay, as in :func:`jopt.adamw`.
      eps_in_rate: optax's rate r̄_t² / (sqrt(v_t) + ε).

    Returns:
      An ``optax.GradientTransformationExtraArgs``; ``update`` needs ``params``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.dowg(init_estim_sq_dist=0.25)
    >>> params = jnp.zeros(2)
    >>> tx.update(jnp.array([3.0, 4.0]), tx.init(params), params)[0]
    Array([-0.3, -0.4], dtype=float32)
    """
    decay = optional_decay(weight_decay, mask)
    return chain(
        *decay,
        scale_by_dowg(init_estim_sq_dist, eps, eps_in_rate=eps_in_rate),
        scale_by_learning_rate(learning_rate),
    )
