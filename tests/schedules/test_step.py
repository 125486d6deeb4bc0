"""The piecewise and closed-form decays (jopt/schedules/_step.py): StepLR, MultiStepLR,
ConstantLR, LinearLR, ExponentialLR, PolynomialLR and Keras' inverse-time ``decay``,
against torch.optim.lr_scheduler (and Keras) as the oracle."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from torch.optim import lr_scheduler as tl

import jopt.schedules as schedules
from tests.support import torch_lr
from tests.support.tolerances import tol

# id -> (torch scheduler factory (opt, base), jopt schedule factory (base), base rate)
CASES = {
    "step_30": (
        lambda o, b: tl.StepLR(o, step_size=30),
        lambda b: schedules.step_lr(b, step_size=30),
        0.1,
    ),
    "step_7_half": (
        lambda o, b: tl.StepLR(o, step_size=7, gamma=0.5),
        lambda b: schedules.step_lr(b, 7, gamma=0.5),
        1.0,
    ),
    "step_1": (
        lambda o, b: tl.StepLR(o, step_size=1, gamma=0.97),
        lambda b: schedules.step_lr(b, 1, 0.97),
        0.2,
    ),
    "multi_step": (
        lambda o, b: tl.MultiStepLR(o, milestones=[30, 80]),
        lambda b: schedules.multi_step_lr(b, [30, 80]),
        0.1,
    ),
    "multi_step_repeat": (
        lambda o, b: tl.MultiStepLR(o, milestones=[50, 50, 120, 290], gamma=0.5),
        lambda b: schedules.multi_step_lr(b, [50, 50, 120, 290], gamma=0.5),
        1.0,
    ),
    "multi_step_unsorted": (
        lambda o, b: tl.MultiStepLR(o, milestones=[200, 10], gamma=0.3),
        lambda b: schedules.multi_step_lr(b, [200, 10], gamma=0.3),
        0.05,
    ),
    "constant_default": (
        lambda o, b: tl.ConstantLR(o),
        lambda b: schedules.constant_lr(b),
        0.1,
    ),
    "constant_half_100": (
        lambda o, b: tl.ConstantLR(o, factor=0.5, total_iters=100),
        lambda b: schedules.constant_lr(b, factor=0.5, total_iters=100),
        0.3,
    ),
    "linear_default": (
        lambda o, b: tl.LinearLR(o),
        lambda b: schedules.linear_lr(b),
        0.1,
    ),
    "linear_warmup_50": (
        lambda o, b: tl.LinearLR(o, start_factor=0.01, end_factor=1.0, total_iters=50),
        lambda b: schedules.linear_lr(b, start_factor=0.01, end_factor=1.0, total_iters=50),
        0.5,
    ),
    "linear_to_zero": (
        lambda o, b: tl.LinearLR(o, start_factor=1.0, end_factor=0.0, total_iters=200),
        lambda b: schedules.linear_lr(b, start_factor=1.0, end_factor=0.0, total_iters=200),
        0.1,
    ),
    "linear_down_long": (
        lambda o, b: tl.LinearLR(o, start_factor=0.5, end_factor=0.25, total_iters=400),
        lambda b: schedules.linear_lr(b, 0.5, 0.25, 400),
        1.0,
    ),
    "exponential_099": (
        lambda o, b: tl.ExponentialLR(o, gamma=0.99),
        lambda b: schedules.exponential_lr(b, 0.99),
        0.1,
    ),
    "exponential_095": (
        lambda o, b: tl.ExponentialLR(o, gamma=0.95),
        lambda b: schedules.exponential_lr(b, gamma=0.95),
        1.0,
    ),
    "polynomial_default": (
        lambda o, b: tl.PolynomialLR(o),
        lambda b: schedules.polynomial_lr(b),
        0.1,
    ),
    "polynomial_sq_100": (
        lambda o, b: tl.PolynomialLR(o, total_iters=100, power=2.0),
        lambda b: schedules.polynomial_lr(b, total_iters=100, power=2.0),
        0.5,
    ),
    "polynomial_sqrt_250": (
        lambda o, b: tl.PolynomialLR(o, total_iters=250, power=0.5),
        lambda b: schedules.polynomial_lr(b, 250, 0.5),
        1.0,
    ),
    "polynomial_long": (
        lambda o, b: tl.PolynomialLR(o, total_iters=400, power=1.5),
        lambda b: schedules.polynomial_lr(b, 400, 1.5),
        0.1,
    ),
    "inverse_time": (
        lambda o, b: tl.LambdaLR(o, lambda e: 1 / (1 + 0.01 * e)),
        lambda b: schedules.inverse_time_decay(b, decay=0.01),
        0.1,
    ),
    "inverse_time_fast": (
        lambda o, b: tl.LambdaLR(o, lambda e: 1 / (1 + 0.5 * e)),
        lambda b: schedules.inverse_time_decay(b, 0.5),
        1.0,
    ),
}

# Real counts: id -> (torch scheduler (opt), jopt schedule (f applied to the base rate 0.1))
FRACTIONAL = {
    "step": (lambda o: tl.StepLR(o, 4, 0.5), lambda f: schedules.step_lr(f(0.1), 4, 0.5)),
    "multi_step": (
        lambda o: tl.MultiStepLR(o, [5, 12], 0.3),
        lambda f: schedules.multi_step_lr(f(0.1), [5, 12], 0.3),
    ),
    "constant": (
        lambda o: tl.ConstantLR(o, 0.5, 7),
        lambda f: schedules.constant_lr(f(0.1), 0.5, 7),
    ),
    "linear": (
        lambda o: tl.LinearLR(o, 0.2, 1.0, 10),
        lambda f: schedules.linear_lr(f(0.1), 0.2, 1.0, 10),
    ),
    "exponential": (
        lambda o: tl.ExponentialLR(o, 0.9),
        lambda f: schedules.exponential_lr(f(0.1), 0.9),
    ),
    "polynomial": (
        lambda o: tl.PolynomialLR(o, 30, 2.0),
        lambda f: schedules.polynomial_lr(f(0.1), 30, 2.0),
    ),
}

BIG = torch_lr.BIG
# Periods up to int32's max: id -> (schedule, PyTorch's formula in float64)
LARGE = {
    "linear_max": (
        lambda: schedules.linear_lr(0.1, 0.5, 1.0, BIG),
        lambda t: 0.1 * (0.5 + 0.5 * min(t, BIG) / BIG),
    ),
}


@pytest.fixture(scope="session")
def values():
    """Every case of this file, evaluated in one compiled call."""
    return torch_lr.file_values(
        CASES,
        fractional={n: m for n, (_, m) in FRACTIONAL.items()},
        large={n: m for n, (m, _) in LARGE.items()},
    )


@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch(name, values):
    torch_make, _, base = CASES[name]
    torch_lr.assert_lockstep(values[f"lockstep/{name}"], torch_make, base)


@pytest.mark.parametrize("name", list(FRACTIONAL))
def test_fractional_counts_match_torch_epoch_stepping(name, values):
    torch_lr.assert_fractional(values[f"fractional/{name}"], FRACTIONAL[name][0])


@pytest.mark.parametrize("name", list(LARGE))
def test_large_periods_compute_correctly(name, values):
    torch_lr.assert_large(values[f"large/{name}"], LARGE[name][1])


@pytest.mark.slow
def test_inverse_time_decay_matches_keras():
    import keras

    decay, base = 0.02, 0.1
    oracle = keras.optimizers.schedules.InverseTimeDecay(base, decay_steps=1, decay_rate=decay)
    counts = jnp.arange(0, torch_lr.STEPS, 7)
    with jax.numpy_dtype_promotion("standard"):  # Keras mixes dtypes (fine outside strict)
        want = np.asarray(jax.jit(jax.vmap(oracle))(counts), np.float64)
    got = jax.jit(jax.vmap(schedules.inverse_time_decay(base, decay)))(counts)
    # Keras computes in float32: its values are float32 roundings of the exact rates.
    np.testing.assert_allclose(np.asarray(got), want, rtol=tol("schedule", np.float32))


def test_as_optax_sgd_learning_rate_matches_torch_training():
    # torch SGD + StepLR on a quadratic; optax.sgd with the jopt schedule must follow it.
    target = np.array([1.0, -2.0, 3.0])
    p = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.2)
    sched = tl.StepLR(opt, step_size=3, gamma=0.5)
    tx = optax.sgd(schedules.step_lr(0.2, 3, 0.5))
    params = jnp.zeros(3, jnp.float32)
    state = tx.init(params)
    update = jax.jit(tx.update)
    for _ in range(12):
        opt.zero_grad()
        ((p - torch.as_tensor(target)) ** 2).sum().backward()
        opt.step()
        sched.step()
        grads = 2 * (params - jnp.asarray(target, jnp.float32))
        updates, state = update(grads, state)
        params = optax.apply_updates(params, updates)
    torch_lr.assert_close(params, p.detach().numpy(), np.float32)
    assert params.dtype == jnp.float32


def test_inside_optax_inject_hyperparams():
    # inject_hyperparams evaluates the schedule at its own count, as optax schedules are.
    # optax.sgd does not cast an injected rate to the params' dtype: match it (float32).
    sched = schedules.linear_lr(jnp.float32(0.1), 0.5, 1.0, 4)
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=sched)
    state = tx.init(jnp.zeros(2, jnp.float32))
    got = []
    for _ in range(6):
        _, state = tx.update(jnp.ones(2, jnp.float32), state)
        got.append(float(state.hyperparams["learning_rate"]))  # the rate this update used
    want = torch_lr.torch_lrs(lambda o, b: tl.LinearLR(o, 0.5, 1.0, 4), 0.1, 6)
    np.testing.assert_allclose(got, want, rtol=tol("schedule", np.float32))


def test_traced_hyperparameters_are_not_checked():
    # vmap over a negative base rate: a tracer is the caller's responsibility (as in optax).
    out = jax.vmap(lambda b: schedules.step_lr(b, 2)(jnp.int32(0)))(jnp.asarray([0.1, -0.1]))
    np.testing.assert_allclose(out, [0.1, -0.1])
    assert np.isfinite(float(out[0]))


def test_float32_decay_rate_is_not_rounded_to_float32():
    # The closed form at far counts (the inner loop's check; the torch run below is slow):
    # 0.999 rounded to float32 and raised to 9999 would be off by ~2e-4.
    counts = np.asarray([1000, 5000, 9999])
    exponential = schedules.exponential_lr(jnp.float32(1.0), 0.999)
    step = schedules.step_lr(jnp.float32(1.0), 3, 0.999)
    got = jax.jit(lambda c: (jax.vmap(exponential)(c), jax.vmap(step)(c)))(counts)
    for values, exponent in zip(got, (counts, counts // 3), strict=True):
        assert values.dtype == jnp.float32
        np.testing.assert_allclose(values, 0.999**exponent, rtol=tol("schedule", np.float32))


@pytest.mark.slow
def test_float32_long_exponential_decay_stays_accurate():
    # 0.999 rounded to float32 and raised to 10k would be off by ~3e-4; the rate must not be.
    steps = 10_000
    counts = jnp.arange(steps, dtype=jnp.int32)
    want = torch_lr.torch_lrs(lambda o, b: tl.ExponentialLR(o, gamma=0.999), 1.0, steps)
    got = jax.jit(jax.vmap(schedules.exponential_lr(jnp.float32(1.0), 0.999)))(counts)
    assert got.dtype == jnp.float32
    torch_lr.assert_close(got, want, np.float32)
    want = torch_lr.torch_lrs(lambda o, b: tl.StepLR(o, step_size=3, gamma=0.999), 1.0, steps)
    got = jax.jit(jax.vmap(schedules.step_lr(jnp.float32(1.0), 3, 0.999)))(jnp.arange(steps))
    torch_lr.assert_close(got, want, np.float32)


INVALID = [
    (
        lambda: schedules.step_lr(0.1, 0),
        r"jopt\.schedules\.step_lr: step_size=0 is invalid; step_size must be an integer >= 1\.",
    ),
    (lambda: schedules.step_lr(0.1, 2.5), r"step_lr: step_size=2\.5 is invalid"),
    (
        lambda: schedules.step_lr(-0.1, 2),
        r"step_lr: base_lr=-0\.1 is invalid; base_lr must be in \[0, inf\)",
    ),
    (lambda: schedules.step_lr(0.1, 2, gamma=-1.0), r"step_lr: gamma=-1\.0 is invalid"),
    (
        lambda: schedules.multi_step_lr(0.1, [3, -1]),
        r"multi_step_lr: milestones\[1\]=-1 is invalid; milestones\[1\] must be an integer >= 0",
    ),
    (
        lambda: schedules.multi_step_lr(0.1, 5),
        r"multi_step_lr: milestones=5 is invalid; milestones must be a sequence",
    ),
    (
        lambda: schedules.constant_lr(0.1, factor=1.5),
        r"constant_lr: factor=1\.5 is invalid; factor must be in \[0, 1\]",
    ),
    (lambda: schedules.constant_lr(0.1, total_iters=0), r"constant_lr: total_iters=0 is invalid"),
    (
        lambda: schedules.linear_lr(0.1, start_factor=0.0),
        r"linear_lr: start_factor=0\.0 is invalid; start_factor must be in \(0, 1\]",
    ),
    (lambda: schedules.linear_lr(0.1, end_factor=1.2), r"linear_lr: end_factor=1\.2 is invalid"),
    (lambda: schedules.linear_lr(0.1, total_iters=0), r"linear_lr: total_iters=0 is invalid"),
    (lambda: schedules.exponential_lr(0.1, gamma=-0.5), r"exponential_lr: gamma=-0\.5 is invalid"),
    (
        lambda: schedules.polynomial_lr(0.1, total_iters=0),
        r"polynomial_lr: total_iters=0 is invalid",
    ),
    (lambda: schedules.polynomial_lr(0.1, power=-1.0), r"polynomial_lr: power=-1\.0 is invalid"),
    (
        lambda: schedules.inverse_time_decay(0.1, decay=-0.1),
        r"inverse_time_decay: decay=-0\.1 is invalid",
    ),
]


@pytest.mark.parametrize(
    "make, message",
    INVALID,
    ids=[f"{m.split(':')[0].split('.')[-1]}-{i}" for i, (_, m) in enumerate(INVALID)],
)
def test_invalid_configuration_raises(make, message):
    with pytest.raises((TypeError, ValueError), match=message):
        make()


def test_periods_beyond_int32_are_rejected():
    with pytest.raises(ValueError, match=r"step_lr: step_size=1099511627776"):
        schedules.step_lr(0.1, 2**40)
