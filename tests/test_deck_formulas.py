"""Each algorithm against its formula written out in NumPy (REFERENCE §1 and §2), float64.

The NumPy side computes its own gradients analytically; jopt gets them from jax.grad.
Nothing here shares code with jopt.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jopt

STEPS = 60
A = np.array([1.0, 3.0, 0.2, 5.0])
THETA0 = np.array([1.5, -0.8, 2.0, 0.3])


def E_np(theta):
    return np.sum(A * theta**2) + np.sum(np.sin(theta))


def grad_np(theta):
    return 2 * A * theta + np.cos(theta)


def E_jax(theta):
    return jnp.sum(jnp.asarray(A) * theta**2) + jnp.sum(jnp.sin(theta))


def run_jopt(tx, steps=STEPS, theta0=THETA0):
    params = jnp.asarray(theta0, jnp.float64)
    state = tx.init(params)
    out = []
    for _ in range(steps):
        updates, state = tx.update(jax.grad(E_jax)(params), state, params)
        params = optax.apply_updates(params, updates)
        out.append(np.asarray(params))
    return np.stack(out)


def assert_trajectory(tx, reference):
    got = run_jopt(tx)
    np.testing.assert_allclose(got, np.stack(reference), rtol=1e-10, atol=1e-12)


def test_steepest_descent():
    alpha, th, ref = 0.05, THETA0.copy(), []
    for _ in range(STEPS):
        th = th + (-alpha * grad_np(th))
        ref.append(th)
    assert_trajectory(jopt.gd(alpha), ref)


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9])
def test_momentum(beta):
    alpha, th, d, ref = 0.05, THETA0.copy(), np.zeros(4), []
    for _ in range(STEPS):
        d = beta * d - (1 - beta) * alpha * grad_np(th)
        th = th + d
        ref.append(th)
    assert_trajectory(jopt.momentum(alpha, beta), ref)


@pytest.mark.parametrize("beta", [0.5, 0.9])
def test_nesterov_is_the_deck_look_ahead_form(beta):
    """jopt's iterate is φ_t = θ_t + βΔθ_{t−1}; θ_t follows the deck's NAG exactly."""
    alpha, th, d, phis = 0.05, THETA0.copy(), np.zeros(4), []
    for _ in range(STEPS):
        d = beta * d - (1 - beta) * alpha * grad_np(th + beta * d)
        th = th + d
        phis.append(th + beta * d)
    assert_trajectory(jopt.nesterov(alpha, beta), phis)


def test_nesterov_look_ahead_on_a_quadratic_converges_with_theta():
    beta, alpha, th, d = 0.9, 0.05, THETA0.copy(), np.zeros(4)
    a = np.array([1.0, 10.0, 0.5, 3.0])
    for _ in range(200):
        d = beta * d - (1 - beta) * alpha * (2 * a * (th + beta * d))
        th = th + d
    params = jnp.asarray(THETA0)
    tx = jopt.nesterov(alpha, beta)
    state = tx.init(params)
    for _ in range(200):
        u, state = tx.update(2 * jnp.asarray(a) * params, state)
        params = optax.apply_updates(params, u)
    np.testing.assert_allclose(np.asarray(params), th + beta * d, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("acc0", [0.0, 0.1])
def test_adagrad_deck(acc0):
    alpha, th, s, ref = 0.3, THETA0.copy(), np.full(4, acc0), []
    for _ in range(STEPS):
        g = grad_np(th)
        s = s + g * g
        th = th - alpha * g / np.sqrt(s)
        ref.append(th)
    assert_trajectory(jopt.adagrad(alpha, eps=0.0, initial_accumulator_value=acc0), ref)


@pytest.mark.parametrize("eps_in_sqrt", [False, True])
def test_adagrad_with_eps(eps_in_sqrt):
    alpha, eps, th, s, ref = 0.3, 1e-3, THETA0.copy(), np.zeros(4), []
    for _ in range(STEPS):
        g = grad_np(th)
        s = s + g * g
        den = np.sqrt(s + eps) if eps_in_sqrt else np.sqrt(s) + eps
        th = th - alpha * g / den
        ref.append(th)
    assert_trajectory(jopt.adagrad(alpha, eps=eps, eps_in_sqrt=eps_in_sqrt), ref)


def test_rmsprop_deck_values():
    alpha, rho, eps = 0.1, 0.99, 1e-8  # the deck's
    th, v, ref = THETA0.copy(), np.zeros(4), []
    for _ in range(STEPS):
        g = grad_np(th)
        v = rho * v + (1 - rho) * g * g
        th = th - alpha * g / np.sqrt(v + eps)
        ref.append(th)
    assert_trajectory(jopt.rmsprop(alpha), ref)


@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.7])
def test_rmsprop_pytorch_form(centered, momentum):
    lr, alpha, eps = 0.01, 0.9, 1e-3
    th, v, gavg, buf, ref = THETA0.copy(), np.zeros(4), np.zeros(4), np.zeros(4), []
    for _ in range(STEPS):
        g = grad_np(th)
        v = alpha * v + (1 - alpha) * g * g
        if centered:
            gavg = alpha * gavg + (1 - alpha) * g
            avg = np.sqrt(v - gavg * gavg) + eps
        else:
            avg = np.sqrt(v) + eps
        if momentum:
            buf = momentum * buf + g / avg
            th = th - lr * buf
        else:
            th = th - lr * g / avg
        ref.append(th)
    tx = jopt.rmsprop(lr, alpha, eps, eps_in_sqrt=False, centered=centered, momentum=momentum)
    assert_trajectory(tx, ref)


@pytest.mark.parametrize("eps_in_sqrt", [True, False])
def test_adam(eps_in_sqrt):
    alpha, b1, b2, eps = 0.05, 0.9, 0.999, 1e-8
    th, m, v, ref = THETA0.copy(), np.zeros(4), np.zeros(4), []
    for t in range(1, STEPS + 1):
        g = grad_np(th)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mh, vh = m / (1 - b1**t), v / (1 - b2**t)
        th = th - alpha * (mh / np.sqrt(vh + eps) if eps_in_sqrt else mh / (np.sqrt(vh) + eps))
        ref.append(th)
    assert_trajectory(jopt.adam(alpha, b1, b2, eps, eps_in_sqrt=eps_in_sqrt), ref)


@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_amsgrad_and_weight_decay_pytorch_form(decoupled):
    lr, b1, b2, eps, wd = 0.05, 0.8, 0.99, 1e-6, 0.1
    th, m, v, vmax, ref = THETA0.copy(), np.zeros(4), np.zeros(4), np.zeros(4), []
    for t in range(1, STEPS + 1):
        g = grad_np(th)
        if decoupled:
            th = th * (1 - lr * wd)
        else:
            g = g + wd * th
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v)
        th = th - (lr / (1 - b1**t)) * m / (np.sqrt(vmax) / np.sqrt(1 - b2**t) + eps)
        ref.append(th)
    if decoupled:
        tx = jopt.adamw(lr, b1, b2, eps, weight_decay=wd, amsgrad=True)
    else:
        tx = optax.chain(jopt.add_decayed_weights(wd), jopt.adam(lr, b1, b2, eps, amsgrad=True))
    assert_trajectory(tx, ref)


@pytest.mark.parametrize(
    "momentum, dampening, nesterov, wd, maximize",
    [
        (0.0, 0.0, False, 0.0, False),
        (0.9, 0.0, False, 0.0, False),
        (0.9, 0.3, False, 0.05, False),
        (0.8, 0.0, True, 0.05, False),
        (0.5, 0.0, True, 0.0, True),
        (0.0, 0.0, False, 0.1, True),
    ],
)
def test_sgd_pytorch_semantics(momentum, dampening, nesterov, wd, maximize):
    lr, th, buf, ref = 0.02, THETA0.copy(), None, []
    sign = -1.0 if maximize else 1.0  # maximize climbs −E so the run stays bounded
    for _ in range(STEPS):
        grad = sign * grad_np(th)
        g = -grad if maximize else grad
        if wd:
            g = g + wd * th
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        th = th - lr * g
        ref.append(th)
    tx = jopt.sgd(
        lr, momentum, dampening=dampening, nesterov=nesterov, weight_decay=wd, maximize=maximize
    )

    params = jnp.asarray(THETA0)
    state = tx.init(params)
    got = []
    for _ in range(STEPS):
        u, state = tx.update(sign * jax.grad(E_jax)(params), state, params)
        params = optax.apply_updates(params, u)
        got.append(np.asarray(params))
    np.testing.assert_allclose(np.stack(got), np.stack(ref), rtol=1e-10, atol=1e-12)


def test_schedule_as_learning_rate_is_evaluated_at_updates_applied():
    sched = lambda count: 0.1 / (1.0 + count.astype(jnp.float64))  # noqa: E731
    th, ref = THETA0.copy(), []
    for k in range(STEPS):
        th = th - 0.1 / (1 + k) * grad_np(th)
        ref.append(th)
    assert_trajectory(jopt.gd(sched), ref)
