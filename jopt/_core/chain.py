"""``optax.chain`` whose inner updates run in the compute dtype."""

from __future__ import annotations

import jax
import optax

from jopt._core.checks import checked, transformation
from jopt._core.dtypes import compute_dtype


@checked(transforms=transformation())
def chain(*transforms: optax.GradientTransformation) -> optax.GradientTransformationExtraArgs:
    """``optax.chain`` whose inner updates run in the compute dtype: what every jopt
    optimizer is built with, so rebuilding one by hand gives the same numbers.

    The updates enter as float32 (float16/bfloat16 leaves) and leave in the gradients'
    dtype only after the last transform: the learning rate is applied before the cast,
    so a large direction never overflows float16 on its way to a small step. The state is
    ``optax.chain``'s, unchanged.

    Args:
      *transforms: gradient transformations, applied in order.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.chain(jopt.scale_by_adam(), jopt.scale_by_learning_rate(0.1))
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # jopt.adam(0.1)
    Array([-0.1,  0.1], dtype=float32)
    """
    return in_compute_dtype(optax.chain(*transforms))


def in_compute_dtype(inner: optax.GradientTransformation) -> optax.GradientTransformationExtraArgs:
    """``inner`` fed updates in the compute dtype, its output cast back to the gradients'
    dtypes (what :func:`chain` does to its chain); the state is ``inner``'s."""
    inner = optax.with_extra_args_support(inner)

    def update_fn(updates, state, params=None, **extra_args):
        wide = jax.tree.map(lambda g: g.astype(compute_dtype(g)), updates)
        out, state = inner.update(wide, state, params, **extra_args)
        return jax.tree.map(lambda u, g: u.astype(g.dtype), out, updates), state

    return optax.GradientTransformationExtraArgs(inner.init, update_fn)
