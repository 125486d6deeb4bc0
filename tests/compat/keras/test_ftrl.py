"""jopt.compat.keras.Ftrl (jopt/compat/keras/_ftrl.py) against keras.optimizers.Ftrl: lockstep
trajectories, Keras' checks (its rule for the regularization strengths) and expected
values, and the coordinate where Keras writes NaN."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import keras
import numpy as np
import optax
import pytest

import jopt
import jopt.compat.keras as jk
from jopt._core.checks import declaration
from tests.support import parity

CASES = parity.keras_cases("ftrl")
QUICK = parity.select(parity.KERAS_QUICK, CASES)
SLOW = parity.select(parity.KERAS_SLOW, CASES)


@pytest.mark.parametrize("case, dtype", QUICK, ids=parity.ids(QUICK))
def test_first_case_of_each_preset_matches_keras(case, dtype, keras_quick):
    parity.check(keras_quick, case, dtype)


@pytest.mark.slow
@pytest.mark.parametrize("case, dtype", SLOW, ids=parity.ids(SLOW))
def test_every_other_case_matches_keras(case, dtype, keras_slow):
    parity.check(keras_slow, case, dtype)


KERAS_RAISES = [
    dict(initial_accumulator_value=-1.0),
    dict(learning_rate_power=0.5),
    dict(l1_regularization_strength=-0.1),
    dict(l2_regularization_strength=-0.1),
    dict(l2_shrinkage_regularization_strength=-0.1),
]


@pytest.mark.parametrize("kwargs", KERAS_RAISES, ids=["-".join(k) for k in KERAS_RAISES])
def test_bad_arguments_raise_like_keras(kwargs):
    parity.raises_like_keras("Ftrl", kwargs)


JOPT_ONLY = [
    (lambda: jk.Ftrl(beta=-1.0), "Ftrl: beta=-1.0 is invalid"),
    (lambda: jk.Ftrl(beta=float("inf")), "Ftrl: beta=inf is invalid"),
    (lambda: jk.Ftrl(l1_regularization_strength=float("nan")), "strength=nan"),
    # FTRL divides by the rate: Keras accepts 0 and writes NaN, jopt refuses it
    (lambda: jk.Ftrl(learning_rate=0.0), r"Ftrl: learning_rate=0.0 .*\(0, inf\)"),
    # the primitive under it, jopt.scale_by_ftrl
    (lambda: jopt.scale_by_ftrl(learning_rate_power=0.5), "learning_rate_power"),
    (lambda: jopt.scale_by_ftrl(l2=-1.0), "scale_by_ftrl: l2=-1.0 is invalid"),
    (lambda: jopt.scale_by_ftrl(0.0), r"scale_by_ftrl: learning_rate=0.0"),
]


@pytest.mark.parametrize("make, match", JOPT_ONLY)
def test_bad_arguments_jopt_only(make, match):
    with pytest.raises(ValueError, match=rf"^jopt\..*{match}"):
        make()


# KerasSign (_ftrl.py): Keras' rule for the strengths (>= 0) and the power (<= 0).
SIGNS = {
    "l1_regularization_strength": [0.0, 0.5],
    "learning_rate_power": [0.0, -0.5],
}
BAD_VALUES = [
    (name, label, v)
    for name in SIGNS
    for label, v in declaration(jk.Ftrl).rules[name].bad().items()
]


@pytest.mark.parametrize("name", SIGNS)
def test_keras_sign_accepts_its_valid_values(name):
    rule = declaration(jk.Ftrl).rules[name]
    assert type(rule).__name__ == "KerasSign" and rule.bad()
    for value in SIGNS[name]:
        assert rule("x", value) == value


@pytest.mark.parametrize(
    "name, label, value", BAD_VALUES, ids=[f"{n}-{label}" for n, label, _ in BAD_VALUES]
)
def test_keras_sign_rejects_each_class_of_bad_value(name, label, value):
    with pytest.raises((TypeError, ValueError)) as error:
        declaration(jk.Ftrl).rules[name]("x", value)
    message = str(error.value)
    assert "x" in message, message


def test_correctness_with_golden():
    # keras/src/optimizers/ftrl_test.py (Keras 3.15)
    tx = jk.Ftrl(
        learning_rate=0.05,
        learning_rate_power=-0.2,
        initial_accumulator_value=0.4,
        l1_regularization_strength=0.05,
        l2_regularization_strength=0.15,
        l2_shrinkage_regularization_strength=0.01,
        beta=0.3,
    )
    golden = [
        [0.0] * 10,
        [-0.0034, -0.0077, -0.0118, -0.0157, -0.0194, -0.023, -0.0263, -0.0294, -0.0325, -0.0354],
        [-0.0078, -0.0162, -0.0242, -0.0317, -0.0387, -0.0454, -0.0516, -0.0575, -0.0631, -0.0685],
        [-0.0121, -0.0246, -0.0363, -0.0472, -0.0573, -0.0668, -0.0757, -0.0842, -0.0922, -0.0999],
        [-0.0164, -0.0328, -0.0481, -0.0623, -0.0753, -0.0875, -0.099, -0.1098, -0.1201, -0.1299],
    ]
    np.testing.assert_allclose(parity.golden(tx), golden, rtol=5e-4, atol=5e-4)


def test_single_step():
    got = parity.single_step(jk.Ftrl(learning_rate=0.5))
    np.testing.assert_allclose(got, [0.2218, 1.3954, 2.3651, 2.8814], rtol=1e-4, atol=1e-4)


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
