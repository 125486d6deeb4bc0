"""jopt.adagrad and jopt.scale_by_adagrad against AdaGrad written out in NumPy (float64,
real and complex gradients)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import jopt
from tests.support import trajectory
from tests.support.trajectory import DECK_THETA0, assert_steps_close, deck_grad_np

STEPS = 60


@pytest.mark.parametrize("acc0", [0.0, 0.1])
def test_adagrad_deck(acc0):
    alpha, th, s, ref = 0.3, DECK_THETA0.copy(), np.full(4, acc0), []
    for _ in range(STEPS):
        g = deck_grad_np(th)
        s = s + g * g
        th = th - alpha * g / np.sqrt(s)
        ref.append(th)
    tx = jopt.adagrad(alpha, eps=0.0, initial_accumulator_value=acc0)
    assert_steps_close(trajectory.deck_descent(tx, STEPS), ref)


@pytest.mark.parametrize("eps_in_sqrt", [False, True])
def test_adagrad_with_eps(eps_in_sqrt):
    alpha, eps, th, s, ref = 0.3, 1e-3, DECK_THETA0.copy(), np.zeros(4), []
    for _ in range(STEPS):
        g = deck_grad_np(th)
        s = s + g * g
        den = np.sqrt(s + eps) if eps_in_sqrt else np.sqrt(s) + eps
        th = th - alpha * g / den
        ref.append(th)
    tx = jopt.adagrad(alpha, eps=eps, eps_in_sqrt=eps_in_sqrt)
    assert_steps_close(trajectory.deck_descent(tx, STEPS), ref)


@pytest.mark.parametrize("eps_in_sqrt", [False, True])
def test_scale_by_adagrad_on_complex_gradients(eps_in_sqrt):
    # s_t = s_{t−1} + |g_t|² (real), out g_t / (sqrt(s_t) + ε) or g_t / sqrt(s_t + ε)
    rng = np.random.default_rng(0)
    grads = list(rng.normal(size=(12, 5)) + 1j * rng.normal(size=(12, 5)))
    grads[3][1] = 0.0
    s, eps, expected = np.full(5, 0.2), 1e-2, []
    for g in grads:
        s = s + np.abs(g) ** 2
        expected.append(g / (np.sqrt(s + eps) if eps_in_sqrt else np.sqrt(s) + eps))
    tx = jopt.scale_by_adagrad(0.2, eps, eps_in_sqrt=eps_in_sqrt)
    assert_steps_close(trajectory.updates(tx, grads), expected)


def test_state_is_a_real_sum_from_its_initial_value():
    params = {"z": jnp.zeros(3, jnp.complex64), "h": jnp.zeros(2, jnp.float16)}
    state = jopt.scale_by_adagrad(0.5).init(params)
    assert isinstance(state, jopt.ScaleByAdagradState)
    assert state.sum_of_squares["z"].dtype == jnp.float32
    assert state.sum_of_squares["h"].dtype == jnp.float32
    np.testing.assert_array_equal(state.sum_of_squares["z"], [0.5, 0.5, 0.5])
    chosen = jopt.scale_by_adagrad(nu_dtype=jnp.bfloat16).init(params)
    assert chosen.sum_of_squares["h"].dtype == jnp.bfloat16
