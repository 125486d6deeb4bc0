"""The deck's random mini-batches (jopt/_minibatch.py): an index array for ``lax.scan``."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jopt


def test_minibatch_indices_epoch_properties():
    key = jax.random.key(3)
    idx = jopt.minibatch_indices(key, 1797, 64)
    assert idx.shape == (1797 // 64, 64) and idx.dtype == jnp.int32
    flat = np.asarray(idx).ravel()
    assert len(np.unique(flat)) == flat.size  # no index twice in one epoch
    assert flat.min() >= 0 and flat.max() < 1797
    other = np.asarray(jopt.minibatch_indices(jax.random.key(4), 1797, 64)).ravel()
    assert not np.array_equal(flat, other)  # a fresh permutation per key
    online = jopt.minibatch_indices(key, 10, 1)
    assert online.shape == (10, 1) and sorted(np.asarray(online).ravel()) == list(range(10))
    jitted = jax.jit(jopt.minibatch_indices, static_argnums=(1, 2))(key, 1797, 64)
    np.testing.assert_array_equal(np.asarray(jitted), np.asarray(idx))


def test_minibatch_indices_in_lax_scan_epoch():
    # Softmax regression on a fixed problem (a random linear teacher's labels), three
    # epochs of mini-batches of 32, each epoch one jitted lax.scan over the batches.
    rng = np.random.default_rng(1)
    x_np = rng.uniform(size=(320, 16)).astype(np.float32)
    x, y = jnp.asarray(x_np), jnp.asarray(np.argmax(x_np @ rng.normal(size=(16, 4)), axis=1))
    params = {"w": jnp.zeros((16, 4), jnp.float32), "b": jnp.zeros(4, jnp.float32)}
    tx = jopt.sgd(0.5)

    @jax.jit
    def loss(p, xb, yb):
        logits = xb @ p["w"] + p["b"]
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

    @jax.jit
    def epoch(carry, key):
        def body(c, idx):
            p, s = c
            u, s = tx.update(jax.grad(loss)(p, x[idx], y[idx]), s, p)
            return (optax.apply_updates(p, u), s), None

        return jax.lax.scan(body, carry, jopt.minibatch_indices(key, x.shape[0], 32))[0], None

    carry = (params, tx.init(params))
    for key in jax.random.split(jax.random.key(0), 3):
        carry, _ = epoch(carry, key)
    assert float(loss(carry[0], x, y)) < 0.5 * float(loss(params, x, y))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(num_examples=10, batch_size=0), r"jopt.minibatch_indices: batch_size=0"),
        (dict(num_examples=10, batch_size=11), r"batch_size=11 is larger than num_examples=10"),
        (dict(num_examples=10.5, batch_size=2), r"num_examples=10.5"),
    ],
    ids=["batch-size", "batch-larger", "num-examples"],
)
def test_bad_sizes_are_refused(kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        jopt.minibatch_indices(jax.random.key(0), **kwargs)
