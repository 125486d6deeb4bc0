"""jopt.testing (jopt/testing.py) catches broken transforms (a checker that cannot fail
checks nothing). Its mesh checks are tested in tests/sharding/test_testing.py."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
import pytest

import jopt

PARAMS = {"w": jnp.ones((2, 3), jnp.float32), "b": jnp.ones(3, jnp.bfloat16)}
GRADS = jax.tree.map(lambda p: (0.5 * p).astype(p.dtype), PARAMS)


class CountState(NamedTuple):
    count: jax.Array


def transform(update, init=lambda p: CountState(jnp.zeros([], jnp.int32))):
    return optax.GradientTransformation(init, update)


def test_a_correct_transform_passes():
    jopt.testing.check_transformation(
        transform(lambda u, s, p=None: (u, CountState(s.count + 1))), PARAMS, GRADS
    )


@pytest.mark.parametrize(
    "broken, match",
    [
        (  # upcasts bfloat16 updates to float32
            transform(lambda u, s, p=None: (jax.tree.map(lambda g: g.astype(jnp.float32), u), s)),
            "dtype",
        ),
        (  # the count changes dtype after the first update: state signature changes
            transform(lambda u, s, p=None: (u, CountState(s.count.astype(jnp.float32)))),
            "changed structure or dtypes",
        ),
        (  # a plain tuple holds the state array
            transform(lambda u, s, p=None: (u, s), init=lambda p: (jnp.zeros([], jnp.int32),)),
            "not inside a NamedTuple",
        ),
        (  # a count of the wrong dtype from init on
            transform(
                lambda u, s, p=None: (u, s), init=lambda p: CountState(jnp.zeros([], jnp.float32))
            ),
            "count must be an int32 scalar",
        ),
        (  # NaN updates
            transform(lambda u, s, p=None: (jax.tree.map(lambda g: g * jnp.nan, u), s)),
            "not finite",
        ),
        (  # mixes dtypes: fails under strict promotion
            transform(
                lambda u, s, p=None: (jax.tree.map(lambda g: g * jnp.ones((), jnp.float32), u), s)
            ),
            "promotion",
        ),
    ],
    ids=["dtype", "state-dtype", "plain-tuple", "float-count", "nan", "strict"],
)
def test_broken_transforms_are_caught(broken, match):
    with pytest.raises((AssertionError, jax.dtypes.TypePromotionError), match=match):
        jopt.testing.check_transformation(broken, PARAMS, GRADS)


def test_a_required_count_must_be_there():
    stateless = transform(lambda u, s, p=None: (u, s), init=lambda p: optax.EmptyState())
    jopt.testing.check_transformation(stateless, PARAMS, GRADS)  # a count is optional
    with pytest.raises(AssertionError, match="no NamedTuple with a `count`"):
        jopt.testing.check_transformation(stateless, PARAMS, GRADS, require_count=True)


def test_a_count_inside_a_wrapper_state_is_found():
    # optax.masked / multi_transform wrap the inner states in NamedTuples of their own.
    masked = optax.masked(jopt.sgd(jopt.schedules.step_lr(0.1, 2)), {"w": True, "b": False})
    jopt.testing.check_transformation(masked, PARAMS, GRADS, require_count=True)
    with pytest.raises(AssertionError, match="no NamedTuple with a `count`"):
        stateless = optax.masked(jopt.sgd(0.1), {"w": True, "b": False})
        jopt.testing.check_transformation(stateless, PARAMS, GRADS, require_count=True)


def test_check_vmap_catches_a_hyperparameter_read_as_a_constant():
    # Reads the learning rate only when it is a Python float: batched runs all use 0.1.
    def make(lr):
        return jopt.sgd(lr if isinstance(lr, float) else 0.1)

    with pytest.raises(AssertionError, match="vmap"):
        jopt.testing.check_vmap(make, PARAMS, GRADS, [0.2, 0.3])


class TwoMoments(NamedTuple):
    m: jax.Array
    v: jax.Array


def test_a_transform_that_reuses_a_buffer_fails():
    # The bug jopt's AMSGrad once had: one zeros array for two state fields.
    def init(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return TwoMoments(zeros, zeros)

    tx = transform(lambda u, s, p=None: (u, TwoMoments(s.m, s.v)), init)
    with pytest.raises(AssertionError, match=r"share one buffer.*donate the same buffer twice"):
        jopt.testing.check_transformation(tx, PARAMS, GRADS)


def test_check_vmap_with_no_values_says_so():
    with pytest.raises(ValueError, match="values is empty"):
        jopt.testing.check_vmap(lambda lr: jopt.sgd(lr), PARAMS, GRADS, [])


class Outer(NamedTuple):
    inner: CountState


def test_a_count_nested_in_a_state_is_found_and_checked():
    # jopt.compat.torch.LBFGS keeps its learning-rate state inside its own NamedTuple.
    nested = transform(
        lambda u, s, p=None: (u, s), init=lambda p: Outer(CountState(jnp.zeros([], jnp.int32)))
    )
    jopt.testing.check_transformation(nested, PARAMS, GRADS, require_count=True)
    bad = transform(lambda u, s, p=None: (u, s), init=lambda p: Outer(CountState(jnp.zeros([]))))
    with pytest.raises(AssertionError, match="count must be an int32 scalar"):
        jopt.testing.check_transformation(bad, PARAMS, GRADS)
