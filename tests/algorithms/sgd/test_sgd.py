"""jopt.sgd and jopt.scale_by_trace against PyTorch's SGD written out in NumPy (float64), the
state layouts, and the Nesterov relation (nesterov_needs_momentum)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jopt
from tests.support import trajectory
from tests.support.trajectory import DECK_THETA0, assert_steps_close, deck_grad_np, deck_loss

STEPS = 60


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
    lr, th, buf, ref = 0.02, DECK_THETA0.copy(), None, []
    sign = -1.0 if maximize else 1.0  # maximize climbs −E so the run stays bounded
    for _ in range(STEPS):
        grad = sign * deck_grad_np(th)
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
    grad = jax.grad(lambda p: sign * deck_loss(p))
    assert_steps_close(trajectory.descent(tx, grad, DECK_THETA0, STEPS), ref)


def numpy_trace(grads, momentum, dampening=0.0, nesterov=False):
    """PyTorch's buffer: b_1 = g_1, b_t = μ_t b_{t−1} + (1 − d) g_t; out g + μ_t b_t or b_t."""
    b, out = None, []
    for k, g in enumerate(grads):
        mu = momentum(k) if callable(momentum) else momentum
        b = g.copy() if b is None else mu * b + (1 - dampening) * g
        out.append(g + mu * b if nesterov else b)
    return out


def test_scale_by_trace_is_pytorchs_buffer():
    rng = np.random.default_rng(0)
    grads = list(rng.normal(size=(12, 5)))
    ramp = lambda k: 0.95 - 0.5 * 0.8**k  # noqa: E731
    jramp = lambda count: 0.95 - 0.5 * 0.8 ** count.astype(jnp.float64)  # noqa: E731
    for tx, expected in [
        (jopt.scale_by_trace(0.9), numpy_trace(grads, 0.9)),
        (jopt.scale_by_trace(0.9, nesterov=True), numpy_trace(grads, 0.9, nesterov=True)),
        (jopt.scale_by_trace(0.8, 0.3), numpy_trace(grads, 0.8, 0.3)),
        (jopt.scale_by_trace(jramp, nesterov=True), numpy_trace(grads, ramp, nesterov=True)),
        (jopt.scale_by_trace(jramp, 0.25), numpy_trace(grads, ramp, 0.25)),
    ]:
        assert_steps_close(trajectory.updates(tx, grads), expected)


def test_trace_state_has_a_count_only_when_dampened_or_scheduled():
    params = {"w": jnp.zeros(3)}
    plain = jopt.scale_by_trace(0.9).init(params)
    assert isinstance(plain, jopt.ScaleByTraceState) and plain.trace["w"].shape == (3,)
    for tx in (jopt.scale_by_trace(0.9, 0.1), jopt.scale_by_trace(lambda c: 0.9)):
        state = tx.init(params)
        assert isinstance(state, jopt.ScaleByCountedTraceState)
        assert state.count.dtype == jnp.int32 and int(state.count) == 0
        _, state = tx.update({"w": jnp.ones(3)}, state)
        assert int(state.count) == 1
    assert isinstance(jopt.scale_by_trace(0.9, 0.0).init(params), jopt.ScaleByTraceState)
    state = jopt.scale_by_trace(0.9, mu_dtype=jnp.bfloat16).init(params)
    assert state.trace["w"].dtype == jnp.bfloat16


def test_sgd_without_momentum_keeps_no_buffer():
    params = {"w": jnp.zeros(3)}
    for momentum in (None, 0, 0.0, np.float32(0.0)):
        state = jopt.sgd(0.1, momentum).init(params)
        assert not any(isinstance(s, jopt.ScaleByTraceState) for s in state)
    state = jopt.sgd(0.1, jnp.asarray(0.0)).init(params)  # an array may change later: kept
    assert any(isinstance(s, jopt.ScaleByTraceState) for s in state)


@pytest.mark.parametrize(
    "factory, kwargs",
    [
        (jopt.sgd, dict(learning_rate=0.1, nesterov=True)),
        (jopt.sgd, dict(learning_rate=0.1, momentum=0.0, nesterov=True)),
        (jopt.sgd, dict(learning_rate=0.1, momentum=0.9, dampening=0.1, nesterov=True)),
        (jopt.scale_by_trace, dict(momentum=0.0, nesterov=True)),
        (jopt.scale_by_trace, dict(momentum=0.9, dampening=0.5, nesterov=True)),
    ],
)
def test_nesterov_needs_a_momentum_and_no_dampening(factory, kwargs):
    name = f"jopt.{factory.__name__}"
    match = rf"^{name}: Nesterov momentum requires a momentum and zero dampening \(got "
    with pytest.raises(ValueError, match=match):
        factory(**kwargs)


def test_nesterov_relation_does_not_read_schedules_or_traced_values():
    jopt.scale_by_trace(lambda count: 0.9, nesterov=True)  # a schedule: not checked
    jopt.scale_by_trace(0.9, 0.0, nesterov=True)  # zero dampening is no dampening

    @jax.jit
    def build_and_step(momentum):
        tx = jopt.sgd(0.1, momentum, nesterov=True)
        return tx.update(jnp.ones(2), tx.init(jnp.zeros(2)))[0]

    np.testing.assert_allclose(build_and_step(0.5), [-0.15, -0.15])  # −0.1·(1 + 0.5·1)
