"""jopt.compat.keras.MultiOptimizer and OptimizerMap (jopt/compat/keras/_multi.py) against
keras.optimizers: lockstep trajectories (the members bare and wrapped by optax), Keras'
nesting rules (also for wrapped members) and expected values."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jopt
import jopt.compat.keras as jk
from tests.support import parity
from tests.support.parity import grads_of, jopt_run

CASES = parity.keras_cases("multi")
QUICK = parity.select(parity.KERAS_QUICK, CASES)
SLOW = parity.select(parity.KERAS_SLOW, CASES)


@pytest.mark.parametrize("case, dtype", QUICK, ids=parity.ids(QUICK))
def test_first_case_of_each_preset_matches_keras(case, dtype, keras_quick):
    parity.check(keras_quick, case, dtype)


@pytest.mark.slow
@pytest.mark.parametrize("case, dtype", SLOW, ids=parity.ids(SLOW))
def test_every_other_case_matches_keras(case, dtype, keras_slow):
    parity.check(keras_slow, case, dtype)


# The members wrapped by optax.inject_hyperparams or optax.chain (issue 18): Keras'
# MultiOptimizer replaces its members' own loss_scale_factor (3 and 5) by its own (2), and
# so must jopt, whatever holds the member presets (tests/support/parity.py).
WRAPPED = parity.select(parity.KERAS_SLOW, parity.KERAS_WRAPPED_CASES)
WRAPPED = [(c, d) for c, d in WRAPPED if c.preset == "MultiOptimizer"]
LR = parity.LR


@pytest.mark.slow
@pytest.mark.parametrize("case, dtype", WRAPPED, ids=parity.ids(WRAPPED))
def test_wrapped_members_keep_keras_semantics(case, dtype, keras_slow):
    parity.check(keras_slow, case, dtype)


A = jk.Adam()  # a member


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


# Each wrapper a member may come in (issue 18): the nesting rules read what it holds.
WRAPS = {
    "chain": lambda tx: optax.chain(optax.identity(), tx),
    "inject_hyperparams": lambda tx: optax.inject_hyperparams(lambda: tx)(),
    "chain-of-inject_hyperparams": lambda tx: optax.chain(optax.inject_hyperparams(lambda: tx)()),
}


@pytest.mark.parametrize("wrap", WRAPS.values(), ids=list(WRAPS))
def test_the_nesting_rules_hold_for_wrapped_members(wrap):
    lso = wrap(jk.LossScaleOptimizer(A))
    multi = wrap(jk.MultiOptimizer(jk.OptimizerMap(A)))
    with pytest.raises(ValueError, match="optimizer cannot be LossScaleOptimizer"):
        jk.OptimizerMap(A, {"w": lso})
    with pytest.raises(ValueError, match="optimizer cannot be MultiOptimizer"):
        jk.OptimizerMap(A, {"w": multi})
    with pytest.raises(ValueError, match="LossScaleOptimizer cannot be used inside an Multi"):
        jk.OptimizerMap(lso)
    with pytest.raises(ValueError, match="MultiOptimizer cannot be used inside an Multi"):
        jk.MultiOptimizer(jk.OptimizerMap(multi))
    with pytest.raises(ValueError, match="LossScaleOptimizer cannot be used inside an Multi"):
        jk.MultiOptimizer(lambda path: lso).init({"w": jnp.ones(2)})
    with pytest.raises(ValueError, match="MultiOptimizer cannot be used inside an Multi"):
        jk.MultiOptimizer(lambda path: multi).init({"w": jnp.ones(2)})
    jk.LossScaleOptimizer(wrap(jk.MultiOptimizer(jk.OptimizerMap(A))))  # allowed, as in Keras


JOPT_ONLY = [
    (lambda: jk.MultiOptimizer("adam"), TypeError, "optimizer_map='adam' is invalid"),
    (lambda: jk.MultiOptimizer(jk.OptimizerMap(A), 0.0), ValueError, "loss_scale_factor=0.0"),
]


@pytest.mark.parametrize("make, error, match", JOPT_ONLY)
def test_bad_arguments_jopt_only(make, error, match):
    with pytest.raises(error, match=rf"^jopt\.compat\.keras\.MultiOptimizer: .*{match}"):
        make()


def test_multi_optimizer_function_form_equals_the_map():
    sgd, adam = jk.SGD(LR, momentum=0.5), jk.Adam(LR, use_ema=True)
    by_map = jk.MultiOptimizer(jk.OptimizerMap(sgd, {"b|s": adam}))
    by_function = jk.MultiOptimizer(lambda path: adam if path in ("b", "s") else sgd)
    state, a = jopt_run(by_map, 7, grads_of)
    _, b = jopt_run(by_function, 7, grads_of)
    jopt.testing.assert_trees_close(a, b, "function form")
    averaged = jk.ema_params(state, a)
    assert np.all(np.asarray(averaged["w"]) == np.asarray(a["w"]))  # SGD: no EMA
    assert not np.allclose(averaged["b"], a["b"])


# ------------------------------------------- keras/src/optimizers/multi_optimizer_test.py

F32 = jnp.float32


def apply(tx, state, params, grads):
    updates, state = tx.update(grads, state, params)
    return optax.apply_updates(params, updates), state


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
