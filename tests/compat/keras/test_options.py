"""Keras' base options (jopt/compat/keras/_options.py) on every jopt.compat.keras preset,
against real Keras in lockstep, and against Keras' own expected values.

The presets are found by introspection (every factory whose signature spells out Keras'
base options), so presets added later are covered without edits here. Each gets one
combination of all options in float64 (SGD and Adam also in float32); Adam and SGD get the
other options in a few more combinations (every option exercised). Keras runs its jitted
``stateless_apply`` (``model.fit``'s path on JAX), fed the same gradients as jopt at every
step (tests/support/parity.py).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jopt
import jopt.compat.keras as jk
from jopt.compat.keras._common import OPTION_DEFAULTS
from tests.support import parity
from tests.support.parity import KerasCase, grads_of, init_params, jopt_run, keras_run

PRESETS = parity.option_presets()
LR = parity.LR


def test_presets_are_found():
    assert {"SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Ftrl", "ScheduleFreeAdamW"} <= set(
        PRESETS
    )
    assert "LossScaleOptimizer" not in PRESETS and "MultiOptimizer" not in PRESETS


# The option cases (tests/support/parity.py: all options on every preset, the others
# combined on Adam and SGD), run by tests/compat/conftest.py's Keras runs.
QUICK = parity.select(parity.KERAS_QUICK, parity.KERAS_OPTION_CASES)
SLOW = parity.select(parity.KERAS_SLOW, parity.KERAS_OPTION_CASES)


def test_every_option_is_exercised():
    used = set().union(*(c.kwargs for c, _ in QUICK + SLOW))
    assert set(OPTION_DEFAULTS) <= used, set(OPTION_DEFAULTS) - used
    assert set(PRESETS) <= {c.preset for c, _ in QUICK + SLOW}
    assert {np.dtype(d).name for _, d in SLOW} == {"float64", "float32"}


@pytest.mark.parametrize("case, dtype", QUICK, ids=parity.ids(QUICK))
def test_options_match_keras(case, dtype, keras_quick):
    parity.check(keras_quick, case, dtype)


@pytest.mark.slow
@pytest.mark.parametrize("case, dtype", SLOW, ids=parity.ids(SLOW))
def test_options_match_keras_on_every_preset(case, dtype, keras_slow):
    parity.check(keras_slow, case, dtype)


@pytest.mark.slow
def test_the_check_fails_on_a_wrong_option():
    # The harness can fail: jopt with EMA momentum 0.75 against Keras' 0.5.
    case = KerasCase(
        "wrong",
        "Adam",
        dict(learning_rate=LR, use_ema=True, ema_overwrite_frequency=3, ema_momentum=0.5),
        jopt_kwargs=dict(ema_momentum=0.75),
    )
    assert parity.keras_errors(case, np.float64)[1] > 1e-3


# -------------------------------------------------------- Keras' state, read through jopt


@pytest.mark.slow
def test_ema_params_are_keras_moving_average_and_finalized_values():
    kwargs = dict(learning_rate=LR, use_ema=True, ema_momentum=0.75, gradient_accumulation_steps=2)
    opt, variables = keras_run("Adam", kwargs, 11, grads_of)
    state, params = jopt_run(jk.Adam(**kwargs), 11, grads_of)
    ours = jk.ema_params(state, params)
    for v, average in zip(variables, opt._model_variables_moving_average, strict=True):
        np.testing.assert_allclose(ours[v.name], np.asarray(average), rtol=1e-12)
    opt.finalize_variable_values(variables)  # Keras writes the averages into the model
    for v in variables:
        np.testing.assert_allclose(ours[v.name], np.asarray(v.value), rtol=1e-12)
    # Keras' counters: optimizer._iterations (calls) and .iterations (updates)
    assert int(state.count) == int(opt._iterations) == 11
    assert int(state.inner[0].count) == int(opt.iterations) == 5


# ------------------------------------------------------------------ state and tracing


def _layout(tree):
    return jax.tree.structure(tree), [
        (jnp.shape(x), jnp.asarray(x).dtype) for x in jax.tree.leaves(tree)
    ]


@pytest.mark.parametrize("preset", PRESETS)
def test_options_not_asked_for_keep_no_state(preset):
    params = {k: jnp.asarray(v) for k, v in init_params().items()}
    plain = getattr(jk, preset)(learning_rate=LR).init(params)
    stateless = dict(
        clipnorm=1.0, ema_momentum=0.5, loss_scale_factor=2.0, exclude_from_weight_decay="b"
    )
    assert _layout(getattr(jk, preset)(learning_rate=LR, **stateless).init(params)) == _layout(
        plain
    )
    # use_ema adds a count and one average per leaf; accumulation one sum per leaf
    with_ema = getattr(jk, preset)(learning_rate=LR, use_ema=True).init(params)
    assert isinstance(with_ema, jk._common.KerasBaseState) and with_ema.accumulated is None
    assert _layout(with_ema.inner) == _layout(plain)
    assert _layout(with_ema.ema) == _layout(params)
    injected = optax.inject_hyperparams(getattr(jk, preset))(learning_rate=LR, ema_momentum=0.5)
    assert _layout(injected.init(params).inner_state) == _layout(plain)


def test_traced_options_equal_constants_and_zero_clips_nothing():
    # optax.inject_hyperparams turns every number into a (traced, under jit) array.
    kwargs = dict(
        learning_rate=LR,
        clipnorm=0.5,
        use_ema=True,
        ema_momentum=0.75,
        ema_overwrite_frequency=3,
        gradient_accumulation_steps=2,
        loss_scale_factor=4.0,
        weight_decay=0.0625,
    )
    _, plain = jopt_run(jk.Adam(**kwargs), 9, grads_of)
    _, traced = jopt_run(optax.inject_hyperparams(jk.Adam)(**kwargs), 9, grads_of)
    jopt.testing.assert_trees_close(traced, plain, "inject_hyperparams")
    # Keras clips nothing for clipnorm 0 (`if self.clipnorm and self.clipnorm > 0`),
    # also when it arrives as an array.
    tx = optax.inject_hyperparams(jk.Adam)(learning_rate=LR, clipnorm=0.5)
    params = {k: jnp.asarray(v) for k, v in init_params().items()}
    state = tx.init(params)
    state.hyperparams["clipnorm"] = jnp.zeros([])
    grads = grads_of(0, params)
    ours, _ = jax.jit(tx.update)(grads, state, params)
    theirs, _ = jk.Adam(learning_rate=LR).update(
        grads, jk.Adam(learning_rate=LR).init(params), params
    )
    jopt.testing.assert_trees_close(ours, theirs, "clipnorm=0")


def test_accumulation_steps_the_preset_only_every_n_calls_and_jits_once():
    tx = jk.Adam(learning_rate=LR, gradient_accumulation_steps=4)
    params = {"w": jnp.ones(3)}
    state = tx.init(params)
    traces = 0

    def step(g, s, p):
        nonlocal traces
        traces += 1
        return tx.update(g, s, p)

    step = jax.jit(step)
    for i in range(8):
        updates, state = step({"w": jnp.full(3, float(i))}, state, params)
        moved = bool(jnp.any(updates["w"] != 0))
        assert moved == (i % 4 == 3), i
    assert traces == 1
    assert int(state.count) == 8 and int(state.inner[0].count) == 2


@pytest.mark.parametrize("preset", PRESETS)
def test_accumulating_three_gradients_is_one_step_on_their_mean(preset):
    # Keras' test_gradient_accumulation_with_weigth_decay, for every preset: 8 updates on
    # the means of 3 gradients against 24 accumulating calls, in one compiled program.
    grads = jnp.asarray(np.random.default_rng(1).random((8, 3, 2, 1)))
    params = {"v": jnp.asarray([[0.9], [0.5]])}
    plain = getattr(jk, preset)(learning_rate=0.25, weight_decay=0.05)
    accumulating = getattr(jk, preset)(
        learning_rate=0.25, weight_decay=0.05, gradient_accumulation_steps=3
    )

    def run(tx, grads):
        def step(carry, g):
            p, s = carry
            u, s = tx.update({"v": g}, s, p)
            return (optax.apply_updates(p, u), s), None

        return jax.lax.scan(step, (params, tx.init(params)), grads)[0][0]

    means, every = jax.jit(
        lambda g: (run(plain, g.mean(axis=1)), run(accumulating, g.reshape(24, 2, 1)))
    )(grads)
    np.testing.assert_allclose(every["v"], means["v"], rtol=1e-12)


@pytest.mark.parametrize(
    "make",
    [
        lambda: jk.Ftrl(),
        lambda: jk.ScheduleFreeAdamW(),
        lambda: jk.SGD(use_ema=True),
        lambda: jk.Adam(weight_decay=0.1, gradient_accumulation_steps=2),
    ],
)
def test_updates_that_read_the_params_need_them(make):
    tx = make()
    state = tx.init({"w": jnp.ones(2)})
    with pytest.raises(ValueError, match=r"^jopt.compat.keras.\w+: update\(\) needs params"):
        tx.update({"w": jnp.ones(2)}, state)


# ------------------------------- Keras' expected values (keras/src/optimizers/*_test.py)

F32 = jnp.float32


def apply(tx, state, params, grads):
    updates, state = tx.update(grads, state, params)
    return optax.apply_updates(params, updates), state


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW"])
def test_weight_decay_and_its_exclusion(name):
    # Keras' test_weight_decay: three optimizers in turn decay var1 (θ ← θ(1 − 0.004));
    # the second excludes "exclude", the third var3 (here by its path).
    preset = getattr(jk, name)
    zero = {"var1": jnp.zeros([], F32), "exclude": jnp.zeros([], F32)}
    params = {"var1": jnp.asarray(2.0, F32), "exclude": jnp.asarray(2.0, F32)}
    one = {"var1": params["var1"]}
    tx1 = preset(learning_rate=1.0, weight_decay=0.004)
    one, _ = apply(tx1, tx1.init(one), one, {"var1": zero["var1"]})
    params = {"var1": one["var1"], "exclude": params["exclude"]}
    tx2 = preset(learning_rate=1.0, weight_decay=0.004, exclude_from_weight_decay=["exclude"])
    params, _ = apply(tx2, tx2.init(params), params, zero)
    tx3 = preset(learning_rate=1.0, weight_decay=0.004, exclude_from_weight_decay="exclude$")
    params, _ = apply(tx3, tx3.init(params), params, zero)
    assert float(params["var1"]) == pytest.approx(1.9760959, abs=1e-6)
    assert float(params["exclude"]) == pytest.approx(2.0, abs=1e-6)


@pytest.mark.parametrize(
    "options, grad, expected",
    [
        (dict(clipnorm=1), [100.0, 100.0], [2**0.5 / 2, 2**0.5 / 2]),
        (dict(clipvalue=1), [100.0, 100.0], [1.0, 1.0]),
        (dict(global_clipnorm=1), [50.0, 100.0], np.array([50.0, 100.0]) / np.hypot(50, 100)),
    ],
)
def test_clip(options, grad, expected):
    tx = jk.SGD(learning_rate=1.0, **options)  # the update is −(the clipped gradient)
    x = jnp.zeros(2, F32)
    updates, _ = tx.update(jnp.asarray(grad, F32), tx.init(x), x)
    np.testing.assert_allclose(-np.asarray(updates), expected, rtol=1e-6)


def test_ema():
    v = jnp.asarray([[3.0, 4.0], [5.0, 6.0]], F32)
    tx = jk.SGD(learning_rate=1.0, use_ema=True, ema_momentum=0.9, ema_overwrite_frequency=3)
    state, grads = tx.init(v), jnp.ones((2, 2), F32)
    expected = [
        ([[2.0, 3.0], [4.0, 5.0]], [[2.0, 3.0], [4.0, 5.0]]),  # initialized after step 1
        ([[1.0, 2.0], [3.0, 4.0]], [[1.9, 2.9], [3.9, 4.9]]),
        ([[1.71, 2.71], [3.71, 4.71]], [[1.71, 2.71], [3.71, 4.71]]),  # overwritten
    ]
    for params, average in expected:
        v, state = apply(tx, state, v, grads)
        np.testing.assert_allclose(v, params, rtol=1e-6)
        np.testing.assert_allclose(jk.ema_params(state, v), average, rtol=1e-6)


def test_static_loss_scaling():
    v = jnp.asarray([[1.0, 2.0], [3.0, 4.0]], F32)
    tx = jk.SGD(learning_rate=1.0, loss_scale_factor=1024.0)
    v, _ = apply(tx, tx.init(v), v, v * 1024.0)
    np.testing.assert_allclose(v, 0.0)


def test_gradient_accumulation():
    v = jnp.asarray([[1.0, 2.0], [3.0, 4.0]], F32)
    tx = jk.SGD(learning_rate=1.0, gradient_accumulation_steps=3)
    state, grads = tx.init(v), jnp.ones((2, 2), F32)
    # (params, accumulated, Keras' _iterations, its iterations) after each call
    expected = [
        ([[1.0, 2.0], [3.0, 4.0]], 1.0, 1, 0),
        ([[1.0, 2.0], [3.0, 4.0]], 2.0, 2, 0),
        ([[0.0, 1.0], [2.0, 3.0]], 0.0, 3, 1),
        ([[0.0, 1.0], [2.0, 3.0]], 1.0, 4, 1),
    ]
    for params, accumulated, calls, iterations in expected:
        v, state = apply(tx, state, v, grads)
        np.testing.assert_allclose(v, params)
        np.testing.assert_allclose(state.accumulated, accumulated)
        assert int(state.count) == calls and int(state.count) // 3 == iterations
