"""What every schedule shares (jopt/schedules/_common.py): the count each one accepts, the
dtype each one computes in, and the argument rules of sequences (``Schedules``,
``Numbers``), each tested once with its bad values."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jopt.compat.keras.schedules as keras_schedules
import jopt.schedules as schedules
from jopt._core.checks import Real
from jopt.schedules._common import Numbers, Schedules
from tests.support import torch_lr


def test_count_errors_name_the_schedule_that_refused():
    # Helpers raise unnamed errors; the public schedule names them: alone, under jit,
    # and nested inside another schedule (the innermost public one that refused).
    mult = schedules.multiplicative_lr(0.1, lambda k: 0.5)
    refused = r"^jopt\.schedules\.multiplicative_lr: count must be an integer array"
    for sched in (mult, jax.jit(mult)):
        with pytest.raises(TypeError, match=refused) as info:
            sched(jnp.float32(3.0))
        assert type(info.value) is TypeError
    nested = (
        schedules.sequential_lr([schedules.constant_lr(0.1), mult], [3]),
        schedules.chained_lr(0.1, mult),
    )
    for sched in nested:
        with pytest.raises(TypeError, match=refused):
            jax.jit(sched)(jnp.float32(4.0))
    for sched, call in [
        (schedules.chained_lr(0.1, mult), r"jopt\.schedules\.chained_lr"),
        (schedules.sequential_lr([mult], []), r"jopt\.schedules\.sequential_lr"),
        (schedules.inverse_time_decay(0.1, 0.5), r"jopt\.schedules\.inverse_time_decay"),
        (
            keras_schedules.InverseTimeDecay(0.1, 10, 0.5),
            r"jopt\.compat\.keras\.schedules\.InverseTimeDecay",
        ),
    ]:
        with pytest.raises(TypeError, match=rf"^{call}: count must be an integer or real array"):
            jax.jit(sched)(jnp.bool_(True))


def test_dtypes():
    counts = jnp.arange(5, dtype=jnp.int32)
    assert schedules.step_lr(0.1, 2)(jnp.int32(3)).dtype == jnp.float64  # default float (x64)
    assert schedules.step_lr(jnp.float32(0.1), 2)(jnp.int32(3)).dtype == jnp.float32
    per_base = jax.vmap(lambda b: schedules.cosine_annealing_lr(b, 10)(counts))
    assert per_base(jnp.ones(3, jnp.float32)).dtype == jnp.float32
    assert jax.vmap(schedules.exponential_lr(0.1, 0.9))(counts.astype(jnp.int64)).shape == (5,)
    # A real count is a fractional step; booleans and complex numbers are not counts.
    assert float(schedules.step_lr(0.1, 2)(jnp.float32(3.5))) == pytest.approx(0.01)
    for bad in (jnp.bool_(True), jnp.complex64(3.0)):
        with pytest.raises(TypeError, match="count must be an integer or real array"):
            schedules.step_lr(0.1, 2)(bad)
    with pytest.raises(TypeError, match="multiplicative_lr: count must be an integer array"):
        schedules.multiplicative_lr(0.1, lambda k: 0.5)(jnp.float32(3.0))


def test_default_dtype_without_x64():
    with torch_lr.without_x64():
        lr = schedules.one_cycle_lr(0.1, 50)(jnp.int32(7))
        assert lr.dtype == jnp.float32


def _one(k):
    return 1.0


# The two sequence rules of the schedules (the other rules are tested in tests/core).
SEQUENCE_RULES = {
    "schedules": (Schedules(), [[_one], (_one, _one)]),
    "numbers": (Numbers(Real(0.0)), [[], [0, 2.5], np.asarray([1.0, 2.0])]),
    "numbers-static": (Numbers(Real(0.0, static=True)), [[1, 2.5]]),
}
SEQUENCE_CASES = [
    (kind, label, value)
    for kind, (rule, _) in SEQUENCE_RULES.items()
    for label, value in rule.bad().items()
]


@pytest.mark.parametrize("kind", SEQUENCE_RULES)
def test_sequence_rules_accept_their_valid_values(kind):
    rule, good = SEQUENCE_RULES[kind]
    for value in good:
        assert list(rule("x", value)) == list(value)


def test_static_numbers_are_floats():
    # Static numbers shape the schedule (boundaries): normalized to Python floats.
    out = Numbers(Real(0.0, static=True))("x", [1, np.int64(2)])
    assert out == [1.0, 2.0] and all(type(v) is float for v in out)


@pytest.mark.parametrize(
    "kind, label, value", SEQUENCE_CASES, ids=[f"{k}-{n}" for k, n, _ in SEQUENCE_CASES]
)
def test_sequence_rules_reject_each_class_of_bad_value(kind, label, value):
    rule, _ = SEQUENCE_RULES[kind]
    with pytest.raises((TypeError, ValueError)) as error:
        rule("x", value)
    message = str(error.value)
    assert message.startswith("x") and "invalid" in message, message
