"""jopt.noisy_sgd and jopt.add_noise: the deterministic part exactly, the noise's variance
schedule σ_t² = η/t^γ statistically, and the same noise as optax for the same key."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jopt
from tests.support import trajectory
from tests.support.trajectory import assert_steps_close

STEPS = 6


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_noise_variance_follows_the_schedule(dtype):
    # 40000 draws a step: the sample std is within 3% of σ_t = sqrt(η/t^γ) (its own
    # relative error is ~1/sqrt(2n) = 0.35%), mean ~0, steps uncorrelated
    eta, gamma, n = 0.3, 0.55, 40_000
    g = np.zeros(n, dtype)
    noise = -trajectory.updates(jopt.noisy_sgd(1.0, eta, gamma, key=7), [g] * STEPS)
    assert noise.dtype == dtype
    for t in range(1, STEPS + 1):
        sigma = np.sqrt(eta / t**gamma)
        z = noise[t - 1] / sigma
        assert abs(z.std() - 1.0) < 0.03, (t, z.std())
        assert abs(z.mean()) < 4 / np.sqrt(n)
    assert abs(np.corrcoef(noise[0], noise[1])[0, 1]) < 0.03  # a new key each step


def test_deterministic_part_is_sgd_exactly():
    rng = np.random.default_rng(0)
    gs = [{"w": rng.normal(size=(3, 4)), "b": rng.normal(size=4)} for _ in range(STEPS)]
    zeros = [jax.tree.map(np.zeros_like, g) for g in gs]
    tx = jopt.noisy_sgd(0.1, 0.2, key=jax.random.key(3))
    with_g, noise_only = trajectory.updates(tx, gs), trajectory.updates(tx, zeros)
    # the noise does not depend on the gradient: u(g) − u(0) = −α g
    assert_steps_close(
        jax.tree.map(np.subtract, with_g, noise_only),
        [jax.tree.map(lambda x: -0.1 * x, g) for g in gs],
    )
    # (η = 0, plain SGD: the doctests of jopt.add_noise and jopt.noisy_sgd)


def test_same_key_same_noise_as_optax():
    rng = np.random.default_rng(1)
    gs = [{"w": rng.normal(size=(3, 4)), "b": rng.normal(size=4)} for _ in range(STEPS)]
    ours = trajectory.updates(jopt.noisy_sgd(0.1, 0.2, 0.55, key=5), gs)
    with jax.numpy_dtype_promotion("standard"):
        theirs = trajectory.updates(optax.noisy_sgd(0.1, 0.2, 0.55, key=jax.random.key(5)), gs)
    assert_steps_close(ours, theirs, "rounding")


def test_state_and_bad_arguments():
    state = jopt.add_noise(key=jax.random.PRNGKey(1)).init(jnp.zeros(2))  # a raw key too
    assert isinstance(state, jopt.AddNoiseState)
    assert state.rng_key.dtype == jnp.uint32  # the key's raw data
    with pytest.raises(TypeError, match=r"jopt\.noisy_sgd: key='seed' is invalid"):
        jopt.noisy_sgd(0.1, key="seed")
    with pytest.raises(ValueError, match=r"jopt\.noisy_sgd: eta=-1\.0 .*\[0, inf\)"):
        jopt.noisy_sgd(0.1, eta=-1.0)
