"""jopt.rprop and jopt.scale_by_rprop against Rprop written out in NumPy (float64), and the
rules of rprop.py (the initial step size, the step-size bounds) with their bad values."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jopt
from jopt._algorithms.sign.rprop import check_step_sizes, initial_step_size
from tests.support import trajectory

CURV = np.array([1.0, 2.0, 0.5, 3.0, 1.0])
X0 = np.array([-3.0, 0.5, 4.0, 1.2, 1.0])  # the last coordinate has a zero gradient
STEPS = 40


def grad(x):
    return CURV * (x - 1.0) + 0.5 * np.sin(3.0 * x) * (x != 1.0)


def jax_grad(x):
    return jnp.asarray(CURV) * (x - 1.0) + 0.5 * jnp.sin(3.0 * x) * (x != 1.0).astype(x.dtype)


def numpy_rprop(x, steps, d0, eta_minus, eta_plus, d_min, d_max):
    """Riedmiller & Braun's Rprop without backtracking (PyTorch's), written out."""
    size, prev, path = np.full_like(x, d0), np.zeros_like(x), []
    for _ in range(steps):
        g = grad(x)
        s = np.sign(g * prev)
        size = np.where(s > 0, size * eta_plus, np.where(s < 0, size * eta_minus, size))
        size = np.minimum(np.maximum(size, d_min), d_max)
        g = np.where(s < 0, 0.0, g)
        x = x - size * np.sign(g)
        prev = g
        path.append(x)
    return np.stack(path)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},  # the paper's defaults
        dict(learning_rate=0.3, eta_minus=0.4, eta_plus=1.5, min_step_size=0.02, max_step_size=0.5),
        dict(learning_rate=2.0, max_step_size=1.0),  # Δ_0 above Δmax: clipped on step 1
    ],
    ids=["defaults", "all-options", "clipped-start"],
)
def test_rprop_matches_the_formula(kwargs):
    full = dict(
        learning_rate=0.1, eta_minus=0.5, eta_plus=1.2, min_step_size=1e-6, max_step_size=50.0
    )
    full.update(kwargs)
    expected = numpy_rprop(X0, STEPS, *full.values())
    for tx in (jopt.rprop(**kwargs), optax.chain(jopt.scale_by_rprop(**full), optax.scale(-1.0))):
        path = trajectory.descent(tx, jax_grad, X0, STEPS)
        np.testing.assert_allclose(path, expected, rtol=0, atol=1e-12)
        steps = np.diff(np.concatenate([X0[None], path]), axis=0)
        assert np.sum(steps == 0) > 5  # the run exercises the sign-change branch


def test_first_step_is_the_initial_step_size_times_the_sign():
    tx = jopt.rprop(0.25)
    updates, state = tx.update(jnp.array([3.0, -0.01, 0.0]), tx.init(jnp.zeros(3)))
    np.testing.assert_array_equal(np.asarray(updates), [-0.25, 0.25, 0.0])
    assert isinstance(state[0], jopt.ScaleByRpropState)
    np.testing.assert_array_equal(state[0].step_size, [0.25, 0.25, 0.25])
    np.testing.assert_array_equal(state[0].prev, [3.0, -0.01, 0.0])


BAD = [
    (jopt.rprop, dict(eta_minus=1.0), r"jopt.rprop: eta_minus=1.0 .* \(0, 1\)"),
    (jopt.rprop, dict(eta_minus=0.0), r"eta_minus=0.0"),
    (jopt.rprop, dict(eta_plus=1.0), r"jopt.rprop: eta_plus=1.0 .* \(1, inf\)"),
    (jopt.rprop, dict(learning_rate=-0.1), r"learning_rate=-0.1"),
    (jopt.rprop, dict(min_step_size=-1.0), r"min_step_size=-1.0"),
    (jopt.rprop, dict(min_step_size=2.0, max_step_size=1.0), r"min_step_size=2.0 is larger"),
    (jopt.scale_by_rprop, dict(learning_rate=0.1, eta_plus=0.9), r"jopt.scale_by_rprop: eta_plus"),
]


@pytest.mark.parametrize("factory, kwargs, match", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_arguments(factory, kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        factory(**kwargs)


RULE = initial_step_size()


def test_initial_step_size_accepts_numbers():
    for value in (0.0, 0.1, 5, np.float32(2.0), jnp.asarray(0.3)):
        RULE("x", value)


@pytest.mark.parametrize("label, value", list(RULE.bad().items()), ids=list(RULE.bad()))
def test_initial_step_size_rejects_each_class_of_bad_value(label, value):
    with pytest.raises((TypeError, ValueError)) as error:
        RULE("x", value)
    assert str(error.value).startswith("x"), str(error.value)


def test_initial_step_size_message_replaces_the_range_wording():
    rule = initial_step_size(message="Invalid learning rate")
    with pytest.raises(ValueError, match=r"^Invalid learning rate: -1.0; x must be in"):
        rule("x", -1.0)


def test_step_sizes_in_order_names_the_arguments_as_written():
    check_step_sizes(("lo", "hi"), 1.0, 1.0)  # only an empty range is refused
    jax.jit(lambda lo: check_step_sizes(("lo", "hi"), lo, 1.0))(2.0)  # traced: unread
    with pytest.raises(ValueError, match=r"^lo=2.0 is larger than hi=1.0; .*\[lo, hi\]"):
        check_step_sizes(("lo", "hi"), 2.0, 1.0)


@pytest.mark.parametrize("factory", [jopt.rprop, jopt.scale_by_rprop])
def test_a_schedule_is_refused_not_ignored(factory):
    # PyTorch reads Rprop's lr once, to fill the step sizes: a scheduler does nothing there.
    with pytest.raises(TypeError, match="initial step size .* pass a number"):
        factory(jopt.schedules.step_lr(0.1, step_size=10))


def test_complex_params_are_refused_naming_the_torch_preset():
    params = jnp.array([1.0 + 2.0j, -1.0j])
    with pytest.raises(TypeError, match=r"complex parameter \(root\); .*jopt.compat.torch.Rprop"):
        jopt.rprop().init(params)
