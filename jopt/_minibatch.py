"""The deck's random mini-batches, as an index array for ``lax.scan``."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jopt._validation import check_int


def minibatch_indices(key: jax.Array, num_examples: int, batch_size: int) -> jax.Array:
    """One epoch of random mini-batches B^(t), shape ``[num_examples // batch_size, batch_size]``.

    Each key draws a fresh permutation, so no example appears twice in an epoch; the
    ``num_examples % batch_size`` left over are dropped (a different remainder each epoch).
    ``batch_size=1`` is online learning (SGD in the deck's sense). The mini-batch loss
    is E(θ) = (1/|B|) Σ_{n∈B} E_n(θ). Jittable (sizes are static), int32 indices.

    >>> import jax, jopt
    >>> idx = jopt.minibatch_indices(jax.random.key(0), 10, 3)
    >>> idx.shape, idx.dtype
    ((3, 3), dtype('int32'))
    >>> len(set(idx.ravel().tolist()))
    9
    """
    call = "jopt.minibatch_indices"
    num_examples = check_int(call, "num_examples", num_examples, 1)
    batch_size = check_int(call, "batch_size", batch_size, 1)
    if batch_size > num_examples:
        raise ValueError(
            f"{call}: batch_size={batch_size} is larger than num_examples={num_examples}; "
            "batch_size must be in [1, num_examples]."
        )
    num_batches = num_examples // batch_size
    perm = jax.random.permutation(key, num_examples)[: num_batches * batch_size]
    return perm.astype(jnp.int32).reshape(num_batches, batch_size)
