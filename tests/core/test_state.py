"""State allocation and the checks on what ``init``/``update`` receive (jopt/_core/state.py):
the feature rule (:func:`requested`), schedules evaluated to scalars (:func:`evaluate`), the
parameter and gradient-tree checks, and the saturating step count."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jopt
import jopt.compat.keras as jk
import jopt.compat.torch as jt
from jopt._core.state import increment, requested


def _layout(tx, params):
    state = tx.init(params)
    return jax.tree.structure(state), [(x.shape, x.dtype) for x in jax.tree.leaves(state)]


# ------------------------------------------------------------ requested: layout from requests


def test_requested_is_off_only_for_none_and_concrete_zeros():
    off = [None, 0, 0.0, np.float16(0), np.float32(0), np.float64(0), np.int64(0), np.zeros(())]
    on = [0.9, -1.0, np.float32(0.5), jnp.asarray(0.0), jnp.asarray(0.9), lambda count: 0.0]
    assert [requested(v) for v in off] == [False] * len(off)
    assert [requested(v) for v in on] == [True] * len(on)


@pytest.mark.parametrize(
    "make, zeros",
    [
        (lambda z: jopt.sgd(0.1, momentum=z), [0, 0.0, np.float32(0), np.float64(0)]),
        (lambda z: jopt.sgd(0.1, 0.9, dampening=z), [0, 0.0, np.float32(0), np.float64(0)]),
        (lambda z: jopt.sgd(0.1, weight_decay=z), [0.0, np.float16(0), np.float64(0)]),
        (lambda z: jopt.rmsprop(0.1, momentum=z), [0.0, np.float32(0), np.int64(0)]),
        (lambda z: jt.SGD(0.1, momentum=z), [0, np.float32(0), np.float64(0)]),
        (lambda z: jt.Adagrad(0.1, lr_decay=z), [0, np.float32(0)]),
        (lambda z: jt.Adam(0.1, weight_decay=z), [0.0, np.float64(0)]),
        (lambda z: jk.SGD(0.1, momentum=z), [0.0, np.float32(0)]),
        (lambda z: jk.SGD(0.1, decay=z), [0.0, np.float32(0)]),
        (lambda z: jk.RMSprop(0.1, momentum=z), [0.0, np.float32(0)]),
    ],
)
def test_a_zero_of_any_python_or_numpy_type_is_the_same_request(make, zeros):
    params = {"w": jnp.ones(3)}
    layouts = {str(_layout(make(z), params)) for z in zeros}
    assert len(layouts) == 1, layouts
    assert _layout(make(None), params) == _layout(make(zeros[0]), params)


def test_a_jax_array_always_keeps_its_state():
    # It may be traced or changed later (inject_hyperparams), so its value cannot decide.
    params = {"w": jnp.ones(3)}
    off = _layout(jopt.sgd(0.1), params)
    on = _layout(jopt.sgd(0.1, momentum=jnp.asarray(0.0)), params)
    assert len(on[1]) == len(off[1]) + 1


def test_inject_hyperparams_sgd_holds_the_plain_state_plus_its_hyperparams():
    params = {"w": jnp.ones((2, 3)), "b": jnp.ones(3)}
    plain = jopt.sgd(0.1).init(params)
    injected = optax.inject_hyperparams(jopt.sgd)(learning_rate=0.1).init(params)
    assert jax.tree.structure(injected.inner_state) == jax.tree.structure(plain)
    assert set(injected.hyperparams) == {"learning_rate"}


# ------------------------------------------------------------------ evaluate: scalar schedules


def _non_scalar(value):
    return lambda count: jnp.full(3, value)


@pytest.mark.parametrize(
    "make, what, at",
    [
        (lambda: jopt.sgd(_non_scalar(0.1)), r"jopt\.sgd: the learning-rate schedule", "init"),
        (lambda: jopt.adam(0.1, b1=_non_scalar(0.9)), r"jopt\.adam: the b1 schedule", "update"),
        (
            lambda: jopt.adamw(0.1, weight_decay=_non_scalar(0.01)),
            r"jopt\.adamw: the weight-decay schedule",
            "update",
        ),
    ],
    ids=["learning-rate", "b1", "weight-decay"],
)
def test_a_schedule_that_returns_an_array_is_refused_when_the_step_is_traced(make, what, at):
    # It used to be broadcast silently: a (3,) rate turned a scalar parameter into a (3,)
    # one. The shape is known when the step is traced, so the error comes before any step
    # runs: from init for the learning rate (evaluated there for the rate the first update
    # will use), from the traced update for the others.
    tx, params = make(), jnp.ones(())
    message = rf"^{what} returned an array of shape \(3,\)( at count \d+)?; a schedule must return a scalar"
    if at == "init":
        with pytest.raises(ValueError, match=message):
            tx.init(params)
        return
    state = tx.init(params)
    with pytest.raises(ValueError, match=message):
        jax.jit(tx.update)(jnp.ones(()), state, params)


def test_a_scalar_array_schedule_is_evaluated():
    # A shape-() array (and a shape-() NumPy array) is a scalar: accepted.
    tx = jopt.adamw(lambda count: jnp.full((), 0.1), b1=lambda c: np.full((), 0.9))
    updates, _ = jax.jit(tx.update)(jnp.ones(3), tx.init(jnp.zeros(3)), jnp.zeros(3))
    np.testing.assert_allclose(np.asarray(updates), -0.1, rtol=1e-6)


# ---------------------------------------------------------------------------------- checks


@pytest.mark.parametrize(
    "make",
    [
        lambda: jopt.rmsprop(0.1),
        lambda: jopt.gd(0.1),
        lambda: jopt.adam(0.1),
        lambda: jt.SGD(0.1, 0.9),
    ],
    ids=["rmsprop", "gd", "adam", "torch.SGD"],
)
def test_integer_params_are_refused_at_init_naming_the_leaf(make):
    params = {"layer": {"w": jnp.ones(2), "steps": jnp.array([1, 2, 3])}}
    with pytest.raises(TypeError, match=r"\['layer'\]\['steps'\] of dtype int(32|64)"):
        make().init(params)


@pytest.mark.parametrize(
    "make, with_params, grads, match",
    [  # update(grads, state, params) names the params' tree, update(grads, state) the state's
        (
            lambda: jopt.gd(0.1),
            True,
            {"w": jnp.zeros(3)},
            r"(?s)jopt.gd: .*gradients: .*'w'.*params: .*'b'",
        ),
        (
            lambda: jopt.adam(1e-3),
            False,
            {"w": jnp.zeros(3)},
            r"(?s)jopt.adam.*gradients:.*'w'.*state:.*'b'",
        ),
        (  # as many leaves, another structure
            lambda: jopt.sgd(0.1, momentum=0.9),
            False,
            {"w": jnp.zeros(3), "c": jnp.zeros(2)},
            r"(?s)jopt.sgd: .*gradients:.*'c'.*state:.*'b'",
        ),
    ],
    ids=["gd-params", "adam-state", "sgd-renamed"],
)
def test_a_gradient_tree_of_another_structure_shows_both_trees(make, with_params, grads, match):
    tx = make()
    params = {"w": jnp.zeros(3), "b": jnp.zeros(2)}
    args = (params,) if with_params else ()
    with pytest.raises(ValueError, match=match):
        tx.update(grads, tx.init(params), *args)


@pytest.mark.parametrize(
    "make",
    [
        lambda: jopt.adam(0.1),
        lambda: jopt.sgd(0.1, momentum=0.9),
        lambda: jt.Adam(0.1),
        lambda: jk.SGD(0.1, momentum=0.9),
    ],
    ids=["adam", "sgd-momentum", "torch.Adam", "keras.SGD"],
)
def test_a_gradient_of_another_shape_than_its_parameter_is_refused(make):
    # A (3, 1) gradient of a (3,) parameter was broadcast into (3, 3) moments (as optax
    # does). Now refused, naming the leaf and both shapes, with params or without, eager
    # or traced (shapes are static).
    tx = make()
    params = {"b": jnp.zeros(2), "w": jnp.zeros(3)}
    grads = {"b": jnp.ones(2), "w": jnp.ones((3, 1))}
    state = tx.init(params)
    call = r"jopt\.(compat\.(torch|keras)\.)?\w+"
    match = (
        rf"^{call}: the gradient \['w'\] has shape \(3, 1\), but its entry in the "
        r"(optimizer state|params) has shape \(3,\); each gradient must have its parameter's"
    )
    for run in (tx.update, jax.jit(tx.update)):
        with pytest.raises(ValueError, match=match):
            run(grads, state, params)
    with pytest.raises(ValueError, match=match):
        tx.update(grads, state)


def test_a_step_that_reads_the_params_needs_them():
    tx = jopt.adamw(1e-3)
    with pytest.raises(ValueError, match=r"^jopt\.adamw: update\(\) needs params to decay"):
        tx.update(jnp.ones(2), tx.init(jnp.zeros(2)))


# ----------------------------------------------------------------------------- the count


def test_count_saturates_instead_of_wrapping():
    top = jnp.asarray(jnp.iinfo(jnp.int32).max, jnp.int32)
    assert int(increment(top)) == int(top) and increment(top).dtype == jnp.int32
    assert int(increment(jnp.asarray(4, jnp.int32))) == 5
    tx = jopt.scale_by_adam()
    _, state = tx.update(jnp.ones(1), jopt.ScaleByAdamState(top, jnp.zeros(1), jnp.zeros(1)))
    assert int(state.count) == jnp.iinfo(jnp.int32).max
