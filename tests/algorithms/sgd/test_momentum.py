"""jopt.gd, jopt.momentum, jopt.nesterov and their primitives against the deck's formulas
written out in NumPy (float64; the NumPy side takes its gradient analytically, jopt's
from jax.grad)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import jopt
from tests.support import trajectory
from tests.support.trajectory import DECK_THETA0, assert_steps_close, deck_grad_np

STEPS = 60


def test_steepest_descent():
    alpha, th, ref = 0.05, DECK_THETA0.copy(), []
    for _ in range(STEPS):
        th = th + (-alpha * deck_grad_np(th))
        ref.append(th)
    assert_steps_close(trajectory.deck_descent(jopt.gd(alpha), STEPS), ref)


def test_schedule_as_learning_rate_is_evaluated_at_updates_applied():
    sched = lambda count: 0.1 / (1.0 + count.astype(jnp.float64))  # noqa: E731
    th, ref = DECK_THETA0.copy(), []
    for k in range(STEPS):
        th = th - 0.1 / (1 + k) * deck_grad_np(th)
        ref.append(th)
    assert_steps_close(trajectory.deck_descent(jopt.gd(sched), STEPS), ref)


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9])
def test_momentum(beta):
    alpha, th, d, ref = 0.05, DECK_THETA0.copy(), np.zeros(4), []
    for _ in range(STEPS):
        d = beta * d - (1 - beta) * alpha * deck_grad_np(th)
        th = th + d
        ref.append(th)
    assert_steps_close(trajectory.deck_descent(jopt.momentum(alpha, beta), STEPS), ref)


@pytest.mark.parametrize("beta", [0.5, 0.9])
def test_nesterov_is_the_deck_look_ahead_form(beta):
    """jopt's iterate is φ_t = θ_t + βΔθ_{t−1}; θ_t follows the deck's NAG exactly."""
    alpha, th, d, phis = 0.05, DECK_THETA0.copy(), np.zeros(4), []
    for _ in range(STEPS):
        d = beta * d - (1 - beta) * alpha * deck_grad_np(th + beta * d)
        th = th + d
        phis.append(th + beta * d)
    assert_steps_close(trajectory.deck_descent(jopt.nesterov(alpha, beta), STEPS), phis)


def test_nesterov_look_ahead_on_a_quadratic_converges_with_theta():
    beta, alpha, th, d = 0.9, 0.05, DECK_THETA0.copy(), np.zeros(4)
    a = np.array([1.0, 10.0, 0.5, 3.0])
    for _ in range(200):
        d = beta * d - (1 - beta) * alpha * (2 * a * (th + beta * d))
        th = th + d
    grad = lambda p: 2 * jnp.asarray(a) * p  # noqa: E731
    path = trajectory.descent(jopt.nesterov(alpha, beta), grad, DECK_THETA0, 200)
    np.testing.assert_allclose(path[-1], th + beta * d, rtol=1e-10, atol=1e-14)


def test_primitives_are_the_deck_averages_without_the_rate():
    # m_t = βm_{t−1} + (1−β)g_t; scale_by_momentum outputs m_t, scale_by_nesterov βm_t + (1−β)g_t
    rng = np.random.default_rng(0)
    grads = list(rng.normal(size=(12, 5)))
    beta, m, plain, look_ahead = 0.7, np.zeros(5), [], []
    for g in grads:
        m = beta * m + (1 - beta) * g
        plain.append(m)
        look_ahead.append(beta * m + (1 - beta) * g)
    assert_steps_close(trajectory.updates(jopt.scale_by_momentum(beta), grads), plain)
    assert_steps_close(trajectory.updates(jopt.scale_by_nesterov(beta), grads), look_ahead)


@pytest.mark.parametrize("make", [jopt.scale_by_momentum, jopt.scale_by_nesterov])
def test_state_is_the_average_in_mu_dtype(make):
    params = {"w": jnp.zeros((2, 3)), "h": jnp.zeros(3, jnp.float16)}
    state = make(0.9).init(params)
    assert isinstance(state, jopt.ScaleByMomentumState)
    assert state.mu["w"].dtype == jnp.float64 and state.mu["h"].dtype == jnp.float32
    tx = make(0.5, mu_dtype=jnp.bfloat16)
    updates, state = tx.update({"w": jnp.ones(3)}, tx.init({"w": jnp.zeros(3)}))
    assert state.mu["w"].dtype == jnp.bfloat16 and updates["w"].dtype == jnp.float64
    assert float(state.mu["w"][0]) == 0.5  # (1 − β)·1, exact in bfloat16
