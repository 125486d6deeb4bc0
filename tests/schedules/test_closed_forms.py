"""Each ``jopt.schedules`` factory equals its closed form, written here in NumPy, on
random hyperparameters and counts (hypothesis; the profile in tests/conftest.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import jopt.schedules as schedules


def _cos_half(x):
    return (1.0 + np.cos(np.pi * x)) / 2.0


def _warm_restarts(k, t_0, t_mult, eta, base):
    start, length = 0, t_0
    while k >= start + length:
        start, length = start + length, length * t_mult
    return eta + (base - eta) * _cos_half((k - start) / length)


def _phases(k, total, pct, strategy, three_phase, levels):
    # PyTorch's OneCycleLR phases: ends (inclusive) and the value at each phase boundary.
    if three_phase:
        ends = [pct * total - 1, 2 * pct * total - 2, total - 1]
    else:
        ends = [pct * total - 1, total - 1]
    t = min(k, total - 1)
    start = 0.0
    for i, end in enumerate(ends):
        if t <= end:
            x = (t - start) / (end - start)
            a, b = levels[i], levels[i + 1]
            return b + (a - b) * _cos_half(x) if strategy == "cos" else a + (b - a) * x
        start = end
    raise AssertionError("unreachable")


def _one_cycle(k, max_lr, total, pct, strategy, div, final_div, three_phase):
    initial = max_lr / div
    final = initial / final_div
    levels = [initial, max_lr, initial, final] if three_phase else [initial, max_lr, final]
    return _phases(k, total, pct, strategy, three_phase, levels)


def _one_cycle_momentum(k, total, pct, strategy, low, high, three_phase):
    # The momentum runs opposite to the rate: high → low while the rate rises, then back.
    levels = [high, low, high, high] if three_phase else [high, low, high]
    return _phases(k, total, pct, strategy, three_phase, levels)


def _swalr(k, base, swa, anneal, strategy):
    if anneal == 0:
        return swa
    x = min(k, anneal) / anneal
    a = (1.0 - np.cos(np.pi * x)) / 2.0 if strategy == "cos" else x
    return swa * a + base * (1.0 - a)


def _cyclic(k, base, top, up, down, mode, gamma):
    u = k % (up + down)
    height = u / up if u <= up else (up + down - u) / down
    if mode == "triangular2":
        height /= 2.0 ** (k // (up + down))
    elif mode == "exp_range":
        height *= gamma**k
    return base + (top - base) * height


BASES = st.floats(1e-3, 1.0)
UNIT = st.floats(0.05, 0.95)
SMALL_INT = st.integers(1, 40)


def _linear_closed(k, base, s, e, n):
    return base * (s + (e - s) * min(k, n) / n)


# name -> strategy of the factory's arguments, the jopt schedule, the NumPy closed form
# lr(k) written from the PyTorch/Keras definition (a Python float function of an int k).
CLOSED_FORMS: dict[str, tuple] = {
    "step_lr": (
        st.tuples(BASES, SMALL_INT, UNIT),
        lambda a: schedules.step_lr(*a),
        lambda k, base, n, gamma: base * gamma ** (k // n),
    ),
    "multi_step_lr": (
        st.tuples(BASES, st.lists(st.integers(0, 300), max_size=4), UNIT),
        lambda a: schedules.multi_step_lr(*a),
        lambda k, base, ms, gamma: base * gamma ** sum(m <= k for m in ms),
    ),
    "constant_lr": (
        st.tuples(BASES, UNIT, SMALL_INT),
        lambda a: schedules.constant_lr(*a),
        lambda k, base, factor, n: base * (factor if k < n else 1.0),
    ),
    "linear_lr": (
        st.tuples(BASES, UNIT, st.floats(0.0, 1.0), SMALL_INT),
        lambda a: schedules.linear_lr(*a),
        _linear_closed,
    ),
    "exponential_lr": (
        st.tuples(BASES, st.floats(0.9, 1.0)),
        lambda a: schedules.exponential_lr(*a),
        lambda k, base, gamma: base * gamma**k,
    ),
    "polynomial_lr": (
        st.tuples(BASES, SMALL_INT, st.floats(0.5, 3.0)),
        lambda a: schedules.polynomial_lr(*a),
        lambda k, base, n, power: base * (1.0 - min(k, n) / n) ** power,
    ),
    "inverse_time_decay": (
        st.tuples(BASES, st.floats(0.0, 2.0)),
        lambda a: schedules.inverse_time_decay(*a),
        lambda k, base, decay: base / (1.0 + decay * k),
    ),
    "cosine_annealing_lr": (
        st.tuples(BASES, SMALL_INT, st.floats(0.0, 1e-3)),
        lambda a: schedules.cosine_annealing_lr(*a),
        lambda k, base, t_max, eta: eta + (base - eta) * _cos_half(k / t_max),
    ),
    "cosine_annealing_warm_restarts": (
        st.tuples(BASES, SMALL_INT, st.integers(1, 3), st.floats(0.0, 1e-3)),
        lambda a: schedules.cosine_annealing_warm_restarts(*a),
        lambda k, base, t_0, t_mult, eta: _warm_restarts(k, t_0, t_mult, eta, base),
    ),
    "cyclic_lr": (
        st.tuples(
            BASES,
            st.floats(1.0, 2.0),
            SMALL_INT,
            SMALL_INT,
            st.sampled_from(["triangular", "triangular2", "exp_range"]),
            st.floats(0.99, 1.0),
        ),
        lambda a: schedules.cyclic_lr(*a),
        _cyclic,
    ),
    "one_cycle_lr": (
        st.tuples(
            BASES,
            st.integers(50, 500),
            st.floats(0.1, 0.45),
            st.sampled_from(["cos", "linear"]),
            st.floats(2.0, 50.0),
            st.floats(10.0, 1e4),
            st.booleans(),
        ),
        lambda a: schedules.one_cycle_lr(*a),
        _one_cycle,
    ),
    "cyclic_momentum": (
        st.tuples(
            st.floats(0.5, 0.85),
            st.floats(0.85, 0.99),
            SMALL_INT,
            SMALL_INT,
            st.sampled_from(["triangular", "triangular2", "exp_range"]),
            st.floats(0.99, 1.0),
        ),
        lambda a: schedules.cyclic_momentum(*a),
        # PyTorch: momentum = max − (max − base)·height·scale, the rate's cycle upside down.
        lambda k, low, high, up, down, mode, gamma: (
            high - (high - low) * _cyclic(k, 0.0, 1.0, up, down, mode, gamma)
        ),
    ),
    "one_cycle_momentum": (
        st.tuples(
            st.integers(50, 500),
            st.floats(0.1, 0.45),
            st.sampled_from(["cos", "linear"]),
            st.floats(0.5, 0.85),
            st.floats(0.85, 0.99),
            st.booleans(),
        ),
        lambda a: schedules.one_cycle_momentum(*a),
        _one_cycle_momentum,
    ),
    "swalr": (
        st.tuples(BASES, BASES, st.integers(0, 40), st.sampled_from(["cos", "linear"])),
        lambda a: schedules.swalr(*a),
        _swalr,
    ),
    "lambda_lr": (
        st.tuples(BASES, st.floats(0.0, 1.0)),
        lambda a: schedules.lambda_lr(a[0], lambda k: 1.0 / (1.0 + a[1] * k.astype(float))),
        lambda k, base, r: base / (1.0 + r * k),
    ),
    "multiplicative_lr": (
        # factor(j) = (j + b) / (j + b + 1): the product over j = 1..k telescopes.
        st.tuples(BASES, st.floats(0.0, 5.0)),
        lambda a: schedules.multiplicative_lr(
            a[0], lambda j: (j.astype(float) + a[1]) / (j.astype(float) + a[1] + 1.0)
        ),
        lambda k, base, b: base * (1.0 + b) / (k + 1.0 + b),
    ),
    "sequential_lr": (
        st.tuples(BASES, UNIT, SMALL_INT, st.floats(0.9, 1.0), st.integers(1, 300)),
        lambda a: schedules.sequential_lr(
            [schedules.linear_lr(a[0], a[1], 1.0, a[2]), schedules.exponential_lr(a[0], a[3])],
            [a[4]],
        ),
        lambda k, base, s, n, gamma, m: (
            _linear_closed(k, base, s, 1.0, n) if k < m else base * gamma ** (k - m)
        ),
    ),
    "chained_lr": (
        st.tuples(BASES, UNIT, SMALL_INT, st.floats(0.9, 1.0)),
        lambda a: schedules.chained_lr(
            a[0], schedules.constant_lr(1.0, a[1], a[2]), schedules.exponential_lr(1.0, a[3])
        ),
        lambda k, base, factor, n, gamma: base * (factor if k < n else 1.0) * gamma**k,
    ),
}

COUNTS = st.lists(st.integers(0, 2000), min_size=8, max_size=8)  # one shape: no recompiles


def check_schedule(schedule, closed_form, counts) -> None:
    """``schedule`` (vmapped over int32 counts) equals ``closed_form(k)`` for each count."""
    got = np.asarray(jax.vmap(schedule)(jnp.asarray(counts, jnp.int32)), np.float64)
    want = np.asarray([closed_form(k) for k in counts], np.float64)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-15, err_msg=f"counts {counts}")


def test_every_schedule_has_a_closed_form():
    assert set(CLOSED_FORMS) == set(schedules.__all__)


@pytest.mark.parametrize("name", sorted(CLOSED_FORMS))
@given(data=st.data(), counts=COUNTS)
def test_schedule_equals_its_closed_form(name, data, counts):
    arguments, make, closed_form = CLOSED_FORMS[name]
    args = data.draw(arguments)
    check_schedule(make(args), lambda k: closed_form(k, *args), counts)


def test_schedule_check_fails_on_an_off_by_one_schedule():
    exact = schedules.step_lr(0.1, 3, 0.5)
    late = lambda k: exact(k + 1)  # noqa: E731 - the rate of the next step
    closed = lambda k: 0.1 * 0.5 ** (k // 3)  # noqa: E731
    with pytest.raises(AssertionError):
        check_schedule(late, closed, [0, 1, 2, 5, 8])
    check_schedule(exact, closed, [0, 1, 2, 5, 8])
