"""jopt.compat.keras.schedules (jopt/compat/keras/schedules.py) against
keras.optimizers.schedules (Keras 3.15, JAX backend).

Two oracles, for ``STEPS`` steps each:

- Keras itself, the same arguments by the same names, in float32 (``floatx``) and with a
  float64 ``initial_learning_rate`` (Keras then computes in float64, except its cosines,
  which it evaluates in float32). Error measure as in tests/support/parity.py: max |jopt − Keras|
  over the steps divided by max |Keras|.
- Keras' formulas written out in NumPy float64 (its docstrings), point by point relative:
  Keras' float32 ``1 + cos(pi x)`` and ``1 - step / decay_steps`` cancel near the end of a
  decay (1e-4 relative), which jopt avoids; this oracle checks jopt there.
"""

from __future__ import annotations

import inspect
import math

import jax
import jax.numpy as jnp
import keras
import numpy as np
import optax
import pytest

import jopt
import jopt.compat.keras as jk
from jopt.compat.keras import schedules as ks
from tests.support.parity import KerasCase, keras_errors
from tests.support.tolerances import tol

K = keras.optimizers.schedules
STEPS = 320


def np_exponential(t, initial_learning_rate, decay_steps, decay_rate, staircase=False):
    p = t / decay_steps
    return initial_learning_rate * decay_rate ** (np.floor(p) if staircase else p)


def np_piecewise(t, boundaries, values):
    out = np.full(t.shape, values[-1], np.float64)
    for b, v in zip(reversed(boundaries), reversed(values[:-1]), strict=True):
        out = np.where(t <= b, v, out)
    return out


def np_polynomial(
    t, initial_learning_rate, decay_steps, end_learning_rate=1e-4, power=1.0, cycle=False
):
    if cycle:
        d = decay_steps * np.where(t == 0, 1.0, np.ceil(t / decay_steps))
    else:
        d, t = decay_steps, np.minimum(t, decay_steps)
    return (initial_learning_rate - end_learning_rate) * (1 - t / d) ** power + end_learning_rate


def np_inverse_time(t, initial_learning_rate, decay_steps, decay_rate, staircase=False):
    p = t / decay_steps
    return initial_learning_rate / (1 + decay_rate * (np.floor(p) if staircase else p))


def np_cosine(t, initial_learning_rate, decay_steps, alpha=0.0, warmup_target=None, warmup_steps=0):
    def decayed(step, peak):
        return peak * ((1 - alpha) * 0.5 * (1 + np.cos(np.pi * step / decay_steps)) + alpha)

    if warmup_target is None:
        return decayed(np.minimum(t, decay_steps), initial_learning_rate)
    t = np.minimum(t, decay_steps + warmup_steps)
    warm = (warmup_target - initial_learning_rate) * t / max(warmup_steps, 1) + (
        initial_learning_rate
    )
    return np.where(t < warmup_steps, warm, decayed(t - warmup_steps, warmup_target))


def np_restarts(t, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0):
    out = []
    for step in t:
        i, start, length = 0, 0.0, first_decay_steps
        while step >= start + length:  # the cycle, by summing lengths
            i, start, length = i + 1, start + length, length * t_mul
        cosine = 0.5 * m_mul**i * (1 + math.cos(math.pi * (step - start) / length))
        out.append(initial_learning_rate * ((1 - alpha) * cosine + alpha))
    return np.asarray(out)


# id -> (class name, arguments, NumPy oracle)
CASES = {
    "exponential": ("ExponentialDecay", dict(decay_steps=30, decay_rate=0.5), np_exponential),
    "exponential_staircase": (
        "ExponentialDecay",
        dict(decay_steps=7, decay_rate=0.9, staircase=True),
        np_exponential,
    ),
    "exponential_fractional_steps": (
        "ExponentialDecay",
        dict(decay_steps=12.5, decay_rate=0.96),
        np_exponential,
    ),
    "piecewise": (
        "PiecewiseConstantDecay",
        dict(boundaries=[10, 100, 250], values=[1.0, 0.5, 0.1, 0.01]),
        np_piecewise,
    ),
    "polynomial": ("PolynomialDecay", dict(decay_steps=200), np_polynomial),
    "polynomial_square_to_zero": (
        "PolynomialDecay",
        dict(decay_steps=250, end_learning_rate=0.0, power=2.0),
        np_polynomial,
    ),
    "polynomial_cycle": (
        "PolynomialDecay",
        dict(decay_steps=70, end_learning_rate=0.001, power=0.5, cycle=True),
        np_polynomial,
    ),
    "inverse_time": (
        "InverseTimeDecay",
        dict(decay_steps=10, decay_rate=0.5),
        np_inverse_time,
    ),
    "inverse_time_staircase": (
        "InverseTimeDecay",
        dict(decay_steps=10, decay_rate=0.5, staircase=True),
        np_inverse_time,
    ),
    "cosine": ("CosineDecay", dict(decay_steps=300), np_cosine),
    "cosine_alpha": ("CosineDecay", dict(decay_steps=200, alpha=0.1), np_cosine),
    "cosine_warmup": (
        "CosineDecay",
        dict(decay_steps=250, warmup_target=0.2, warmup_steps=50),
        np_cosine,
    ),
    "cosine_warmup_alpha": (
        "CosineDecay",
        dict(decay_steps=100, alpha=0.05, warmup_target=0.2, warmup_steps=30),
        np_cosine,
    ),
    "cosine_target_no_warmup": (
        "CosineDecay",
        dict(decay_steps=100, warmup_target=0.2),
        np_cosine,
    ),
    "restarts": ("CosineDecayRestarts", dict(first_decay_steps=10), np_restarts),
    "restarts_constant_m_mul_alpha": (
        "CosineDecayRestarts",
        dict(first_decay_steps=20, t_mul=1.0, m_mul=0.8, alpha=0.05),
        np_restarts,
    ),
    "restarts_t_mul3": (
        "CosineDecayRestarts",
        dict(first_decay_steps=4, t_mul=3.0, m_mul=0.9, alpha=0.01),
        np_restarts,
    ),
    "restarts_t_mul1.5": (
        "CosineDecayRestarts",
        dict(first_decay_steps=8, t_mul=1.5),
        np_restarts,
    ),
}
INITIAL = 0.1  # initial_learning_rate of every case but PiecewiseConstantDecay


def _arguments(name, kwargs, f):
    """Keras' arguments with the rates converted by ``f`` (a dtype)."""
    if name == "PiecewiseConstantDecay":
        return dict(kwargs, values=[f(v) for v in kwargs["values"]])
    return dict(kwargs, initial_learning_rate=f(INITIAL))


def keras_values(name, kwargs, dtype) -> np.ndarray:
    schedule = getattr(K, name)(**_arguments(name, kwargs, np.dtype(dtype).type))
    with jax.numpy_dtype_promotion("standard"):  # Keras mixes dtypes (fine outside strict)
        values = jax.jit(jax.vmap(schedule))(jnp.arange(STEPS, dtype=jnp.int64))
    return np.asarray(values, np.float64)


def scaled_error(got, want) -> float:
    return float(np.max(np.abs(np.asarray(got, np.float64) - want)) / np.max(np.abs(want)))


@pytest.fixture(scope="session")
def values():
    """Each case's values at counts 0 … STEPS − 1, (jopt's, Keras') in float64 and float32:
    every case's schedule jitted and vmapped over the counts, all cases one program per
    library and dtype (Keras under standard promotion: it mixes dtypes)."""
    counts = jnp.arange(STEPS, dtype=jnp.int32)
    out = {}
    # jopt's rates: Python floats (float64), float32 arrays; Keras': NumPy scalars
    for dtype, f, g in ((np.float64, float, np.float64), (np.float32, jnp.float32, np.float32)):
        ours = jax.jit(
            lambda c, f=f: [
                jax.vmap(getattr(ks, name)(**_arguments(name, kwargs, f)))(c)
                for name, kwargs, _ in CASES.values()
            ]
        )(counts)
        with jax.numpy_dtype_promotion("standard"):
            theirs = jax.jit(
                lambda c, g=g: [
                    jax.vmap(getattr(K, name)(**_arguments(name, kwargs, g)))(c)
                    for name, kwargs, _ in CASES.values()
                ]
            )(counts.astype(jnp.int64))
        for case, got, want in zip(CASES, ours, theirs, strict=True):
            out[case, dtype] = got, np.asarray(want, np.float64)
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_matches_keras(case, values):
    name, kwargs, oracle = CASES[case]
    exact = oracle(np.arange(STEPS, dtype=np.float64), **_arguments(name, kwargs, float))

    # float64: jitted, vmapped over counts and over the (traced) rates.
    got, keras64 = values[case, np.float64]
    assert got.dtype == jnp.float64
    np.testing.assert_allclose(got, exact, rtol=1e-9, atol=1e-30)
    assert scaled_error(got, keras64) <= 1e-6

    def at_7(s):
        return getattr(ks, name)(**_arguments(name, kwargs, lambda v: s * v))(7)

    half = at_7(0.5)
    np.testing.assert_allclose(
        jax.vmap(at_7)(jnp.asarray([1.0, 0.5])), [exact[7], half], rtol=1e-12
    )

    # float32: a float32 rate makes the schedule float32.
    got32, keras32 = values[case, np.float32]
    assert got32.dtype == jnp.float32
    np.testing.assert_allclose(got32, exact, rtol=1e-6, atol=1e-30)
    assert scaled_error(got32, keras32) <= 1e-6


def test_every_keras_schedule_and_option_is_compared():
    public = {n for n in dir(K) if n[0].isupper() and n != "LearningRateSchedule"}
    assert public == set(ks.__all__)
    for n in ks.__all__:
        options = set(inspect.signature(getattr(ks, n)).parameters)
        options -= {"name", "initial_learning_rate"}
        used = {k for name, kwargs, _ in CASES.values() if name == n for k in kwargs}
        assert options <= used, f"{n}: options not compared with Keras: {options - used}"


def test_signatures_are_keras():
    for n in ks.__all__:
        ours = inspect.signature(getattr(ks, n)).parameters
        theirs = inspect.signature(getattr(K, n).__init__).parameters
        assert list(ours) == list(theirs)[1:], n
        for p in ours.values():
            assert p.default == theirs[p.name].default, (n, p.name)


def test_keras_float32_cancels_where_jopt_does_not():
    # Why the pointwise oracle is NumPy: Keras' float32 CosineDecay two steps before the end.
    exact = np_cosine(np.asarray([298.0]), 0.1, 300)[0]
    with jax.numpy_dtype_promotion("standard"):
        theirs = float(K.CosineDecay(0.1, 300)(298))
    ours = float(ks.CosineDecay(jnp.float32(0.1), 300)(298))
    assert abs(theirs - exact) / exact > 1e-5 > abs(ours - exact) / exact


@pytest.mark.parametrize(
    "name, kwargs, message",
    [
        ("ExponentialDecay", dict(decay_steps=0, decay_rate=0.9), r"decay_steps=0 is invalid"),
        ("PolynomialDecay", dict(decay_steps=-5), r"decay_steps=-5 is invalid"),
        ("InverseTimeDecay", dict(decay_steps=0, decay_rate=0.5), r"decay_steps=0 is invalid"),
        ("CosineDecay", dict(decay_steps=0), r"decay_steps=0 is invalid"),
        ("CosineDecayRestarts", dict(first_decay_steps=0), r"first_decay_steps=0 is invalid"),
    ],
)
def test_keras_rejects_what_we_reject(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        getattr(ks, name)(0.1, **kwargs)
    with pytest.raises(ValueError, match="must be > 0"):
        getattr(K, name)(0.1, **kwargs)


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda: ks.PiecewiseConstantDecay([10, 20], [1.0, 0.5]),
            r"PiecewiseConstantDecay: boundaries has 2 entries and values 2, which is invalid",
        ),
        (
            lambda: ks.PiecewiseConstantDecay([20, 10], [1.0, 0.5, 0.1]),
            r"PiecewiseConstantDecay: boundaries=\[20\.0, 10\.0\] is invalid; boundaries must "
            r"be strictly increasing",
        ),
        (
            lambda: ks.PiecewiseConstantDecay([-1], [1.0, 0.5]),
            r"PiecewiseConstantDecay: boundaries\[0\]=-1 is invalid",
        ),
        (
            lambda: ks.CosineDecayRestarts(0.1, 10, t_mul=0.5),
            r"CosineDecayRestarts: t_mul=0\.5 is invalid; t_mul must be in \[1, inf\)",
        ),
        (lambda: ks.CosineDecay(0.1, 10, alpha=1.5), r"CosineDecay: alpha=1\.5 is invalid"),
        (
            lambda: ks.ExponentialDecay(0.1, 10, 0.9, staircase="yes"),
            r"ExponentialDecay: staircase='yes' is invalid; staircase must be True or False",
        ),
        (lambda: ks.PolynomialDecay(0.1, 10, name=3), r"PolynomialDecay: name=3 is invalid"),
    ],
)
def test_invalid_configuration_raises(make, message):
    with pytest.raises(
        (TypeError, ValueError), match=r"jopt\.compat\.keras\.schedules\." + message
    ):
        make()
    # Keras rejects the length mismatch too (it checks nothing else of these).
    with pytest.raises(ValueError, match="should be 1 less"):
        K.PiecewiseConstantDecay([10, 20], [1.0, 0.5])


def test_restarts_far_beyond_the_table():
    # t_mul barely above 1: more than 4096 cycles; past them Keras' logarithm is used.
    args = dict(initial_learning_rate=0.1, first_decay_steps=1, t_mul=1.0001, alpha=0.1)
    counts = np.asarray([0, 100, 4_000, 4_200, 5_000, 9_000], np.float64)
    got = jax.vmap(ks.CosineDecayRestarts(**args))(jnp.asarray(counts, jnp.int32))
    np.testing.assert_allclose(got, np_restarts(counts, **args), rtol=1e-9)


def test_usable_by_jopt_optax_and_compat_keras():
    want = keras_values("ExponentialDecay", dict(decay_steps=5, decay_rate=0.5), np.float64)
    # jopt: the rate each update used
    tx = jopt.sgd(ks.ExponentialDecay(0.1, 5, 0.5))
    state = tx.init(jnp.zeros(3))
    step = jax.jit(tx.update)
    for k in range(12):
        _, state = step(jnp.ones(3), state)
        assert float(jopt.get_learning_rate(state)) == pytest.approx(want[k], rel=1e-12)
    # optax: an update of plain SGD is -lr * g
    cos = keras_values("CosineDecay", dict(decay_steps=10, alpha=0.1), np.float64)
    tx = optax.sgd(ks.CosineDecay(0.1, 10, alpha=0.1))
    state = tx.init(jnp.zeros(2))
    for k in range(12):
        updates, state = tx.update(jnp.ones(2), state)
        np.testing.assert_allclose(updates, -cos[k] * np.ones(2), rtol=1e-6)


@pytest.mark.slow
def test_compat_keras_sgd_lockstep_with_a_keras_schedule():
    # Keras' own optimizer with its own schedule object against jk.SGD with ours, in
    # float64. Keras keeps its lr in float32 and evaluates its cosine in float32: an
    # exact-in-binary rate and the parity harness' float32 bound, 2e-5.
    case = KerasCase(
        "sgd-momentum-cosine-decay",
        "SGD",
        dict(momentum=0.9),
        jopt_kwargs=dict(learning_rate=ks.CosineDecay(0.0625, 40, alpha=0.125)),
        keras_kwargs=dict(learning_rate=K.CosineDecay(0.0625, 40, alpha=0.125)),
    )
    with jax.numpy_dtype_promotion("standard"):  # Keras' schedules mix dtypes
        _, max_rel = keras_errors(case, np.float64, steps=60)
    assert max_rel <= tol("lockstep", np.float32), max_rel
    assert callable(jk.schedules.CosineDecay)
