"""jopt.compat.keras.LossScaleOptimizer and scale_loss (jopt/compat/keras/_loss_scale.py)
against keras.optimizers.LossScaleOptimizer: lockstep trajectories (the inner optimizer
bare and wrapped by optax), Keras' checks and expected values, the dynamic scale."""

from __future__ import annotations

import jax.numpy as jnp
import keras
import numpy as np
import optax
import pytest

import jopt.compat.keras as jk
from tests.support import parity
from tests.support.parity import grads_of, jopt_run, keras_run

CASES = parity.keras_cases("loss_scale")
QUICK = parity.select(parity.KERAS_QUICK, CASES)
SLOW = parity.select(parity.KERAS_SLOW, CASES)


@pytest.mark.parametrize("case, dtype", QUICK, ids=parity.ids(QUICK))
def test_first_case_of_each_preset_matches_keras(case, dtype, keras_quick):
    parity.check(keras_quick, case, dtype)


@pytest.mark.slow
@pytest.mark.parametrize("case, dtype", SLOW, ids=parity.ids(SLOW))
def test_every_other_case_matches_keras(case, dtype, keras_slow):
    parity.check(keras_slow, case, dtype)


# The inner optimizer wrapped by optax.inject_hyperparams or optax.chain (issue 18): Keras
# replaces the inner's own loss_scale_factor (8) by the dynamic scale, and so must jopt,
# whatever holds the inner preset (tests/support/parity.py, KERAS_WRAPPED_CASES).
WRAPPED = parity.select(parity.KERAS_SLOW, parity.KERAS_WRAPPED_CASES)
WRAPPED = [(c, d) for c, d in WRAPPED if c.preset == "LossScaleOptimizer"]
LR = parity.LR


@pytest.mark.slow
@pytest.mark.parametrize("case, dtype", WRAPPED, ids=parity.ids(WRAPPED))
def test_a_wrapped_inner_optimizer_keeps_keras_semantics(case, dtype, keras_slow):
    parity.check(keras_slow, case, dtype)


def _inner(module):
    return module.Adam()


KERAS_RAISES = [
    dict(dynamic=False),
    dict(clipnorm=1.0),
    dict(foo=1, bar=2),
]


@pytest.mark.parametrize("kwargs", KERAS_RAISES, ids=["-".join(k) for k in KERAS_RAISES])
def test_bad_arguments_raise_like_keras(kwargs):
    parity.raises_like_keras("LossScaleOptimizer", kwargs, args=lambda m: [_inner(m)])


A = jk.Adam()  # an inner optimizer
JOPT_ONLY = [
    (lambda: jk.LossScaleOptimizer(A, initial_scale=0.0), ValueError, "initial_scale=0.0"),
    (lambda: jk.LossScaleOptimizer(A, dynamic_growth_steps=0), ValueError, "growth_steps=0"),
    (lambda: jk.LossScaleOptimizer("adam"), TypeError, "inner_optimizer='adam' is invalid"),
]


@pytest.mark.parametrize("make, error, match", JOPT_ONLY)
def test_bad_arguments_jopt_only(make, error, match):
    with pytest.raises(error, match=rf"^jopt\.compat\.keras\.LossScaleOptimizer: .*{match}"):
        make()


# ----------------------------------------- keras/src/optimizers/loss_scale_optimizer_test.py


@pytest.mark.parametrize(
    "make",
    [
        # test_finite_step: the gradients come scaled by initial_scale.
        lambda: jk.LossScaleOptimizer(jk.SGD(learning_rate=0.5)),
        # test_finite_step_with_inner_loss_scale: the inner optimizer's factor is ignored.
        lambda: jk.LossScaleOptimizer(jk.SGD(learning_rate=0.5, loss_scale_factor=100.0)),
    ],
    ids=["finite_step", "finite_step_with_inner_loss_scale"],
)
def test_single_step(make):
    got = parity.single_step(make(), scale=2.0**15)
    np.testing.assert_allclose(got, [0.5, -1.0, -0.5, 3.0], rtol=1e-4, atol=1e-4)


def apply(tx, state, params, grads):
    updates, state = tx.update(grads, state, params)
    return optax.apply_updates(params, updates), state


def test_loss_scale_infinite_step_down_and_up_scaling():
    x = jnp.asarray([1.0, 2.0, 3.0, 4.0], jnp.float32)
    tx = jk.LossScaleOptimizer(jk.SGD(learning_rate=0.5), initial_scale=400.0)
    state = tx.init(x)
    for _ in range(4):
        x, state = apply(tx, state, x, jnp.full(4, jnp.inf, jnp.float32))
    np.testing.assert_allclose(x, [1.0, 2.0, 3.0, 4.0])  # test_infinite_step
    assert float(jk.scale_loss(state, 1.0)) == 25.0  # test_downscaling
    tx = jk.LossScaleOptimizer(jk.SGD(learning_rate=0.5), initial_scale=2.0, dynamic_growth_steps=2)
    state, g = tx.init(x), jnp.asarray([1.0, 6.0, 7.0, 2.0], jnp.float32)
    for _ in range(8):
        x, state = apply(tx, state, x, g)
    assert float(jk.scale_loss(state, 1.0)) == 32.0  # test_upscaling


def _overflowing(step, params):
    grads = grads_of(step, params)
    return {**grads, "w": grads["w"] * np.inf} if step in (2, 3, 9) else grads


@pytest.mark.slow
def test_scale_loss_follows_keras_dynamic_scale():
    wrap = lambda inner: keras.optimizers.LossScaleOptimizer(  # noqa: E731
        inner, initial_scale=16.0, dynamic_growth_steps=3
    )
    opt, variables = keras_run("Adam", dict(learning_rate=LR), 14, _overflowing, wrap)
    inner = jk.Adam(learning_rate=LR)
    tx = jk.LossScaleOptimizer(inner, initial_scale=16.0, dynamic_growth_steps=3)
    state, params = jopt_run(tx, 14, _overflowing)
    assert float(jk.scale_loss(state, 1.0)) == float(opt.scale_loss(1.0)) == 8.0
    assert int(state.step_counter) == int(opt.step_counter.value)
    assert int(state.inner[0].count) == int(opt.iterations) == 11  # 3 steps skipped
    for v in variables:
        np.testing.assert_allclose(params[v.name], np.asarray(v.value), rtol=1e-12)
