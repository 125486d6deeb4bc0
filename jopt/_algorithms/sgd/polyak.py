"""SGD with the Polyak step size (Loizou et al. 2021): (f − f*)/‖g‖², capped."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from jopt._core.chain import chain
from jopt._core.checks import (
    UnnamedTypeError,
    checked,
    choice,
    flag,
    learning_rate,
    nonnegative,
    real,
)
from jopt._core.dtypes import cast, compute_dtype, real_dtype
from jopt._core.elementwise import abs_sq
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.learning_rate import scale_by_learning_rate

# optax's threshold: a squared norm (plus ε) at or below float64's epsilon takes no step
TINY = float(jnp.finfo(jnp.float64).eps)
RULES = dict(
    f_min=real(), max_learning_rate=nonnegative(), eps=nonnegative(), variant=choice("sps", "sps+")
)


@checked(**RULES)
def scale_by_polyak(
    f_min: Scalar = 0.0,
    max_learning_rate: Scalar = 1.0,
    eps: Scalar = 0.0,
    variant: str = "sps",
) -> optax.GradientTransformationExtraArgs:
    """The Polyak step size times the updates: u ← γ g with

    γ = min((f − f*) / (‖g‖² + ε), γ_max)   (``"sps"``; ``"sps+"``: (f − f*)₊),

    ‖g‖ the norm of the whole tree, f the loss passed as ``value=``; γ = 0 where
    ‖g‖² + ε is at most float64's epsilon. As optax.scale_by_polyak. Stateless.

    Args:
      f_min: f*, a lower bound of the loss.
      max_learning_rate: γ_max >= 0.
      eps: ε >= 0.
      variant: ``"sps"`` or ``"sps+"`` (Garrigos et al. 2023: the positive part).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose ``update`` takes the loss as
      the keyword ``value``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_polyak(max_learning_rate=10.0)
    >>> g = jnp.array([1.0, 1.0])
    >>> tx.update(g, tx.init(g), value=jnp.array(1.0))[0]  # γ = 1/2
    Array([0.5, 0.5], dtype=float32)
    """

    def init_fn(params):
        del params
        return optax.EmptyState()

    def update_fn(updates, state, params=None, *, value=None, **extra_args):
        del params, extra_args
        if value is None:
            raise UnnamedTypeError(
                "update() needs the loss: call tx.update(grads, state, params, value=loss)."
            )
        leaves = jax.tree.leaves(updates)
        dts = [real_dtype(compute_dtype(g)) for g in leaves]
        wide = max(dts, key=lambda d: jnp.finfo(d).bits, default=jnp.dtype(jnp.float32))
        # each square in the leaf's compute dtype, summed in the widest (a float32
        # leaf's sum in float32 would change with how a mesh splits it)
        sq = sum(
            (jnp.sum(abs_sq(g.astype(compute_dtype(g))).astype(wide)) for g in leaves),
            jnp.zeros((), wide),
        )
        gap = jnp.asarray(value).astype(wide) - cast(f_min, wide)
        if variant == "sps+":
            gap = jnp.maximum(gap, 0.0)
        denom = sq + cast(eps, wide)
        gamma = jnp.where(
            denom <= TINY,
            jnp.zeros((), wide),
            jnp.minimum(gap / jnp.where(denom <= TINY, 1.0, denom), cast(max_learning_rate, wide)),
        )
        out = jax.tree.map(
            lambda g: (g.astype(compute_dtype(g)) * gamma.astype(compute_dtype(g))).astype(g.dtype),
            updates,
        )
        return out, state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(**RULES, scaling=learning_rate(), scaled_norm=flag())
def polyak_sgd(
    max_learning_rate: Scalar = 1.0,
    scaling: ScalarOrSchedule = 1.0,
    f_min: Scalar = 0.0,
    eps: Scalar = 0.0,
    variant: str = "sps",
    *,
    scaled_norm: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """SGD with the Polyak step size (Loizou et al. 2021, "Stochastic Polyak Step-size
    for SGD", SPS_max with c = 1):

    Δθ = −s · min((f − f*) / (‖g‖² + ε), γ_max) · g,

    f the loss passed as ``update(..., value=loss)``. ``chain(scale_by_polyak(f_min,
    max_learning_rate, eps, variant), scale_by_learning_rate(scaling))``: the paper's
    and optax's documented formula. optax.polyak_sgd applies ``scaling`` before the
    Polyak step, so its ‖g‖² is of s·g (the same for s = 1, its default):
    ``scaled_norm=True`` reproduces it.

    Args:
      max_learning_rate: γ_max >= 0.
      scaling: s >= 0, or a schedule ``count -> s``.
      f_min: f*, a lower bound of the loss.
      eps: ε >= 0.
      variant: ``"sps"`` or ``"sps+"``.
      scaled_norm: optax's order (the norm of the scaled gradient).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose ``update`` takes ``value=``.

    >>> import jax, jax.numpy as jnp, optax, jopt
    >>> f = lambda x: jnp.sum(x**2)
    >>> tx, x = jopt.polyak_sgd(), jnp.array([1.0, 2.0])
    >>> u, _ = tx.update(jax.grad(f)(x), tx.init(x), x, value=f(x))
    >>> optax.apply_updates(x, u)  # γ = f/‖g‖² = 5/20
    Array([0.5, 1. ], dtype=float32)
    """
    polyak = scale_by_polyak(f_min, max_learning_rate, eps, variant)
    rate = scale_by_learning_rate(scaling)
    return chain(rate, polyak) if scaled_norm else chain(polyak, rate)
