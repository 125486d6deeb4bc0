"""Keras' own expected values (keras/src/optimizers/*_test.py, Keras 3.15), ported.

An independent second check of jopt.compat.keras: the numbers below are copied from
Keras' test files (golden trajectories, single steps, the base options' tests), not
computed by either library here. Keras runs these in float32, as here.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jopt.compat.keras as jk

F32 = jnp.float32


def apply(tx, state, params, grads):
    updates, state = tx.update(grads, state, params)
    return optax.apply_updates(params, updates), state


# ------------------------------------------------------------- test_correctness_with_golden


def row(text: str) -> list[float]:
    return [float(v) for v in text.split()]


GOLDEN = {
    "SGD": (
        lambda: jk.SGD(nesterov=True),
        [
            [0.9999] * 10,
            [0.9989, 0.9979, 0.9969, 0.9959, 0.9949, 0.9939, 0.9929, 0.9919, 0.9909, 0.9899],
            [0.9979, 0.9959, 0.9939, 0.9919, 0.9899, 0.9879, 0.9859, 0.9839, 0.9819, 0.9799],
            [0.9969, 0.9939, 0.9909, 0.9879, 0.9849, 0.9819, 0.9789, 0.9759, 0.9729, 0.9699],
            [0.9959, 0.9919, 0.9879, 0.9839, 0.9799, 0.9759, 0.9719, 0.9679, 0.9639, 0.9599],
        ],
    ),
    "Adagrad": (
        lambda: jk.Adagrad(learning_rate=0.2, initial_accumulator_value=0.3, epsilon=1e-6),
        [
            [0.9963] * 10,
            [0.9604, 0.9278, 0.9003, 0.8784, 0.8615, 0.8487, 0.8388, 0.8313, 0.8255, 0.8209],
            [0.9251, 0.8629, 0.8137, 0.7768, 0.7497, 0.7298, 0.7151, 0.704, 0.6956, 0.6891],
            [0.8903, 0.8012, 0.7342, 0.6862, 0.6521, 0.6277, 0.6099, 0.5967, 0.5867, 0.579],
            [0.856, 0.7422, 0.6604, 0.6037, 0.5644, 0.5367, 0.5168, 0.5021, 0.491, 0.4825],
        ],
    ),
    "RMSprop": (
        lambda: jk.RMSprop(centered=True),
        [[v] * 10 for v in (0.9967, 0.9933, 0.9908, 0.9885, 0.9864)],
    ),
    "Adam": (
        lambda: jk.Adam(amsgrad=True),
        [[v] * 10 for v in (0.999, 0.9982, 0.9974, 0.9965, 0.9955)],
    ),
    "AdamW": (
        lambda: jk.AdamW(learning_rate=1.0, weight_decay=0.5, epsilon=2),
        [
            [0.4998] * 10,
            [0.2486, 0.2475, 0.2463, 0.2451, 0.244, 0.2428, 0.2417, 0.2405, 0.2394, 0.2382],
            [0.1223, 0.1198, 0.1174, 0.1149, 0.1124, 0.11, 0.1075, 0.1051, 0.1027, 0.1003],
            [0.0586, 0.0549, 0.0512, 0.0475, 0.0439, 0.0402, 0.0366, 0.033, 0.0294, 0.0258],
            [0.0263, 0.0215, 0.0167, 0.012, 0.0073, 0.0026, -0.0021, -0.0067, -0.0113, -0.0159],
        ],
    ),
    "Ftrl": (
        lambda: jk.Ftrl(
            learning_rate=0.05,
            learning_rate_power=-0.2,
            initial_accumulator_value=0.4,
            l1_regularization_strength=0.05,
            l2_regularization_strength=0.15,
            l2_shrinkage_regularization_strength=0.01,
            beta=0.3,
        ),
        [
            [0.0] * 10,
            row("-0.0034 -0.0077 -0.0118 -0.0157 -0.0194 -0.023 -0.0263 -0.0294 -0.0325 -0.0354"),
            row("-0.0078 -0.0162 -0.0242 -0.0317 -0.0387 -0.0454 -0.0516 -0.0575 -0.0631 -0.0685"),
            row("-0.0121 -0.0246 -0.0363 -0.0472 -0.0573 -0.0668 -0.0757 -0.0842 -0.0922 -0.0999"),
            row("-0.0164 -0.0328 -0.0481 -0.0623 -0.0753 -0.0875 -0.099 -0.1098 -0.1201 -0.1299"),
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_correctness_with_golden(name):
    make, golden = GOLDEN[name]
    tx = make()
    x = jnp.ones(10, F32)
    grads = jnp.arange(0.1, 1.1, 0.1, dtype=F32)[:10]
    state = tx.init(x)
    x, state = apply(tx, state, x, jnp.full(10, 0.01, F32))
    for expected in golden:
        np.testing.assert_allclose(x, expected, rtol=5e-4, atol=5e-4)
        x, state = apply(tx, state, x, grads)


SINGLE_STEP = [
    (lambda: jk.SGD(learning_rate=0.5), 1.0, [0.5, -1.0, -0.5, 3.0]),
    (lambda: jk.Adagrad(learning_rate=0.5), 1.0, [0.5233, 1.5007, 2.5005, 3.5061]),
    (lambda: jk.RMSprop(learning_rate=0.5), 1.0, [-0.5811, 0.4189, 1.4189, 2.4189]),
    (lambda: jk.Adam(learning_rate=0.5), 1.0, [0.5, 1.5, 2.5, 3.5]),
    (lambda: jk.AdamW(learning_rate=0.5), 1.0, [0.4980, 1.4960, 2.494, 3.492]),
    (lambda: jk.Ftrl(learning_rate=0.5), 1.0, [0.2218, 1.3954, 2.3651, 2.8814]),
    # LossScaleOptimizer's test_finite_step: the gradients come scaled by initial_scale.
    (lambda: jk.LossScaleOptimizer(jk.SGD(learning_rate=0.5)), 2.0**15, [0.5, -1.0, -0.5, 3.0]),
    # test_finite_step_with_inner_loss_scale: the inner optimizer's factor is ignored.
    (
        lambda: jk.LossScaleOptimizer(jk.SGD(learning_rate=0.5, loss_scale_factor=100.0)),
        2.0**15,
        [0.5, -1.0, -0.5, 3.0],
    ),
]


@pytest.mark.parametrize("make, scale, expected", SINGLE_STEP)
def test_single_step(make, scale, expected):
    tx = make()
    x = jnp.asarray([1.0, 2.0, 3.0, 4.0], F32)
    grads = jnp.asarray([1.0, 6.0, 7.0, 2.0], F32) * scale
    x, _ = apply(tx, tx.init(x), x, grads)
    np.testing.assert_allclose(x, expected, rtol=1e-4, atol=1e-4)


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


def test_schedule_free_weight_decay_exclusion_and_warmup():
    zero = {"a": jnp.zeros([], F32), "exclude": jnp.zeros([], F32)}
    params = {"a": jnp.asarray(2.0, F32), "exclude": jnp.asarray(2.0, F32)}
    tx = jk.ScheduleFreeAdamW(
        learning_rate=1.0, weight_decay=0.004, exclude_from_weight_decay=["exclude"]
    )
    params, _ = apply(tx, tx.init(params), params, zero)
    assert float(params["exclude"]) == pytest.approx(2.0, abs=1e-6)
    # test_warmup: the first step with warmup_steps=10 is smaller.
    x0, g = jnp.asarray([1.0, 2.0, 3.0], F32), jnp.ones(3, F32)
    moved = []
    for warmup in (0, 10):
        tx = jk.ScheduleFreeAdamW(learning_rate=0.5, warmup_steps=warmup)
        x, _ = apply(tx, tx.init(x0), x0, g)
        moved.append(np.abs(np.asarray(x - x0)))
    assert np.all(moved[1] < moved[0])


# ------------------------------------------------------------------ optimizer_test.py


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


# ------------------------------------------------------------ loss_scale_optimizer_test.py


def test_loss_scale_infinite_step_down_and_up_scaling():
    x = jnp.asarray([1.0, 2.0, 3.0, 4.0], F32)
    tx = jk.LossScaleOptimizer(jk.SGD(learning_rate=0.5), initial_scale=400.0)
    state = tx.init(x)
    for _ in range(4):
        x, state = apply(tx, state, x, jnp.full(4, jnp.inf, F32))
    np.testing.assert_allclose(x, [1.0, 2.0, 3.0, 4.0])  # test_infinite_step
    assert float(jk.scale_loss(state, 1.0)) == 25.0  # test_downscaling
    tx = jk.LossScaleOptimizer(jk.SGD(learning_rate=0.5), initial_scale=2.0, dynamic_growth_steps=2)
    state, g = tx.init(x), jnp.asarray([1.0, 6.0, 7.0, 2.0], F32)
    for _ in range(8):
        x, state = apply(tx, state, x, g)
    assert float(jk.scale_loss(state, 1.0)) == 32.0  # test_upscaling


# -------------------------------------------------------------- multi_optimizer_test.py


def test_optimizer_map_matching():
    adam, sgd, default = jk.Adam(1e-3), jk.SGD(1e-2), jk.RMSprop()
    groups = jk.OptimizerMap(default_optimizer=default)
    groups["^dense/.*"] = adam
    groups["^conv/.*"] = sgd
    assert groups["dense/kernel"] is adam
    assert groups["conv/kernel"] is sgd
    assert groups["bias"] is default
    conflict = jk.OptimizerMap(default_optimizer=default)
    conflict[".*kernel.*"] = adam
    conflict[".*dense.*"] = sgd
    with pytest.raises(ValueError, match="Multiple optimizers assigned to variable dense/kernel"):
        conflict["dense/kernel"]


def test_multi_optimizer_apply_and_gradient_unscaling():
    params = {
        "dense_1": {"kernel": jnp.asarray([[2.0, 2.0]], F32)},
        "dense_2": {"kernel": jnp.asarray([[3.0, 3.0]], F32)},
        "other": {"kernel": jnp.asarray([[4.0, 4.0]], F32)},
    }
    groups = jk.OptimizerMap(default_optimizer=jk.SGD(learning_rate=0.0))
    groups["^dense_1/.*"] = jk.SGD(learning_rate=0.1)
    groups["^dense_2/.*"] = jk.SGD(learning_rate=1.0)
    tx = jk.MultiOptimizer(groups)
    grads = {k: {"kernel": jnp.ones((1, 2), F32)} for k in params}
    new, _ = apply(tx, tx.init(params), params, grads)
    np.testing.assert_allclose(new["dense_1"]["kernel"], [[1.9, 1.9]], rtol=1e-6)
    np.testing.assert_allclose(new["dense_2"]["kernel"], [[2.0, 2.0]], rtol=1e-6)
    np.testing.assert_allclose(new["other"]["kernel"], [[4.0, 4.0]], rtol=1e-6)
    # test_gradient_unscaling: the MultiOptimizer's factor 5 replaces the SGD's own 2.
    sgd = jk.SGD(learning_rate=0.1, loss_scale_factor=2.0)
    tx = jk.MultiOptimizer(jk.OptimizerMap(sgd, {"^dense_1/.*": sgd}), loss_scale_factor=5.0)
    w = {"dense_1": {"kernel": jnp.asarray([[2.0, 2.0]], F32)}}
    w, _ = apply(tx, tx.init(w), w, {"dense_1": {"kernel": jnp.full((1, 2), 10.0, F32)}})
    np.testing.assert_allclose(w["dense_1"]["kernel"], [[1.8, 1.8]], rtol=1e-6)
