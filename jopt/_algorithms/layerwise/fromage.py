"""Fromage (Bernstein et al. 2020): a step of relative size α per leaf, then a shrink."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._core.chain import chain
from jopt._core.checks import checked, learning_rate, nonnegative, optional, positive
from jopt._core.dtypes import cast, compute_dtype, real_dtype
from jopt._core.elementwise import abs_sq
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.state import check_update_params, evaluate, increment, zero_count


def _norm(x: jax.Array) -> jax.Array:
    return jnp.sqrt(jnp.sum(abs_sq(x)))


@checked(min_norm=nonnegative())
def scale_by_fromage(min_norm: Scalar = 0.0) -> optax.GradientTransformationExtraArgs:
    """Fromage's direction, per leaf: u = (‖θ‖/‖g‖)·g, the gradient rescaled to the
    parameter's norm (1 where a norm is 0).

    With ``min_norm`` > 0 both norms are first raised to at least ``min_norm`` (optax's
    ``scale_by_trust_ratio(min_norm)``, which optax.fromage uses with 1e-6). Stateless.

    Args:
      min_norm: the floor of both norms (0: none, the paper's and pytorch_optimizer's).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with an empty state; ``update`` needs
      ``params``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_fromage()
    >>> params = jnp.array([3.0, 4.0])  # ‖θ‖ = 5
    >>> tx.update(jnp.array([0.0, 2.0]), tx.init(params), params)[0]
    Array([0., 5.], dtype=float32)
    """

    def init_fn(params):
        del params
        return optax.EmptyState()

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        check_update_params(updates, params, "(the step is relative to their norm)")

        def scale(g, p):
            dt = compute_dtype(g)
            gw, pw = g.astype(dt), p.astype(dt)
            floor = cast(min_norm, real_dtype(dt))
            p_norm, g_norm = jnp.maximum(_norm(pw), floor), jnp.maximum(_norm(gw), floor)
            safe = (p_norm > 0) & (g_norm > 0)
            ratio = jnp.where(safe, p_norm, 1.0) / jnp.where(safe, g_norm, 1.0)
            return (gw * ratio.astype(dt)).astype(g.dtype)

        return jax.tree.map(scale, updates, params), state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


class FromageShrinkState(NamedTuple):
    """The state of Fromage's shrink (:func:`jopt.fromage`): what it needs of the run.

    Args:
      count: int32, updates applied (a learning-rate schedule's argument; 0 otherwise).
      bound: per leaf, the largest norm allowed (``p_bound``·‖θ_0‖), or ``None``.

    >>> import jax.numpy as jnp, jopt
    >>> state = jopt.fromage(p_bound=2.0).init(jnp.array([3.0, 4.0]))
    >>> state[2].bound
    Array(10., dtype=float32)
    """

    count: jax.Array
    bound: Any


def _shrink(
    learning_rate: ScalarOrSchedule, p_bound: Scalar | None
) -> optax.GradientTransformationExtraArgs:
    """θ ← (θ + u)/sqrt(1 + α²), then rescaled to norm ``p_bound``·‖θ_0‖ if above it,
    returned as an update (from checked arguments)."""

    def init_fn(params):
        bound = None
        if p_bound is not None:
            bound = jax.tree.map(
                lambda p: (
                    cast(p_bound, real_dtype(compute_dtype(p))) * _norm(p.astype(compute_dtype(p)))
                ),
                params,
            )
        return FromageShrinkState(zero_count(params), bound)

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        check_update_params(updates, params, "(Fromage shrinks them)")
        lr = evaluate(learning_rate, state.count, "the learning-rate schedule")

        def step(u, p, bound=None):
            dt = compute_dtype(u)
            a = cast(lr, real_dtype(dt))
            new = (p.astype(dt) + u.astype(dt)) / jnp.sqrt(1.0 + a * a).astype(dt)
            if bound is not None:
                n = _norm(new)
                new = jnp.where(n > bound, new * bound.astype(dt) / n.astype(dt), new)
            return (new - p.astype(dt)).astype(u.dtype)

        if state.bound is None:
            out = jax.tree.map(step, updates, params)
        else:
            out = jax.tree.map(step, updates, params, state.bound)
        return out, FromageShrinkState(increment(state.count), state.bound)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(learning_rate=learning_rate(), min_norm=nonnegative(), p_bound=optional(positive()))
def fromage(
    learning_rate: ScalarOrSchedule = 1e-2,
    min_norm: Scalar = 0.0,
    *,
    p_bound: Scalar | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Fromage (Bernstein et al. 2020, "On the distance between two neural networks and
    the stability of learning"), per leaf:

    θ ← (θ − α (‖θ‖/‖g‖) g) / sqrt(1 + α²)   (the ratio 1 where a norm is 0),

    then, with ``p_bound``, θ rescaled onto the sphere of radius ``p_bound``·‖θ_0‖ when
    it lies outside. ``chain(scale_by_fromage(min_norm), scale_by_learning_rate(α),
    <the shrink>)``. Defaults are pytorch_optimizer's ``Fromage`` (α = 1e-2), which it
    matches in lockstep; optax.fromage is ``min_norm=1e-6``.

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.
      min_norm: the floor of both norms in the ratio (optax's 1e-6; 0: none).
      p_bound: > 0, or ``None`` (off): bound each leaf's norm by ``p_bound`` times its
        initial norm.

    Returns:
      An ``optax.GradientTransformationExtraArgs``; ``update`` needs ``params``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.fromage(0.75)
    >>> params = jnp.array([0.0, 5.0])
    >>> params + tx.update(jnp.array([0.0, 2.0]), tx.init(params), params)[0]
    Array([0., 1.], dtype=float32)
    """
    return chain(
        scale_by_fromage(min_norm),
        scale_by_learning_rate(learning_rate),
        _shrink(learning_rate, p_bound),
    )
