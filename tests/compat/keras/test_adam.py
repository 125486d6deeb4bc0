"""jopt.compat.keras.Adam, AdamW, Adamax and Nadam (jopt/compat/keras/_adam.py) against
keras.optimizers: lockstep trajectories, Keras' checks and expected values, composition."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jopt.compat.keras as jk
from tests.support import parity

CASES = parity.keras_cases("adam")
QUICK = parity.select(parity.KERAS_QUICK, CASES)
SLOW = parity.select(parity.KERAS_SLOW, CASES)


@pytest.mark.parametrize("case, dtype", QUICK, ids=parity.ids(QUICK))
def test_first_case_of_each_preset_matches_keras(case, dtype, keras_quick):
    parity.check(keras_quick, case, dtype)


@pytest.mark.slow
@pytest.mark.parametrize("case, dtype", SLOW, ids=parity.ids(SLOW))
def test_every_other_case_matches_keras(case, dtype, keras_slow):
    parity.check(keras_slow, case, dtype)


def test_bad_arguments_raise_like_keras():
    parity.raises_like_keras("AdamW", dict(weight_decay=None))


# Keras checks none of these; jopt refuses values that cannot give a sensible step.
JOPT_ONLY = [
    ("Adam", dict(beta_1=1.0), r"beta_1=1.0 is invalid; beta_1 must be in \[0, 1\)"),
    ("Adam", dict(beta_2=-0.1), r"beta_2=-0.1"),
    ("AdamW", dict(weight_decay=-0.1), r"weight_decay=-0.1"),
    ("Adamax", dict(beta_1=1.0), r"beta_1=1.0 is invalid; beta_1 must be in \[0, 1\)"),
    ("Adamax", dict(beta_2=-0.1), r"beta_2=-0.1"),
    ("Adamax", dict(epsilon=-1.0), r"epsilon=-1.0"),
    ("Adamax", dict(weight_decay=-0.1), r"weight_decay=-0.1"),
    ("Nadam", dict(beta_1=-0.1), r"beta_1=-0.1"),
    ("Nadam", dict(beta_2=1.0), r"beta_2=1.0 is invalid; beta_2 must be in \[0, 1\)"),
    ("Nadam", dict(epsilon=-1.0), r"epsilon=-1.0"),
]


@pytest.mark.parametrize(
    "name, kwargs, match", JOPT_ONLY, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(JOPT_ONLY)]
)
def test_bad_arguments_jopt_only(name, kwargs, match):
    with pytest.raises(ValueError, match=rf"^jopt.compat.keras.{name}: .*{match}"):
        getattr(jk, name)(**kwargs)


# keras/src/optimizers/*_test.py (Keras 3.15): test_correctness_with_golden
GOLDEN = {
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
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_correctness_with_golden(name):
    make, golden = GOLDEN[name]
    np.testing.assert_allclose(parity.golden(make()), golden, rtol=5e-4, atol=5e-4)


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: jk.Adam(learning_rate=0.5), [0.5, 1.5, 2.5, 3.5]),
        (lambda: jk.AdamW(learning_rate=0.5), [0.4980, 1.4960, 2.494, 3.492]),
    ],
)
def test_single_step(make, expected):
    np.testing.assert_allclose(parity.single_step(make()), expected, rtol=1e-4, atol=1e-4)


def test_composes_with_optax_chain():
    # optax's clip, then Keras' AdamW (default λ = 0.004, ε = 1e-7), three steps, against
    # both written out in NumPy: the clip sees the raw gradient, AdamW the clipped one.
    tx = optax.chain(optax.clip_by_global_norm(1.0), jk.AdamW(1e-3))
    grads = [np.array([10.0, -5.0, 2.0]), np.array([0.1, 0.2, -0.3]), np.array([-4.0, 3.0, 0.0])]
    params, state = {"w": jnp.ones(3, jnp.float64)}, None
    theta, m, v = np.ones(3), np.zeros(3), np.zeros(3)
    lr, wd, b1, b2, eps = 1e-3, 0.004, 0.9, 0.999, 1e-7
    for t, g in enumerate(grads, start=1):
        state = tx.init(params) if state is None else state
        updates, state = tx.update({"w": jnp.asarray(g)}, state, params)
        params = optax.apply_updates(params, updates)
        g = g * min(1.0, 1.0 / np.linalg.norm(g))  # clip_by_global_norm(1.0)
        theta = theta - theta * wd * lr  # Keras decays first
        m, v = m + (g - m) * (1 - b1), v + (g * g - v) * (1 - b2)
        alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        theta = theta - alpha * m / (np.sqrt(v) + eps)
        np.testing.assert_allclose(np.asarray(params["w"]), theta, rtol=1e-12, err_msg=f"step {t}")


# Keras' golden values (Adadelta, Adamax, Nadam) and single steps

# ------------------------------------------------------------ Keras' golden values

GRADS = np.arange(0.1, 1.1, 0.1, dtype=np.float32)[:10]


def keras_golden(tx, golden):
    """Keras' test_correctness_with_golden: one step at g = 0.01, then steps at GRADS."""
    x = jnp.ones(10, jnp.float32)
    state = tx.init(x)
    first = jnp.full(10, 0.01, jnp.float32)
    for i, g in enumerate([first] + [jnp.asarray(GRADS)] * (len(golden) - 1)):
        u, state = tx.update(g, state, x)
        x = optax.apply_updates(x, u)
        np.testing.assert_allclose(np.asarray(x), golden[i], rtol=5e-4, atol=5e-4)


def test_keras_golden_adadelta():
    golden = np.tile([[0.9978], [0.9947], [0.9915], [0.9882], [0.9849]], (1, 10))
    keras_golden(jk.Adadelta(learning_rate=1.0, rho=0.8, epsilon=1e-6), golden)


def test_keras_golden_adamax():
    # fmt: off
    golden = np.array(
        [[0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8],
         [0.6827, 0.6873, 0.6888, 0.6896, 0.6901, 0.6904, 0.6906, 0.6908, 0.6909, 0.691],
         [0.5333, 0.5407, 0.5431, 0.5444, 0.5451, 0.5456, 0.546, 0.5462, 0.5464, 0.5466],
         [0.368, 0.3773, 0.3804, 0.382, 0.3829, 0.3835, 0.384, 0.3843, 0.3846, 0.3848],
         [0.1933, 0.204, 0.2076, 0.2094, 0.2105, 0.2112, 0.2117, 0.2121, 0.2124, 0.2126]]
    )
    # fmt: on
    keras_golden(jk.Adamax(learning_rate=0.2, beta_1=0.85, beta_2=0.95, epsilon=1e-6), golden)


def test_keras_golden_nadam():
    # fmt: off
    golden = np.array(
        [[0.4281, 0.4281, 0.4281, 0.4281, 0.4281, 0.4281, 0.4281, 0.4281, 0.4281, 0.4281],
         [-0.1738, -0.1731, -0.1726, -0.1723, -0.1721, -0.172, -0.1719, -0.1718, -0.1718, -0.1717],
         [-0.7115, -0.7103, -0.7096, -0.7092, -0.709, -0.7088, -0.7086, -0.7085, -0.7085, -0.7084],
         [-1.2335, -1.2322, -1.2313, -1.2309, -1.2306, -1.2304, -1.2302, -1.2301, -1.23, -1.2299],
         [-1.7492, -1.7478, -1.7469, -1.7464, -1.7461, -1.7459, -1.7457, -1.7456, -1.7455, -1.7454]]
    )
    # fmt: on
    tx = jk.Nadam(learning_rate=0.5, beta_1=0.5, beta_2=0.67, epsilon=1e-5)
    keras_golden(tx, golden)


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: jk.Adadelta(learning_rate=0.5), [0.9993, 1.9993, 2.9993, 3.9993]),
        (lambda: jk.Adamax(learning_rate=0.5), [0.5, 1.5, 2.5, 3.5]),
        (lambda: jk.Nadam(learning_rate=0.5), [0.4686, 1.4686, 2.4686, 3.4686]),
    ],
    ids=["adadelta", "adamax", "nadam"],
)
def test_keras_single_step(make, expected):
    tx, x = make(), jnp.asarray([1.0, 2.0, 3.0, 4.0], jnp.float32)
    u, _ = tx.update(jnp.asarray([1.0, 6.0, 7.0, 2.0], jnp.float32), tx.init(x), x)
    np.testing.assert_allclose(np.asarray(optax.apply_updates(x, u)), expected, atol=1e-4)
