"""jopt.rmsprop, jopt.scale_by_rms and jopt.scale_by_stddev against RMSprop written out in
NumPy (float64): the deck's form, PyTorch's (centered, momentum) and complex gradients."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import jopt
from tests.support import trajectory
from tests.support.trajectory import DECK_THETA0, assert_steps_close, deck_grad_np

STEPS = 60


def test_rmsprop_deck_values():
    alpha, rho, eps = 0.1, 0.99, 1e-8  # the deck's
    th, v, ref = DECK_THETA0.copy(), np.zeros(4), []
    for _ in range(STEPS):
        g = deck_grad_np(th)
        v = rho * v + (1 - rho) * g * g
        th = th - alpha * g / np.sqrt(v + eps)
        ref.append(th)
    assert_steps_close(trajectory.deck_descent(jopt.rmsprop(alpha), STEPS), ref)


@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.7])
def test_rmsprop_pytorch_form(centered, momentum):
    lr, alpha, eps = 0.01, 0.9, 1e-3
    th, v, gavg, buf, ref = DECK_THETA0.copy(), np.zeros(4), np.zeros(4), np.zeros(4), []
    for _ in range(STEPS):
        g = deck_grad_np(th)
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
    assert_steps_close(trajectory.deck_descent(tx, STEPS), ref)


@pytest.mark.parametrize("eps_in_sqrt", [True, False])
def test_primitives_on_complex_gradients(eps_in_sqrt):
    # v = ρv + (1−ρ)|g|² (real), m = ρm + (1−ρ)g; g / sqrt(v (− |m|²) + ε) or /(sqrt(·) + ε)
    rng = np.random.default_rng(0)
    grads = list(rng.normal(size=(12, 5)) + 1j * rng.normal(size=(12, 5)))
    rho, eps = 0.8, 1e-2
    v, m, rms, stddev = np.zeros(5), np.zeros(5, complex), [], []
    for g in grads:
        v = rho * v + (1 - rho) * np.abs(g) ** 2
        m = rho * m + (1 - rho) * g
        for out, second in ((rms, v), (stddev, v - np.abs(m) ** 2)):
            out.append(g / (np.sqrt(second + eps) if eps_in_sqrt else np.sqrt(second) + eps))
    tx = jopt.scale_by_rms(rho, eps, eps_in_sqrt=eps_in_sqrt)
    assert_steps_close(trajectory.updates(tx, grads), rms)
    tx = jopt.scale_by_stddev(rho, eps, eps_in_sqrt=eps_in_sqrt)
    assert_steps_close(trajectory.updates(tx, grads), stddev)


def test_states_hold_real_second_moments():
    params = {"z": jnp.zeros(3, jnp.complex128)}
    rms = jopt.scale_by_rms().init(params)
    assert isinstance(rms, jopt.ScaleByRmsState) and rms.nu["z"].dtype == jnp.float64
    std = jopt.scale_by_stddev(mu_dtype=jnp.float32, nu_dtype=jnp.float32).init(params)
    assert isinstance(std, jopt.ScaleByStddevState)
    assert std.mu["z"].dtype == jnp.complex64 and std.nu["z"].dtype == jnp.float32
    plain, centered = jopt.rmsprop(0.1).init(params), jopt.rmsprop(0.1, centered=True).init(params)
    assert isinstance(plain[0], jopt.ScaleByRmsState)
    assert isinstance(centered[0], jopt.ScaleByStddevState)
    assert len(jopt.rmsprop(0.1, momentum=0.9).init(params)) == len(plain) + 1
