"""keras_schedule_free_adamw and eval_point (the builder of jopt.compat.keras.ScheduleFreeAdamW)
against schedule-free AdamW written out in NumPy (float64), Keras' form."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jopt
from jopt._algorithms.averaging.schedule_free import (
    ScheduleFreeAdamWState,
    eval_point,
    keras_schedule_free_adamw,
)
from tests.support import trajectory
from tests.support.trajectory import assert_steps_close

STEPS = 12


def tree(shapes, seed):
    rng = np.random.default_rng(seed)
    return {k: rng.normal(size=s) for k, s in shapes.items()}


def numpy_schedule_free(params, grads_seq, lr, b1, b2, eps, warmup):
    """Defazio et al.'s schedule-free AdamW as Keras 3 steps it: z starts at θ, v at 0;
    α_t = lr(t−1)·min(t/warmup, 1); v ← v + (g² − v)(1 − β2);
    z ← z − α_t g/(sqrt(v/(1 − β2^t)) + ε); x_{t−1} = (θ − (1 − β1)z_{t−1})/β1;
    x_t = (1 − 1/t)x_{t−1} + z_t/t; θ ← (1 − β1)z_t + β1 x_t. Returns (θ_t, x_t) per step."""
    theta = {k: v.copy() for k, v in params.items()}
    z = {k: v.copy() for k, v in params.items()}
    v = dict.fromkeys(params, 0.0)
    out = []
    for t, grads in enumerate(grads_seq, start=1):
        alpha = lr(t - 1) * (min(t / warmup, 1.0) if warmup else 1.0)
        xs = {}
        for k, g in grads.items():
            v[k] = v[k] + (g * g - v[k]) * (1 - b2)
            z_new = z[k] - alpha * g / (np.sqrt(v[k] / (1 - b2**t)) + eps)
            x_old = (theta[k] - (1 - b1) * z[k]) / b1
            xs[k] = (1 - 1 / t) * x_old + z_new / t
            theta[k] = (1 - b1) * z_new + b1 * xs[k]
            z[k] = z_new
        out.append(({k: x.copy() for k, x in theta.items()}, xs))
    return out


@pytest.mark.parametrize(
    "lr, np_lr, b1, b2, eps, warmup",
    [
        (0.05, lambda k: 0.05, 0.9, 0.999, 1e-8, 0),
        (jopt.schedules.exponential_lr(0.1, 0.8), lambda k: 0.1 * 0.8**k, 0.7, 0.9, 1e-3, 5),
    ],
    ids=["constant", "schedule-warmup"],
)
def test_step_and_eval_point_are_the_formula(lr, np_lr, b1, b2, eps, warmup):
    shapes = {"w": (3, 4), "b": (4,), "s": ()}
    params, grads_seq = tree(shapes, 0), [tree(shapes, 10 + i) for i in range(STEPS)]
    expected = numpy_schedule_free(params, grads_seq, np_lr, b1, b2, eps, warmup)
    tx = keras_schedule_free_adamw(lr, b1, b2, eps, warmup)
    p, state = jax.tree.map(jnp.asarray, params), tx.init(jax.tree.map(jnp.asarray, params))

    @jax.jit
    def step(p, state, g):
        u, state = tx.update(g, state, p)
        p = jax.tree.map(lambda a, b: a + b, p, u)
        return p, state, jax.tree.map(lambda y, z: eval_point(y, z, state.beta_1), p, state.z)

    thetas, xs = [], []
    for g in grads_seq:
        p, state, x = step(p, state, jax.tree.map(jnp.asarray, g))
        thetas.append(p)
        xs.append(x)
    assert_steps_close(trajectory.stack(thetas), [e[0] for e in expected])
    assert_steps_close(trajectory.stack(xs), [e[1] for e in expected])
    assert int(state.count) == STEPS
    assert float(jopt.get_learning_rate(state)) == pytest.approx(np_lr(STEPS - 1), rel=1e-12)


def test_state_starts_z_at_the_params():
    params = {"w": jnp.arange(3.0), "h": jnp.ones(2, jnp.float16)}
    state = keras_schedule_free_adamw(0.1, 0.9, 0.999, 1e-8, 0).init(params)
    assert isinstance(state, ScheduleFreeAdamWState)
    np.testing.assert_array_equal(state.z["w"], [0.0, 1.0, 2.0])
    assert state.z["w"] is not params["w"]  # a copy: donation-safe
    assert state.z["h"].dtype == jnp.float32 and state.v["h"].dtype == jnp.float32
    assert state.beta_1.shape == () and float(state.beta_1) == 0.9
    assert int(state.count) == 0


def test_update_needs_params():
    tx = keras_schedule_free_adamw(0.1, 0.9, 0.999, 1e-8, 0)
    with pytest.raises(ValueError, match=r"update\(\) needs params"):
        tx.update(jnp.ones(2), tx.init(jnp.zeros(2)))
