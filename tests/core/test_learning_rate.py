"""The learning-rate step every optimizer ends with, and reading the rate back
(jopt/_core/learning_rate.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jopt
from jopt._core.learning_rate import (
    ScaleByLearningRateState,
    ScaleByScheduleState,
    init_learning_rate,
    next_learning_rate,
)

PARAMS = {"w": jnp.arange(6.0, dtype=jnp.float32).reshape(2, 3), "b": jnp.ones(3, jnp.float32)}


def _run(tx, params, steps):
    state = tx.init(params)
    for _ in range(steps):
        u, state = tx.update(jax.tree.map(lambda x: 3.0 * x - 1.0, params), state, params)
        params = optax.apply_updates(params, u)
    return params, state


# ------------------------------------------------------------------------------ the step


def test_the_step_is_minus_the_rate_times_the_update_or_plus_with_flip_sign_false():
    g = jnp.asarray([1.0, -2.0], jnp.float32)
    for flip_sign, sign in ((True, -1.0), (False, 1.0)):
        tx = jopt.scale_by_learning_rate(0.25, flip_sign=flip_sign)
        updates, _ = tx.update(g, tx.init(jnp.zeros(2, jnp.float32)))
        np.testing.assert_array_equal(np.asarray(updates), sign * 0.25 * np.asarray(g))
        assert updates.dtype == jnp.float32


def test_state_is_fixed_namedtuples_with_int32_count():
    state = jopt.adam(1e-3).init({"w": jnp.zeros(3)})
    assert isinstance(state[0], jopt.ScaleByAdamState)
    assert state[0].count.dtype == jnp.int32
    assert isinstance(state[1], jopt.ScaleByLearningRateState)
    state = jopt.adam(jopt.schedules.step_lr(1e-3, step_size=10)).init({"w": jnp.zeros(3)})
    assert isinstance(state[1], jopt.ScaleByScheduleState)
    assert state[1].count.dtype == jnp.int32


def test_a_constant_rate_keeps_a_count_only_when_asked():
    params = jnp.zeros(2)
    plain = init_learning_rate(0.1, params)
    counted = init_learning_rate(0.1, params, counted=True)
    assert isinstance(plain, ScaleByLearningRateState)
    assert isinstance(counted, ScaleByScheduleState) and int(counted.count) == 0
    lr, after = next_learning_rate(0.1, counted)
    assert lr == 0.1 and int(after.count) == 1 and float(after.learning_rate) == 0.1


def test_a_schedule_records_the_rate_of_the_last_update():
    tx = jopt.scale_by_learning_rate(lambda count: 0.5 * (count + 1).astype(float))
    state = tx.init(jnp.zeros(2))
    assert float(state.learning_rate) == 0.5  # before any update: the first one's rate
    for k in range(3):
        updates, state = tx.update(jnp.ones(2), state)
        assert float(updates[0]) == -0.5 * (k + 1) == -float(state.learning_rate)
    assert int(state.count) == 3


def _count_increments(tx, params):
    # The int32 scalar kernels an update runs: each costs XLA a compile of its own.
    state = tx.init(params)
    with jax.numpy_dtype_promotion("standard"):  # optax.adam mixes dtypes
        jaxpr = jax.make_jaxpr(lambda g, s: tx.update(g, s, params))(params, state)
    return [e for e in jaxpr.eqns if e.outvars[0].aval.dtype == jnp.int32]


@pytest.mark.parametrize(
    "name, make_jopt, make_optax",
    [
        ("sgd", lambda: jopt.sgd(0.1), lambda: optax.sgd(0.1)),
        ("momentum", lambda: jopt.sgd(0.1, momentum=0.9), lambda: optax.sgd(0.1, momentum=0.9)),
        (
            "nesterov",
            lambda: jopt.sgd(0.1, momentum=0.9, nesterov=True),
            lambda: optax.sgd(0.1, momentum=0.9, nesterov=True),
        ),
        ("rmsprop", lambda: jopt.rmsprop(0.1), lambda: optax.rmsprop(0.1)),
        ("adagrad", lambda: jopt.adagrad(0.1), lambda: optax.adagrad(0.1)),
        ("adam", lambda: jopt.adam(0.1), lambda: optax.adam(0.1)),
        ("adamw", lambda: jopt.adamw(0.1), lambda: optax.adamw(0.1)),
    ],
)
def test_constant_rate_state_has_optaxs_arrays(name, make_jopt, make_optax):
    # A constant rate keeps no count (optax keeps none either): the count's increment
    # would be the step's only scalar kernel, ~8 ms more compile on a small tree.
    params = {"w": jnp.zeros((4, 3), jnp.float32), "b": jnp.zeros(3, jnp.float32)}
    jopt_state, optax_state = make_jopt().init(params), make_optax().init(params)
    shapes = lambda s: sorted(  # noqa: E731
        (jnp.shape(x), str(jnp.asarray(x).dtype)) for x in jax.tree.leaves(s)
    )
    # jopt also records the rate (a float scalar, copied, no kernel): get_learning_rate.
    assert shapes(jopt_state) == sorted(shapes(optax_state) + [((), "float64")])
    assert len(_count_increments(make_jopt(), params)) <= len(
        _count_increments(make_optax(), params)
    )
    assert float(jopt.get_learning_rate(jopt_state)) == pytest.approx(0.1)


# --------------------------------------------------------------------- get_learning_rate


def test_get_learning_rate_in_multi_transform_reads_the_first_label():
    # Several rates in one state: the first in the state's pytree order is returned,
    # i.e. multi_transform's labels in sorted order (not the order of the params).
    for labels, want in (
        ({"fast": jopt.sgd(0.5), "slow": jopt.rmsprop(0.01)}, 0.5),
        ({"a_slow": jopt.rmsprop(0.01), "b_fast": jopt.sgd(0.5)}, 0.01),
    ):
        fast, slow = sorted(labels, key=lambda k: "fast" not in k)
        for param_labels in ({"w": fast, "b": slow}, {"w": slow, "b": fast}):
            _, state = _run(optax.multi_transform(labels, param_labels), PARAMS, steps=2)
            assert float(jopt.get_learning_rate(state)) == want, (labels, param_labels)


def test_get_learning_rate_of_a_chain_is_its_first_rate():
    for first, second in ((0.5, 0.25), (0.25, 0.5)):
        tx = optax.chain(jopt.sgd(first), jopt.scale_by_learning_rate(second))
        _, state = _run(tx, PARAMS, steps=1)
        assert float(jopt.get_learning_rate(state)) == first


def test_get_learning_rate_through_inject_and_chain():
    tx = optax.chain(optax.clip(1.0), jopt.adam(lambda c: 0.1 * (c.astype(jnp.float32) + 1.0)))
    _, state = _run(tx, PARAMS, steps=4)
    np.testing.assert_allclose(float(jopt.get_learning_rate(state)), 0.4, rtol=1e-6)
    state0 = tx.init(PARAMS)  # before any update: the rate the first update will use
    np.testing.assert_allclose(float(jopt.get_learning_rate(state0)), 0.1, rtol=1e-6)
    injected = optax.inject_hyperparams(jopt.sgd)(learning_rate=0.3)
    _, state = _run(injected, PARAMS, steps=1)
    assert float(jopt.get_learning_rate(state)) == pytest.approx(0.3)


def test_get_learning_rate_of_a_state_without_a_jopt_step_says_so():
    with pytest.raises(ValueError, match=r"^jopt\.get_learning_rate: no jopt learning-rate step"):
        jopt.get_learning_rate(optax.sgd(0.1).init(PARAMS))
