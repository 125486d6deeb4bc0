"""jopt.dpsgd and jopt.differentially_private_aggregate: the clipping against DP-SGD
written out in NumPy (Abadi et al. 2016, Algorithm 1), exactly; the noise against
optax.contrib's with the same key (the same key stream), and its statistics."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from optax import contrib

import jopt
from tests.support.trajectory import assert_steps_close, stack

SHAPES = {"w": (3, 4), "b": (4,), "s": (2, 3)}
BATCH = 5


def per_example(seed, dtype):
    rng = np.random.default_rng(seed)
    return {k: rng.normal(size=(BATCH, *s)).astype(dtype) for k, s in SHAPES.items()}


def clipped_mean_np(grads, clip):
    g = {k: v.astype(np.float64) for k, v in grads.items()}
    norms = np.sqrt(sum(np.sum(v.reshape(BATCH, -1) ** 2, axis=1) for v in g.values()))
    factor = np.minimum(1.0, clip / norms)  # g_i / max(1, ‖g_i‖/C)
    return {k: np.einsum("i,i...->...", factor, v) / BATCH for k, v in g.items()}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_clipping_is_the_papers_and_the_noise_is_optaxs(dtype):
    grads = [per_example(i, dtype) for i in range(3)]
    clip = 2.5  # some examples clipped (norms ≈ 4.5), some not: scaled below
    grads[0]["w"][1] *= 0.1
    grads[0]["b"][1] *= 0.1
    grads[0]["s"][1] *= 0.1
    tx = jopt.differentially_private_aggregate(clip, 0.0, key=0)
    state, update = tx.init(None), jax.jit(tx.update)
    for g in grads:
        out, state = update(jax.tree.map(jnp.asarray, g), state)
        assert_steps_close(stack([out]), [clipped_mean_np(g, clip)], "lockstep", dtype)
    # the noise: the same key stream as optax.contrib's, step after step
    ours = jopt.dpsgd(0.1, clip, 1.3, seed=7, momentum=0.5)
    # contrib.dpsgd's body (it passes the deprecated seed= on, which warns)
    theirs = optax.chain(
        contrib.differentially_private_aggregate(clip, 1.3, key=jax.random.key(7)),
        optax.trace(0.5),
        optax.scale_by_learning_rate(0.1),
    )
    params = {k: jnp.zeros(s, dtype) for k, s in SHAPES.items()}
    s1, s2 = ours.init(params), theirs.init(params)
    ours_step, theirs_step = jax.jit(ours.update), jax.jit(theirs.update)
    for g in grads:
        g = jax.tree.map(jnp.asarray, g)
        u1, s1 = ours_step(g, s1, params)
        with jax.numpy_dtype_promotion("standard"):
            u2, s2 = theirs_step(g, s2, params)
        assert_steps_close(stack([u1]), [u2], "lockstep", dtype)


def test_noise_statistics():
    # zero gradients: the output is the noise N(0, (σC)²)/B alone
    clip, sigma = 2.0, 1.5
    tx = jopt.differentially_private_aggregate(clip, sigma, key=jax.random.key(11))
    zeros = {"w": jnp.zeros((BATCH, 200, 100))}
    (out, state) = tx.update(zeros, tx.init(None))
    noise = np.asarray(out["w"]) * BATCH
    assert abs(noise.mean()) < 0.05 and abs(noise.std() / (sigma * clip) - 1) < 0.01
    out2, _ = tx.update(zeros, state)  # the key advanced: fresh noise
    assert abs(np.corrcoef(noise.ravel(), np.asarray(out2["w"]).ravel())[0, 1]) < 0.02


def test_jit_state_and_bad_input():
    tx = jopt.dpsgd(0.1, 1.0, 0.5, seed=0)
    params = {"w": jnp.zeros(3)}
    step = jax.jit(tx.update)
    out, state = step({"w": jnp.ones((4, 3))}, tx.init(params), params)
    assert out["w"].shape == (3,)
    assert isinstance(state[0], jopt.DifferentiallyPrivateAggregateState)
    assert optax.tree.norm(out) > 0
    with pytest.raises(ValueError, match=r"jopt.dpsgd: update\(\) needs per-example gradients"):
        tx.update({"w": jnp.ones((4, 3)), "b": jnp.ones((2,))}, tx.init(params))
    with pytest.raises(ValueError, match=r"jopt.dpsgd: l2_norm_clip=0.0 is invalid"):
        jopt.dpsgd(0.1, 0.0, 1.0, seed=0)
    with pytest.raises(TypeError, match=r"jopt.differentially_private_aggregate: key="):
        jopt.differentially_private_aggregate(1.0, 1.0, key="seed")
