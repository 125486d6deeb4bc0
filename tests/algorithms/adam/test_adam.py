"""jopt.adam, jopt.adamw, jopt.scale_by_adam and jopt.scale_by_amsgrad against Adam written
out in NumPy (float64): the deck's and the paper's ε, PyTorch's AMSGrad and weight decay,
Keras' ε̂, β1 scheduled, complex gradients; RAdam's rectification (defined here) against
PyTorch's Python-float arithmetic; the states."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jopt
from jopt._algorithms.adam.adam import rectification
from tests.support import trajectory
from tests.support.trajectory import (
    DECK_THETA0,
    assert_steps_close,
    b1_ramp,
    deck_grad_np,
    gradients,
    jopt_b1_ramp,
)

STEPS = 60


@pytest.mark.parametrize("eps_in_sqrt", [True, False])
def test_adam(eps_in_sqrt):
    alpha, b1, b2, eps = 0.05, 0.9, 0.999, 1e-8
    th, m, v, ref = DECK_THETA0.copy(), np.zeros(4), np.zeros(4), []
    for t in range(1, STEPS + 1):
        g = deck_grad_np(th)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mh, vh = m / (1 - b1**t), v / (1 - b2**t)
        th = th - alpha * (mh / np.sqrt(vh + eps) if eps_in_sqrt else mh / (np.sqrt(vh) + eps))
        ref.append(th)
    tx = jopt.adam(alpha, b1, b2, eps, eps_in_sqrt=eps_in_sqrt)
    assert_steps_close(trajectory.deck_descent(tx, STEPS), ref)


@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_amsgrad_and_weight_decay_pytorch_form(decoupled):
    lr, b1, b2, eps, wd = 0.05, 0.8, 0.99, 1e-6, 0.1
    th, m, v, vmax, ref = DECK_THETA0.copy(), np.zeros(4), np.zeros(4), np.zeros(4), []
    for t in range(1, STEPS + 1):
        g = deck_grad_np(th)
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
    assert_steps_close(trajectory.deck_descent(tx, STEPS), ref)


def np_adam_direction(grads, b1, b2, eps, *, eps_in_sqrt=False, eps_hat=False, amsgrad=False):
    """m̂ / (sqrt(v̂) + ε) (or sqrt(v̂ + ε)); ``eps_hat``: Keras' literal step on the raw
    moments, sqrt(1−β2^t)/(1−β1^t) · m/(sqrt(v) + ε) (or m/sqrt(v + ε))."""
    m, v, vmax, out = np.zeros_like(grads[0]), np.zeros(grads[0].shape), 0.0, []
    for k, g in enumerate(grads):
        t, beta1 = k + 1, b1(k)
        m = beta1 * m + (1 - beta1) * g
        v = b2 * v + (1 - b2) * np.abs(g) ** 2
        vmax = np.maximum(vmax, v)
        used = vmax if amsgrad else v
        if eps_hat:
            den = np.sqrt(used + eps) if eps_in_sqrt else np.sqrt(used) + eps
            out.append(np.sqrt(1 - b2**t) / (1 - beta1**t) * m / den)
        else:
            mh, vh = m / (1 - beta1**t), used / (1 - b2**t)
            out.append(mh / (np.sqrt(vh + eps) if eps_in_sqrt else np.sqrt(vh) + eps))
    return out


def constant(b):
    return lambda count: b


PRIMITIVES = [
    (
        "adam-b1-schedule",
        jopt.scale_by_adam(jopt_b1_ramp, 0.9, 1e-3),
        lambda gs: np_adam_direction(gs, b1_ramp, 0.9, 1e-3),
    ),
    (
        "adam-eps-hat",
        jopt.scale_by_adam(0.8, 0.9, 1e-2, eps_hat=True),
        lambda gs: np_adam_direction(gs, constant(0.8), 0.9, 1e-2, eps_hat=True),
    ),
    (
        "adam-eps-hat-in-sqrt",
        jopt.scale_by_adam(0.8, 0.9, 1e-2, eps_in_sqrt=True, eps_hat=True),
        lambda gs: np_adam_direction(gs, constant(0.8), 0.9, 1e-2, eps_in_sqrt=True, eps_hat=True),
    ),
    (
        "amsgrad",
        jopt.scale_by_amsgrad(0.8, 0.9, 1e-3),
        lambda gs: np_adam_direction(gs, constant(0.8), 0.9, 1e-3, amsgrad=True),
    ),
    (
        "amsgrad-b1-schedule-eps-hat-in-sqrt",
        jopt.scale_by_amsgrad(jopt_b1_ramp, 0.9, 1e-2, eps_in_sqrt=True, eps_hat=True),
        lambda gs: np_adam_direction(
            gs, b1_ramp, 0.9, 1e-2, eps_in_sqrt=True, eps_hat=True, amsgrad=True
        ),
    ),
]


@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
@pytest.mark.parametrize("name, tx, reference", PRIMITIVES, ids=[p[0] for p in PRIMITIVES])
def test_primitives_are_their_formula(name, tx, reference, complex_):
    grads = gradients(complex_=complex_)
    assert_steps_close(trajectory.updates(tx, grads), reference(grads))


def test_states_are_the_raw_moments():
    params = {"z": jnp.zeros(2, jnp.complex64), "w": jnp.zeros(3)}
    adam = jopt.scale_by_adam(nu_dtype=jnp.bfloat16).init(params)
    assert isinstance(adam, jopt.ScaleByAdamState) and adam.count.dtype == jnp.int32
    assert adam.mu["z"].dtype == jnp.complex64 and adam.nu["z"].dtype == jnp.bfloat16
    ams = jopt.scale_by_amsgrad().init(params)
    assert isinstance(ams, jopt.ScaleByAmsgradState)
    assert ams.nu_max["z"].dtype == ams.nu["z"].dtype == jnp.float32
    assert isinstance(jopt.adam(amsgrad=True).init(params)[0], jopt.ScaleByAmsgradState)
    g = {"z": jnp.asarray([3.0 + 4.0j, 0.0], jnp.complex64), "w": jnp.ones(3)}
    update = jax.jit(jopt.scale_by_amsgrad(b2=0.5).update)
    _, ams = update(g, ams)
    _, ams = update(jax.tree.map(jnp.zeros_like, g), ams)
    np.testing.assert_allclose(ams.nu["z"], [6.25, 0.0])  # 0.5·(0.5·25): v decays
    np.testing.assert_allclose(ams.nu_max["z"], [12.5, 0.0])  # the max of the raw v stays


@pytest.mark.parametrize("b2", [0.5, 0.8, 0.9, 0.95, 0.99, 0.999, 0.9999])
def test_rectification_switches_at_the_step_pytorch_does(b2):
    # torch.optim.radam, single-tensor path: Python floats, rho_t > 5.0
    def torch_rect(step):
        bias_correction2 = 1 - b2**step
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * step * (b2**step) / bias_correction2
        if rho_t > 5.0:
            return (
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            ) ** 0.5
        return None

    # one compile for every β2 (traced; float64 under x64, as PyTorch's Python floats)
    on, r = jax.jit(rectification)(b2, 5.0, jnp.arange(1, 200, dtype=jnp.int32))
    for step in range(1, 200):
        expected = torch_rect(float(step))
        assert bool(on[step - 1]) == (expected is not None), (b2, step)
        if expected is not None:
            assert float(r[step - 1]) == pytest.approx(expected, rel=1e-14), (b2, step)
        else:
            assert float(r[step - 1]) == 1.0
