"""jopt.compat.keras.ScheduleFreeAdamW (jopt/compat/keras/_schedule_free.py) against
keras.optimizers.ScheduleFreeAdamW: lockstep trajectories, jopt's checks, Keras' expected
values, and the evaluation parameters read from Keras' variables."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jopt.compat.keras as jk
from tests.support import parity
from tests.support.parity import grads_of, jopt_run, keras_run

CASES = parity.keras_cases("schedule_free")
QUICK = parity.select(parity.KERAS_QUICK, CASES)
SLOW = parity.select(parity.KERAS_SLOW, CASES)


@pytest.mark.parametrize("case, dtype", QUICK, ids=parity.ids(QUICK))
def test_first_case_of_each_preset_matches_keras(case, dtype, keras_quick):
    parity.check(keras_quick, case, dtype)


@pytest.mark.slow
@pytest.mark.parametrize("case, dtype", SLOW, ids=parity.ids(SLOW))
def test_every_other_case_matches_keras(case, dtype, keras_slow):
    parity.check(keras_slow, case, dtype)


JOPT_ONLY = [
    (lambda: jk.ScheduleFreeAdamW(beta_1=0.0), ValueError, "beta_1=0.0 is invalid"),
    (lambda: jk.ScheduleFreeAdamW(beta_2=1.0), ValueError, "beta_2=1.0 is invalid"),
    (lambda: jk.ScheduleFreeAdamW(warmup_steps=-1), ValueError, "warmup_steps=-1"),
    (lambda: jk.ScheduleFreeAdamW(warmup_steps=2.5), TypeError, "warmup_steps=2.5"),
]


@pytest.mark.parametrize("make, error, match", JOPT_ONLY)
def test_bad_arguments_jopt_only(make, error, match):
    with pytest.raises(error, match=rf"^jopt\.compat\.keras\.ScheduleFreeAdamW: .*{match}"):
        make()


F32 = jnp.float32


def apply(tx, state, params, grads):
    updates, state = tx.update(grads, state, params)
    return optax.apply_updates(params, updates), state


def test_weight_decay_exclusion_and_warmup():
    # keras/src/optimizers/schedule_free_adamw_test.py (Keras 3.15)
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


@pytest.mark.slow
def test_schedule_free_eval_params_from_keras_variables():
    kwargs = dict(learning_rate=0.0625, beta_1=0.8, warmup_steps=3)
    opt, variables = keras_run("ScheduleFreeAdamW", kwargs, 12, grads_of)
    state, _ = jopt_run(jk.ScheduleFreeAdamW(**kwargs), 12, grads_of)
    y = {v.name: np.asarray(v.value) for v in variables}
    x = jk.schedule_free_eval_params(state, {k: jnp.asarray(v) for k, v in y.items()})
    for v, z in zip(variables, opt._momentums, strict=True):
        np.testing.assert_allclose(x[v.name], (y[v.name] - 0.2 * np.asarray(z)) / 0.8, rtol=1e-10)
