"""Keras' base options on every jopt.compat.keras preset, against real Keras in lockstep.

The presets are found by introspection (every factory whose signature spells out
Keras' base options), so presets added later are covered without edits here. Each
gets one combination of all options in float64 and float32; Adam and SGD get the full
matrix, one option at a time. Keras runs its jitted ``stateless_apply`` (model.fit's
path on JAX), fed the same gradients as jopt at every step (tests/parity.py).
"""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import keras
import numpy as np
import optax
import pytest
from tests.support.parity import (
    KERAS_CASES,
    STEPS,
    KerasCase,
    init_params,
    keras_errors,
    keras_reductions_in_float64,
    loss_jnp,
)

import jopt
import jopt.compat.keras as jk
from jopt.compat.keras._common import OPTION_DEFAULTS

TOL = {np.float64: 1e-10, np.float32: 2e-5}
DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])


def _takes_options(name: str) -> bool:
    factory = getattr(jk, name)
    if not callable(factory) or name == "KerasOptions":
        return False
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False
    return set(OPTION_DEFAULTS) <= set(parameters)


PRESETS = [n for n in jk.__all__ if _takes_options(n)]
LR = 0.015625  # exact in binary: Keras' float32 learning-rate variable adds no rounding


def assert_matches(case: KerasCase, dtype) -> None:
    max_abs, max_rel = keras_errors(case, dtype)
    assert max_rel <= TOL[dtype], (
        f"{case.name} ({np.dtype(dtype).name}, {STEPS} steps): max rel err {max_rel:.3g}, "
        f"max abs err {max_abs:.3g}"
    )


def test_presets_are_found():
    assert {"SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Ftrl", "ScheduleFreeAdamW"} <= set(
        PRESETS
    )
    assert "LossScaleOptimizer" not in PRESETS and "MultiOptimizer" not in PRESETS


# Every option at once: accumulation (with a schedule over the calls), global clipping,
# decay with an exclusion, the loss-scale division and the EMA with its overwrite.
ALL_OPTIONS = dict(
    gradient_accumulation_steps=2,
    global_clipnorm=1.0,
    weight_decay=0.0625,
    exclude_from_weight_decay="b",
    use_ema=True,
    ema_momentum=0.75,
    ema_overwrite_frequency=5,
    loss_scale_factor=4.0,
)


# Presets whose Keras float64 run reduces in float32 (tests/parity.py, the f64_tol rows).
FLOAT32_REDUCTIONS = {c.preset for c in KERAS_CASES if c.f64_tol is not None}


@DTYPES
@pytest.mark.parametrize("preset", PRESETS)
def test_all_options_match_keras(preset, dtype, monkeypatch):
    case = KerasCase(
        f"{preset}-all-options", preset, ALL_OPTIONS, ("keras_exp", LR, 10, 0.5), stateless=True
    )
    if dtype is np.float64 and preset in FLOAT32_REDUCTIONS:
        # the options, not Keras' float32 means and norms, under test: those kept in
        # float64, the usual 1e-10 holds (float32 runs real Keras unchanged)
        keras_reductions_in_float64(monkeypatch)
    assert_matches(case, dtype)


MATRIX = {
    "clipnorm": dict(clipnorm=0.5),
    "global_clipnorm": dict(global_clipnorm=0.5),
    "clipvalue": dict(clipvalue=0.25),
    "wd-exclude": dict(weight_decay=0.0625, exclude_from_weight_decay=["b", "^s$"]),
    "ema": dict(use_ema=True),
    "ema-overwrite": dict(use_ema=True, ema_momentum=0.75, ema_overwrite_frequency=4),
    "loss_scale_factor": dict(loss_scale_factor=3.0),
    "accumulation": dict(gradient_accumulation_steps=3),
    # The EMA steps at every call, its first n calls copy θ, and the overwrite fires on
    # every call of an iteration divisible by the frequency (iterations = calls // n).
    "accumulation-ema-overwrite": dict(
        gradient_accumulation_steps=3, use_ema=True, ema_momentum=0.5, ema_overwrite_frequency=2
    ),
    "lr-zero-argument-callable": dict(learning_rate=lambda: LR),
    "lr-keras-schedule-object": dict(
        learning_rate=keras.optimizers.schedules.ExponentialDecay(0.0625, 10, 0.5),
        gradient_accumulation_steps=2,
    ),
}


def matrix_cases(preset: str, extra: dict):
    cases = [
        KerasCase(f"{preset}-{k}", preset, {"learning_rate": LR, **extra, **v}, stateless=True)
        for k, v in MATRIX.items()
    ]
    # a jopt schedule count -> lr against Keras' ExponentialDecay, over the calls
    cases.append(
        KerasCase(
            f"{preset}-lr-schedule-accumulation",
            preset,
            dict(extra, gradient_accumulation_steps=3),
            ("keras_exp", 0.0625, 10, 0.5),
            stateless=True,
        )
    )
    return cases


ADAM = matrix_cases("Adam", {})
SGD = matrix_cases("SGD", dict(momentum=0.5))  # Keras' lr-inside momentum buffer


# float64 only: test_all_options_match_keras covers float32 on every preset.
@pytest.mark.parametrize("case", ADAM + SGD, ids=[c.name for c in ADAM + SGD])
def test_option_matrix(case):
    assert_matches(case, np.float64)


def test_the_check_fails_on_a_wrong_option():
    # The harness can fail: jopt with EMA momentum 0.75 against Keras' 0.5.
    case = KerasCase(
        "wrong",
        "Adam",
        dict(learning_rate=LR, use_ema=True, ema_overwrite_frequency=3, ema_momentum=0.5),
        jopt_kwargs=dict(ema_momentum=0.75),
        stateless=True,
    )
    assert keras_errors(case, np.float64)[1] > 1e-3


# -------------------------------------------------------- Keras' state, read through jopt


def keras_run(name, kwargs, steps, grads_of, wrap=None):
    """Runs keras.optimizers.<name>(**kwargs) (wrapped in ``wrap``) on the parity
    problem's parameters for ``steps`` steps of ``grads_of(step, params)`` (float64)."""
    keras.config.set_floatx("float64")
    try:
        variables = [
            keras.Variable(np.asarray(v), name=k, dtype="float64") for k, v in init_params().items()
        ]
        opt = getattr(keras.optimizers, name)(**kwargs)
        if wrap is not None:
            opt = wrap(opt)
        opt.build(variables)
        apply = jax.jit(opt.stateless_apply)
        with jax.numpy_dtype_promotion("standard"):
            for i in range(steps):
                params = {v.name: v.value for v in variables}
                grads = [grads_of(i, params)[v.name] for v in variables]
                new, state = apply(
                    [v.value for v in opt.variables], grads, [v.value for v in variables]
                )
                for v, value in zip(variables + opt.variables, new + state, strict=True):
                    v.assign(value)
    finally:
        keras.config.set_floatx("float32")
    return opt, variables


def jopt_run(tx, steps, grads_of):
    params = {k: jnp.asarray(v) for k, v in init_params().items()}
    state = tx.init(params)
    update = jax.jit(tx.update)
    for i in range(steps):
        updates, state = update(grads_of(i, params), state, params)
        params = optax.apply_updates(params, updates)
    return state, params


def gradient(step, params):
    return jax.grad(loss_jnp)({k: jnp.asarray(v) for k, v in params.items()})


def test_ema_params_are_keras_moving_average_and_finalized_values():
    kwargs = dict(learning_rate=LR, use_ema=True, ema_momentum=0.75, gradient_accumulation_steps=2)
    opt, variables = keras_run("Adam", kwargs, 11, gradient)
    state, params = jopt_run(jk.Adam(**kwargs), 11, gradient)
    ours = jk.ema_params(state, params)
    for v, average in zip(variables, opt._model_variables_moving_average, strict=True):
        np.testing.assert_allclose(ours[v.name], np.asarray(average), rtol=1e-12)
    opt.finalize_variable_values(variables)  # Keras writes the averages into the model
    for v in variables:
        np.testing.assert_allclose(ours[v.name], np.asarray(v.value), rtol=1e-12)
    # Keras' counters: optimizer._iterations (calls) and .iterations (updates)
    assert int(state.count) == int(opt._iterations) == 11
    assert int(state.inner[0].count) == int(opt.iterations) == 5


def test_schedule_free_eval_params_from_keras_variables():
    kwargs = dict(learning_rate=0.0625, beta_1=0.8, warmup_steps=3)
    opt, variables = keras_run("ScheduleFreeAdamW", kwargs, 12, gradient)
    state, _ = jopt_run(jk.ScheduleFreeAdamW(**kwargs), 12, gradient)
    y = {v.name: np.asarray(v.value) for v in variables}
    x = jk.schedule_free_eval_params(state, {k: jnp.asarray(v) for k, v in y.items()})
    for v, z in zip(variables, opt._momentums, strict=True):
        np.testing.assert_allclose(x[v.name], (y[v.name] - 0.2 * np.asarray(z)) / 0.8, rtol=1e-10)


def _overflowing(step, params):
    grads = gradient(step, params)
    return {**grads, "w": grads["w"] * np.inf} if step in (2, 3, 9) else grads


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
    _, plain = jopt_run(jk.Adam(**kwargs), 9, gradient)
    _, traced = jopt_run(optax.inject_hyperparams(jk.Adam)(**kwargs), 9, gradient)
    jopt.testing.assert_trees_close(traced, plain, "inject_hyperparams")
    # Keras clips nothing for clipnorm 0 (`if self.clipnorm and self.clipnorm > 0`),
    # also when it arrives as an array.
    tx = optax.inject_hyperparams(jk.Adam)(learning_rate=LR, clipnorm=0.5)
    params = {k: jnp.asarray(v) for k, v in init_params().items()}
    state = tx.init(params)
    state.hyperparams["clipnorm"] = jnp.zeros([])
    grads = gradient(0, params)
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
    # Keras' test_gradient_accumulation_with_weigth_decay, for every preset.
    rng = np.random.default_rng(1)
    params = {"v": jnp.asarray([[0.9], [0.5]])}
    plain = getattr(jk, preset)(learning_rate=0.25, weight_decay=0.05)
    accumulating = getattr(jk, preset)(
        learning_rate=0.25, weight_decay=0.05, gradient_accumulation_steps=3
    )
    p1, s1 = params, plain.init(params)
    p3, s3 = params, accumulating.init(params)
    for _ in range(8):
        grads = rng.random((3, 2, 1))
        u, s1 = plain.update({"v": jnp.asarray(grads.mean(axis=0))}, s1, p1)
        p1 = optax.apply_updates(p1, u)
        for g in grads:
            u, s3 = accumulating.update({"v": jnp.asarray(g)}, s3, p3)
            p3 = optax.apply_updates(p3, u)
    np.testing.assert_allclose(p3["v"], p1["v"], rtol=1e-12)


# ----------------------------------------------------------------- MultiOptimizer forms


def test_multi_optimizer_function_form_equals_the_map():
    sgd, adam = jk.SGD(LR, momentum=0.5), jk.Adam(LR, use_ema=True)
    by_map = jk.MultiOptimizer(jk.OptimizerMap(sgd, {"b|s": adam}))
    by_function = jk.MultiOptimizer(lambda path: adam if path in ("b", "s") else sgd)
    _, a = jopt_run(by_map, 7, gradient)
    _, b = jopt_run(by_function, 7, gradient)
    jopt.testing.assert_trees_close(a, b, "function form")
    state, params = jopt_run(by_map, 7, gradient)
    averaged = jk.ema_params(state, params)
    assert np.all(np.asarray(averaged["w"]) == np.asarray(params["w"]))  # SGD: no EMA
    assert not np.allclose(averaged["b"], params["b"])


# ------------------------------------------------------------------------ bad arguments

A = jk.Adam()  # an inner optimizer for the wrappers


def _keras_inner(module):
    return module.Adam()


KERAS_RAISES = [
    ("SGD", dict(clipnorm=0.1, clipvalue=0.1), ValueError),
    ("Adam", dict(clipnorm=0.1, global_clipnorm=0.1), ValueError),
    ("Adam", dict(use_ema=True, ema_momentum=1.5), ValueError),
    ("Adam", dict(use_ema=True, ema_overwrite_frequency=0.5), ValueError),
    ("Adam", dict(gradient_accumulation_steps=1), ValueError),
    ("Ftrl", dict(initial_accumulator_value=-1.0), ValueError),
    ("Ftrl", dict(learning_rate_power=0.5), ValueError),
    ("Ftrl", dict(l1_regularization_strength=-0.1), ValueError),
    ("Ftrl", dict(l2_regularization_strength=-0.1), ValueError),
    ("Ftrl", dict(l2_shrinkage_regularization_strength=-0.1), ValueError),
    ("LossScaleOptimizer", dict(dynamic=False), ValueError),
    ("LossScaleOptimizer", dict(clipnorm=1.0), ValueError),
    ("LossScaleOptimizer", dict(foo=1, bar=2), ValueError),
]


@pytest.mark.parametrize(
    "name, kwargs, error", KERAS_RAISES, ids=[f"{n}-{'-'.join(k)}" for n, k, _ in KERAS_RAISES]
)
def test_bad_options_raise_like_keras(name, kwargs, error):
    args = [_keras_inner(keras.optimizers)] if name == "LossScaleOptimizer" else []
    with pytest.raises(error) as theirs:
        getattr(keras.optimizers, name)(*args, **kwargs)
    args = [_keras_inner(jk)] if name == "LossScaleOptimizer" else []
    with pytest.raises(error) as ours:
        getattr(jk, name)(*args, **kwargs)
    assert str(ours.value).startswith(f"jopt.compat.keras.{name}: ")
    assert str(theirs.value).rstrip(".") in str(ours.value)


def test_wrappers_refuse_what_keras_refuses():
    lso = jk.LossScaleOptimizer(A)
    with pytest.raises(ValueError, match="optimizer cannot be LossScaleOptimizer"):
        jk.OptimizerMap(A, {"w": lso})
    with pytest.raises(ValueError, match="LossScaleOptimizer cannot be used inside an Multi"):
        jk.MultiOptimizer(lambda path: lso).init({"w": jnp.ones(2)})
    with pytest.raises(ValueError, match="MultiOptimizer cannot be used inside an Multi"):
        jk.MultiOptimizer(jk.OptimizerMap(jk.MultiOptimizer(jk.OptimizerMap(A))))
    with pytest.raises(ValueError, match="already exists in the OptimizerMap"):
        groups = jk.OptimizerMap(A, {"w": A})
        groups["w"] = A
    with pytest.raises(TypeError, match="default_optimizer must be an optax transformation"):
        jk.OptimizerMap("adam")
    jk.LossScaleOptimizer(jk.MultiOptimizer(jk.OptimizerMap(A)))  # allowed, as in Keras


JOPT_ONLY = [
    (dict(clipnorm=-1.0), ValueError, "clipnorm=-1.0 is invalid"),
    (dict(global_clipnorm=float("nan")), ValueError, "global_clipnorm=nan is invalid"),
    (dict(loss_scale_factor=0.0), ValueError, "loss_scale_factor=0.0 is invalid"),
    (dict(use_ema=True, ema_overwrite_frequency=0), ValueError, "ema_overwrite_frequency"),
    (dict(use_ema=True, ema_momentum=float("nan")), ValueError, "ema_momentum"),
    (dict(gradient_accumulation_steps=2.0), ValueError, "gradient_accumulation_steps"),
    (dict(gradient_accumulation_steps="2"), TypeError, "gradient_accumulation_steps"),
    (dict(use_ema=1), TypeError, "use_ema=1 is invalid"),
    (dict(exclude_from_weight_decay=3), TypeError, "exclude_from_weight_decay=3"),
    (dict(exclude_from_weight_decay="bias("), ValueError, "regular"),
]


@pytest.mark.parametrize(
    "kwargs, error, match",
    JOPT_ONLY,
    ids=[next(iter(k)) + str(i) for i, (k, _, _) in enumerate(JOPT_ONLY)],
)
def test_bad_options_jopt_only(kwargs, error, match):
    with pytest.raises(error, match=rf"^jopt.compat.keras.Adam: .*{match}"):
        jk.Adam(**kwargs)


NEW_PRESETS_JOPT_ONLY = [
    (lambda: jk.Ftrl(beta=-1.0), ValueError, "Ftrl: beta=-1.0 is invalid"),
    (lambda: jk.Ftrl(beta=float("inf")), ValueError, "Ftrl: beta=inf is invalid"),
    (lambda: jk.Ftrl(l1_regularization_strength=float("nan")), ValueError, "strength=nan"),
    (lambda: jk.ScheduleFreeAdamW(beta_1=0.0), ValueError, "beta_1=0.0 is invalid"),
    (lambda: jk.ScheduleFreeAdamW(beta_2=1.0), ValueError, "beta_2=1.0 is invalid"),
    (lambda: jk.ScheduleFreeAdamW(warmup_steps=-1), ValueError, "warmup_steps=-1"),
    (lambda: jk.ScheduleFreeAdamW(warmup_steps=2.5), TypeError, "warmup_steps=2.5"),
    (lambda: jk.LossScaleOptimizer(A, initial_scale=0.0), ValueError, "initial_scale=0.0"),
    (lambda: jk.LossScaleOptimizer(A, dynamic_growth_steps=0), ValueError, "growth_steps=0"),
    (lambda: jk.LossScaleOptimizer("adam"), TypeError, "inner_optimizer='adam' is invalid"),
    (lambda: jk.MultiOptimizer("adam"), TypeError, "optimizer_map='adam' is invalid"),
    (lambda: jk.MultiOptimizer(jk.OptimizerMap(A), 0.0), ValueError, "loss_scale_factor=0.0"),
    (lambda: jopt.scale_by_ftrl(learning_rate_power=0.5), ValueError, "learning_rate_power"),
    (lambda: jopt.scale_by_ftrl(l2=-1.0), ValueError, "scale_by_ftrl: l2=-1.0 is invalid"),
    # FTRL divides by the rate: Keras accepts 0 and writes NaN, jopt refuses it
    (lambda: jk.Ftrl(learning_rate=0.0), ValueError, r"Ftrl: learning_rate=0.0 .*\(0, inf\)"),
    (lambda: jopt.scale_by_ftrl(0.0), ValueError, r"scale_by_ftrl: learning_rate=0.0"),
]


@pytest.mark.parametrize("make, error, match", NEW_PRESETS_JOPT_ONLY)
def test_new_presets_check_their_arguments(make, error, match):
    with pytest.raises(error, match=rf"^jopt\..*{match}"):
        make()


def test_accumulation_zero_is_off_as_in_keras():
    params = {"w": jnp.ones(2)}
    assert _layout(jk.SGD(gradient_accumulation_steps=0).init(params)) == _layout(
        jk.SGD().init(params)
    )


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


def test_leaf_weight_decay_gives_each_leaf_its_own_decay():
    # keras_optimizer's hook for presets with a decay per leaf (Keras Muon's
    # adam_weight_decay): θ ← θ − θλ_leafα, exclusions still apply.
    from jopt._base import _scale_by_learning_rate as lr_step

    from jopt.compat.keras._common import keras_optimizer

    def decay(path, leaf):
        return 0.25 if leaf.ndim == 2 else (None if path == "b" else 0.125)

    call = "test"
    tx = keras_optimizer(
        call, [lr_step(call, 0.5)], 0.5, None, dict(exclude_from_weight_decay="^c$"),
        leaf_weight_decay=decay,
    )  # fmt: skip
    params = {"a": jnp.full((2, 2), 2.0), "b": jnp.full(2, 2.0), "c": jnp.full((2, 2), 2.0)}
    params["d"] = jnp.full(3, 2.0)
    grads = jax.tree.map(jnp.ones_like, params)
    updates, _ = tx.update(grads, tx.init(params), params)
    expected = {"a": -0.5 - 2 * 0.25 * 0.5, "b": -0.5, "c": -0.5, "d": -0.5 - 2 * 0.125 * 0.5}
    for k, v in expected.items():
        np.testing.assert_allclose(updates[k], v, rtol=1e-12)


def test_ftrl_leaves_a_coordinate_without_gradient_where_keras_writes_nan():
    # initial_accumulator_value=0 and no gradient yet on a coordinate: FTRL's
    # denominator sqrt(n)/α + 2λ2 is 0 there. Keras divides 0 by 0; jopt keeps θ.
    grads = np.array([1.0, 0.0, -1.0], np.float32)
    with jax.numpy_dtype_promotion("standard"):  # Keras mixes its float32 with Python floats
        var = keras.Variable(np.array([1.0, 2.0, 3.0], np.float32))
        theirs = keras.optimizers.Ftrl(learning_rate=0.1, initial_accumulator_value=0.0)
        theirs.apply_gradients([(keras.ops.convert_to_tensor(grads), var)])
        keras_after = np.asarray(var.value)
    assert np.isnan(keras_after[1]) and np.isfinite(keras_after[[0, 2]]).all()
    tx = jk.Ftrl(learning_rate=0.1, initial_accumulator_value=0.0)
    params = jnp.array([1.0, 2.0, 3.0], jnp.float32)
    ours = np.asarray(
        optax.apply_updates(params, tx.update(jnp.asarray(grads), tx.init(params), params)[0])
    )
    np.testing.assert_allclose(ours[[0, 2]], keras_after[[0, 2]], rtol=1e-6)
    assert ours[1] == 2.0


@pytest.mark.parametrize("kwargs", [dict(ema_momentum=1.5), dict(ema_overwrite_frequency=0.5)])
def test_ema_options_are_only_checked_with_use_ema_as_keras(kwargs):
    keras.optimizers.Adam(**kwargs)  # accepted: no EMA, nothing to check
    jk.Adam(**kwargs)
    with pytest.raises(ValueError):
        keras.optimizers.Adam(use_ema=True, **kwargs)
    with pytest.raises(ValueError, match=r"^jopt.compat.keras.Adam: `ema_"):
        jk.Adam(use_ema=True, **kwargs)


def test_a_zero_argument_learning_rate_is_called_at_every_step_as_keras():
    # The rate a function of no arguments returns changes between two eager steps; both
    # libraries must read the new one (a port that called it once would move 0.5 twice).
    box = [0.5]
    grads = np.array([1.0, -2.0], np.float32)
    with jax.numpy_dtype_promotion("standard"):  # Keras mixes its float32 with Python floats
        var = keras.Variable(np.zeros(2, np.float32))
        theirs = keras.optimizers.SGD(learning_rate=lambda: box[0])
        tx = jk.SGD(learning_rate=lambda: box[0])
        params = jnp.zeros(2, jnp.float32)
        state = tx.init(params)
        for rate in (0.5, 0.25):
            box[0] = rate
            theirs.apply_gradients([(keras.ops.convert_to_tensor(grads), var)])
            updates, state = tx.update(jnp.asarray(grads), state, params)
            params = optax.apply_updates(params, updates)
    np.testing.assert_array_equal(np.asarray(var.value), [-0.75, 1.5])
    np.testing.assert_array_equal(np.asarray(params), np.asarray(var.value))
