"""jopt.muon and jopt.scale_by_muon against Jordan's Muon written out in NumPy (float64, 12
steps), the Newton–Schulz iteration against the SVD, the shape rules, and the rule of
muon.py (Coefficients) with its bad values."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jopt
from jopt._algorithms.matrix.muon import Coefficients, scaled
from tests.support import trajectory
from tests.support.trajectory import assert_steps_close

STEPS = 12
JORDAN = (3.4445, -4.7750, 2.0315)


def tree(shapes, seed):
    rng = np.random.default_rng(seed)
    return {k: rng.normal(size=s) for k, s in shapes.items()}


def newton_schulz(d, coefficients, steps, eps, clamp=False):
    a, b, c = coefficients
    x = d.T if d.shape[0] > d.shape[1] else d
    norm = np.linalg.norm(x)
    x = x / (max(norm, eps) if clamp else norm + eps)
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if d.shape[0] > d.shape[1] else x


def test_newton_schulz_orthogonalizes():
    # The cubic (1.5, −0.5, 0) converges to U Vᵀ of D = U S Vᵀ: the SVD is the oracle.
    rng = np.random.default_rng(5)
    q1, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    q2, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    d = q1 @ np.diag([2.0, 1.0, 0.6, 0.4]) @ q2[:4]  # 4×6, singular values 2 … 0.4
    u, _, vt = np.linalg.svd(d, full_matrices=False)
    tx = jopt.scale_by_muon(0.0, ns_coefficients=(1.5, -0.5, 0.0), ns_steps=60, adjust_lr="none")
    # wide, and tall (transposed inside)
    out = jax.jit(lambda g: tx.update(g, tx.init(g))[0])
    np.testing.assert_allclose(np.asarray(out(jnp.asarray(d))), u @ vt, atol=1e-10)
    np.testing.assert_allclose(np.asarray(out(jnp.asarray(d.T))), (u @ vt).T, atol=1e-10)


def muon_numpy(params, grads_seq, lr, mu, wd, adam_lr, b1=0.9, b2=0.999, eps_a=1e-8):
    """Jordan's Muon (EMA buffer, Nesterov, s = sqrt(max(1, m/n))) on the matrices, AdamW
    on the other leaves, decoupled decay θ(1 − αλ) on all."""
    theta = {k: v.copy() for k, v in params.items()}
    buf, m, v, out = {}, {}, {}, []
    for t, grads in enumerate(grads_seq, start=1):
        for k, g in grads.items():
            if g.ndim == 2:
                buf[k] = mu * buf.get(k, 0.0) + (1 - mu) * g
                direction = (1 - mu) * g + mu * buf[k]
                rows, cols = g.shape
                step = newton_schulz(direction, JORDAN, 5, 1e-7) * np.sqrt(max(1, rows / cols))
                theta[k] = theta[k] - lr * (step + wd * theta[k])
            else:
                m[k] = b1 * m.get(k, 0.0) + (1 - b1) * g
                v[k] = b2 * v.get(k, 0.0) + (1 - b2) * g * g
                step = (m[k] / (1 - b1**t)) / (np.sqrt(v[k] / (1 - b2**t)) + eps_a)
                theta[k] = theta[k] - adam_lr * (step + wd * theta[k])
        out.append({k: x.copy() for k, x in theta.items()})
    return out


def test_muon_is_jordans_algorithm_with_adam_for_the_rest():
    shapes = {"w": (3, 4), "v": (5, 3), "t": (2, 2, 2), "b": (4,), "s": ()}
    params, grads_seq = tree(shapes, 6), [tree(shapes, 60 + i) for i in range(STEPS)]
    tx = jopt.muon(0.02, weight_decay=0.1, adam_learning_rate=0.01)
    theirs = muon_numpy(params, grads_seq, 0.02, 0.95, 0.1, 0.01)
    assert_steps_close(trajectory.fed(tx, params, grads_seq)[0], theirs)


def test_scale_by_muon_switches_and_momentum_schedule():
    # Keras' summed buffer, PyTorch's clamped ε, Moonshot's shape factor, μ_t scheduled.
    shapes = {"w": (3, 4), "v": (5, 3)}
    params, grads_seq = tree(shapes, 7), [tree(shapes, 70 + i) for i in range(STEPS)]
    schedule = lambda count: 0.9 - 0.4 * 0.5 ** count.astype(jnp.float64)  # noqa: E731
    tx = optax.chain(
        jopt.scale_by_muon(
            schedule,
            ns_coefficients=(2.0, -1.5, 0.5),
            ns_steps=4,
            eps=1e-3,
            ema=False,
            eps_clamp=True,
            adjust_lr="match_rms_adamw",
            rms_rate=0.3,
        ),
        jopt.scale_by_learning_rate(0.02),
    )
    state = tx.init({k: jnp.asarray(x) for k, x in params.items()})[0]
    assert isinstance(state, jopt.ScaleByCountedTraceState) and int(state.count) == 0
    theta, buf, theirs = {k: v.copy() for k, v in params.items()}, {}, []
    for t, grads in enumerate(grads_seq):
        mu = 0.9 - 0.4 * 0.5**t
        for k, g in grads.items():
            buf[k] = mu * buf.get(k, 0.0) + g
            o = newton_schulz(g + mu * buf[k], (2.0, -1.5, 0.5), 4, 1e-3, clamp=True)
            theta[k] = theta[k] - 0.02 * 0.3 * np.sqrt(max(g.shape)) * o
        theirs.append({k: x.copy() for k, x in theta.items()})
    ours, state = trajectory.fed(tx, params, grads_seq)
    assert_steps_close(ours, theirs)
    assert int(state[0].count) == STEPS


def test_scale_by_muon_without_nesterov_orthogonalizes_the_buffer():
    # B_t = μB_{t−1} + (1−μ)G_t, D_t = B_t, s = 1
    shapes = {"w": (4, 3)}
    grads_seq = [tree(shapes, 80 + i) for i in range(STEPS)]
    tx = jopt.scale_by_muon(0.8, nesterov=False, ns_steps=3, adjust_lr="none")
    buf, expected = 0.0, []
    for grads in grads_seq:
        buf = 0.8 * buf + 0.2 * grads["w"]
        expected.append({"w": newton_schulz(buf, JORDAN, 3, 1e-7)})
    assert_steps_close(trajectory.updates(tx, grads_seq), expected)


def test_muon_converges_on_matrices():
    # The registry's convergence problem has vectors only; here Muon's own step does it.
    target = jnp.asarray(np.random.default_rng(8).normal(size=(4, 6)))
    grad = lambda p: {"w": p["w"] - target}  # noqa: E731  (∇ of ½‖W − T‖²)
    tx = jopt.muon(jopt.schedules.cosine_annealing_lr(0.3, 200))
    path = trajectory.descent(tx, grad, {"w": jnp.zeros((4, 6))}, 200)
    assert float(np.max(np.abs(path["w"][-1] - np.asarray(target)))) < 0.05


def test_scale_by_muon_takes_matrices_only():
    tx = jopt.scale_by_muon()
    with pytest.raises(ValueError, match=r"jopt.scale_by_muon: .*size: \(3,\) at \['b'\]"):
        tx.init({"w": jnp.zeros((2, 2)), "b": jnp.zeros(3)})
    with pytest.raises(TypeError, match="complex"):
        tx.init({"w": jnp.zeros((2, 2), jnp.complex64)})


def test_scaled_rate_is_a_constant_or_a_schedule_as_the_rate_is():
    assert scaled(0.1, 0.5) == pytest.approx(0.05)
    schedule = scaled(lambda count: 0.1 * count, 0.5)
    assert float(schedule(jnp.asarray(4))) == pytest.approx(0.2)


COEFFICIENTS = Coefficients()


def test_coefficients_accept_three_real_numbers_as_a_tuple():
    for value in ((1.0, 2.0, 3.0), [3.4445, -4.775, 2.0315], (np.float32(1.0), 0, -1)):
        out = COEFFICIENTS("x", value)
        assert isinstance(out, tuple) and len(out) == 3


@pytest.mark.parametrize(
    "label, value", list(COEFFICIENTS.bad().items()), ids=list(COEFFICIENTS.bad())
)
def test_coefficients_reject_each_class_of_bad_value(label, value):
    with pytest.raises((TypeError, ValueError)) as error:
        COEFFICIENTS("x", value)
    assert str(error.value).startswith("x"), str(error.value)


def test_coefficients_message_replaces_the_wording():
    rule = Coefficients(message="Coefficients must be a tuple of exactly 3 values")
    with pytest.raises(
        TypeError,
        match=r"^Coefficients must be a tuple of exactly 3 values; got x=\(1.0, 2.0\)\.$",
    ):
        rule("x", (1.0, 2.0))
