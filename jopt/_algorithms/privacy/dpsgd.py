"""DP-SGD (Abadi et al. 2016): per-example clipping and Gaussian noise."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jopt._algorithms.sgd.sgd import scale_by_trace
from jopt._core.chain import chain
from jopt._core.checks import (
    Integer,
    UnnamedTypeError,
    UnnamedValueError,
    checked,
    flag,
    learning_rate,
    nonnegative,
    optional,
    positive,
    unchecked,
)
from jopt._core.dtypes import cast, compute_dtype
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.learning_rate import scale_by_learning_rate


class DifferentiallyPrivateAggregateState(NamedTuple):
    """The noise's random key (:func:`jopt.differentially_private_aggregate`), as
    optax.contrib's.

    Args:
      rng_key: a typed ``jax.random`` key, split at every update.

    >>> import jax, jax.numpy as jnp, jopt
    >>> tx = jopt.differentially_private_aggregate(1.0, 0.5, jax.random.key(3))
    >>> jax.random.key_data(tx.init(jnp.zeros(2)).rng_key)
    Array([0, 3], dtype=uint32)
    """

    rng_key: jax.Array


def _key(key: Any) -> jax.Array:
    """A typed key from a typed key, raw uint32 key data or an int seed (optax's rule)."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        return jax.random.key(int(key))
    if isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return key
    if isinstance(key, jax.Array) and key.dtype == jnp.uint32:
        return jax.random.wrap_key_data(key)
    raise UnnamedTypeError(
        f"key={key!r} is invalid; key must be a jax.random.key(...), its uint32 key data, "
        "or an int seed."
    )


@checked(
    l2_norm_clip=positive(),
    noise_multiplier=nonnegative(),
    key=unchecked("a jax.random key or an int seed, converted by _key (tested in test_dpsgd)"),
)
def differentially_private_aggregate(
    l2_norm_clip: Scalar, noise_multiplier: Scalar, key: Any
) -> optax.GradientTransformationExtraArgs:
    """DP-SGD's private mean of per-example gradients (Abadi et al. 2016, Algorithm 1):

    ḡ_i = g_i / max(1, ‖g_i‖ / C)   (‖·‖ over every leaf of example i),
    g̃ = (Σ_i ḡ_i + N(0, σ²C² I)) / B.

    As optax.contrib's: the updates are per-example gradients with a leading batch axis
    of size B (``jax.vmap`` of ``jax.grad``), the result has the parameters' shapes, so it
    goes first in a chain. The noise comes from the key in the state, split as optax
    splits it (one subkey per leaf), so the same key gives optax's noise; a key is
    required (optax's default ``key=None`` falls back to ``key(0)`` with a warning).

    Args:
      l2_norm_clip: C > 0, the bound of each example's gradient norm.
      noise_multiplier: σ >= 0, the noise's standard deviation over C.
      key: a ``jax.random.key``, its uint32 key data, or an int seed.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.DifferentiallyPrivateAggregateState`.

    >>> import jax, jax.numpy as jnp, jopt
    >>> tx = jopt.differentially_private_aggregate(1.0, 0.0, key=0)
    >>> per_example = jnp.array([[3.0, 4.0], [0.3, 0.4]])  # norms 5 (clipped to 1), 0.5
    >>> tx.update(per_example, tx.init(jnp.zeros(2)))[0]  # ((0.6, 0.8) + (0.3, 0.4)) / 2
    Array([0.45, 0.6 ], dtype=float32)
    """
    first_key = _key(key)

    def init_fn(params):
        del params
        return DifferentiallyPrivateAggregateState(rng_key=first_key)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        leaves, treedef = jax.tree.flatten(updates)
        if not leaves:
            return updates, state
        sizes = {jnp.shape(g)[0] if jnp.ndim(g) else None for g in leaves}
        if len(sizes) != 1 or None in sizes:
            raise UnnamedValueError(
                "update() needs per-example gradients, every leaf with the same leading batch "
                f"axis; got leaves of shapes {[jnp.shape(g) for g in leaves]}."
            )
        batch = int(sizes.pop() or 0)
        dt = max((compute_dtype(g) for g in leaves), key=lambda d: d.itemsize)
        wide = [g.astype(compute_dtype(g)) for g in leaves]
        sq = sum(
            (jnp.sum(jnp.abs(g) ** 2, axis=tuple(range(1, g.ndim))).astype(dt) for g in wide),
            start=jnp.zeros((batch,), dt),
        )
        factor = jnp.nan_to_num(jnp.minimum(cast(l2_norm_clip, dt) / jnp.sqrt(sq), 1.0))
        new_key, *keys = jax.random.split(state.rng_key, len(leaves) + 1)
        out = []
        for g, leaf, k in zip(wide, leaves, keys, strict=True):
            total = jnp.einsum("i,i...", factor.astype(g.dtype), g)
            std = cast(l2_norm_clip, g.dtype) * cast(noise_multiplier, g.dtype)
            noised = (total + std * jax.random.normal(k, total.shape, total.dtype)) / batch
            out.append(noised.astype(leaf.dtype))
        return treedef.unflatten(out), DifferentiallyPrivateAggregateState(rng_key=new_key)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(
    learning_rate=learning_rate(),
    l2_norm_clip=positive(),
    noise_multiplier=nonnegative(),
    seed=Integer(0, 2**32 - 1, why="the seed of jax.random.key is 32-bit"),
    momentum=optional(nonnegative()),
    nesterov=flag(),
)
def dpsgd(
    learning_rate: ScalarOrSchedule,
    l2_norm_clip: Scalar,
    noise_multiplier: Scalar,
    seed: int,
    momentum: Scalar | None = None,
    nesterov: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """DP-SGD (Abadi, Chu, Goodfellow, McMahan, Mironov, Talwar & Zhang 2016, "Deep
    Learning with Differential Privacy"): SGD on the clipped, noised mean of per-example
    gradients.

    g̃ = (Σ_i g_i / max(1, ‖g_i‖/C) + N(0, σ²C² I)) / B,  Δθ = −α g̃ (or its momentum).

    ``chain(differentially_private_aggregate(C, σ, key(seed)), scale_by_trace(momentum,
    nesterov=nesterov) if momentum is not None, scale_by_learning_rate(α))``: optax.contrib
    .dpsgd's arguments, and with the same seed its noise. The updates are per-example
    gradients (a leading batch axis on every leaf).

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.
      l2_norm_clip: C > 0.
      noise_multiplier: σ >= 0.
      seed: the seed of the noise's ``jax.random.key``.
      momentum: μ >= 0 of the heavy-ball momentum, or None (off).
      nesterov: Nesterov's momentum.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.dpsgd(0.1, l2_norm_clip=1.0, noise_multiplier=0.0, seed=0)
    >>> tx.update(jnp.array([[3.0, 4.0], [0.3, 0.4]]), tx.init(jnp.zeros(2)))[0]
    Array([-0.045, -0.06 ], dtype=float32)
    """
    steps: list[optax.GradientTransformation] = [
        differentially_private_aggregate(l2_norm_clip, noise_multiplier, jax.random.key(seed))
    ]
    if momentum is not None:
        steps.append(scale_by_trace(momentum, nesterov=nesterov))
    return chain(*steps, scale_by_learning_rate(learning_rate))
