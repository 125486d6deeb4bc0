"""The deck's random mini-batches, as an index array for ``lax.scan``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jopt._core.checks import UnnamedValueError, checked, integer, unchecked


def _batch_fits(arguments: Mapping[str, Any]) -> None:
    """A batch is at most the whole data set."""
    num_examples, batch_size = arguments["num_examples"], arguments["batch_size"]
    if batch_size > num_examples:
        raise UnnamedValueError(
            f"batch_size={batch_size} is larger than num_examples={num_examples}; "
            "batch_size must be in [1, num_examples]."
        )


@checked(
    _batch_fits,
    key=unchecked("a jax.random key; jax.random.permutation checks it"),
    num_examples=integer(1),
    batch_size=integer(1),
)
def minibatch_indices(key: jax.Array, num_examples: int, batch_size: int) -> jax.Array:
    """One epoch of random mini-batches B^(t), shape ``[num_examples // batch_size, batch_size]``.

    Each key draws a fresh permutation, so no example appears twice in an epoch; the
    ``num_examples % batch_size`` left over are dropped (a different remainder each epoch).
    ``batch_size=1`` is online learning (SGD in the deck's sense). The mini-batch loss
    is E(θ) = (1/|B|) Σ_{n∈B} E_n(θ). Jittable (sizes are static), int32 indices.

    Args:
      key: a ``jax.random`` key; each key draws its own permutation.
      num_examples: the size of the data set, an integer >= 1.
      batch_size: the examples per batch, an integer in [1, num_examples].

    Returns:
      An int32 array of shape ``[num_examples // batch_size, batch_size]``.

    >>> import jax, jopt
    >>> idx = jopt.minibatch_indices(jax.random.key(0), 10, 3)
    >>> idx.shape, idx.dtype
    ((3, 3), dtype('int32'))
    >>> len(set(idx.ravel().tolist()))
    9
    """
    num_batches = num_examples // batch_size
    perm = jax.random.permutation(key, num_examples)[: num_batches * batch_size]
    return perm.astype(jnp.int32).reshape(num_batches, batch_size)
