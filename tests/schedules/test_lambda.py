"""Schedules of a user function (jopt/schedules/_lambda.py): LambdaLR and MultiplicativeLR,
against torch.optim.lr_scheduler as the oracle."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from torch.optim import lr_scheduler as tl

import jopt
import jopt.schedules as schedules
from jopt import scale_by_learning_rate
from tests.support import torch_lr
from tests.support.tolerances import tol

# id -> (torch scheduler factory (opt, base), jopt schedule factory (base), base rate)
CASES = {
    "lambda_pow": (
        lambda o, b: tl.LambdaLR(o, lambda e: 0.95**e),
        lambda b: schedules.lambda_lr(b, lambda k: 0.95 ** k.astype(float)),
        0.1,
    ),
    "lambda_warmup_decay": (
        lambda o, b: tl.LambdaLR(o, lambda e: (e + 1) / 10 if e < 10 else 0.98 ** (e - 10)),
        lambda b: schedules.lambda_lr(
            b,
            lambda k: jnp.where(
                k < 10, (k + 1).astype(float) / 10, 0.98 ** jnp.maximum(k - 10, 0).astype(float)
            ),
        ),
        0.5,
    ),
    "multiplicative_const": (
        lambda o, b: tl.MultiplicativeLR(o, lambda e: 0.99),
        lambda b: schedules.multiplicative_lr(b, lambda k: 0.99),
        0.1,
    ),
    "multiplicative_every10": (
        lambda o, b: tl.MultiplicativeLR(o, lambda e: 0.9 if e % 10 == 0 else 1.0),
        lambda b: schedules.multiplicative_lr(b, lambda k: jnp.where(k % 10 == 0, 0.9, 1.0)),
        1.0,
    ),
    "multiplicative_varying": (
        lambda o, b: tl.MultiplicativeLR(o, lambda e: 1.0 - 0.003 * (e % 5)),
        lambda b: schedules.multiplicative_lr(b, lambda k: 1.0 - 0.003 * (k % 5).astype(float)),
        0.3,
    ),
}


@pytest.fixture(scope="session")
def values():
    """Every case of this file, evaluated in one compiled call."""
    return torch_lr.file_values(CASES)


@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch(name, values):
    torch_make, _, base = CASES[name]
    torch_lr.assert_lockstep(values[f"lockstep/{name}"], torch_make, base)


def _counted_factor(calls):
    """A MultiplicativeLR factor that records every evaluation (at run time, under jit)."""

    def factor(k):
        jax.debug.callback(lambda k: calls.append(int(k)), k)
        return jnp.where(k % 3 == 0, 0.5, 0.99)

    return factor


@pytest.mark.parametrize("base", [0.1, np.float32(0.1)], ids=["float64", "float32"])
def test_multiplicative_lr_costs_one_factor_call_per_update(base):
    # The rate was a product over 1..count at every update, O(count) (3.6 ms at count 1e6).
    # As PyTorch's, a jopt optimizer advances it from the last rate: one factor call per
    # update, no loop, the same rates as the schedule called pointwise.
    calls, steps = [], 40
    sched = schedules.multiplicative_lr(jnp.asarray(base), _counted_factor(calls))
    # The rates pointwise (a loop over 1..k each), for the comparison only: not counted.
    plain = schedules.multiplicative_lr(
        jnp.asarray(base), lambda k: jnp.where(k % 3 == 0, 0.5, 0.99)
    )
    want = jax.jit(jax.vmap(plain))(jnp.arange(steps, dtype=jnp.int32))
    for tx in (scale_by_learning_rate(sched), jopt.adam(sched, eps=0.0)):
        state = tx.init(jnp.zeros(2, jnp.float32))
        update = jax.jit(tx.update)
        jaxpr = str(jax.make_jaxpr(tx.update)(jnp.ones(2, jnp.float32), state))
        assert "while" not in jaxpr  # no loop over the count in the step
        jax.effects_barrier()
        calls.clear()
        rates = []
        for _ in range(steps):
            _, state = update(jnp.ones(2, jnp.float32), state)
            rates.append(jopt.get_learning_rate(state))
        jax.effects_barrier()
        assert len(calls) == steps  # was 0 + 1 + ... + 39 = 780
        np.testing.assert_array_equal(np.asarray(rates), np.asarray(want, np.float64))
    # The pointwise schedule still evaluates the product: count calls.
    calls.clear()
    sched(jnp.int32(7))
    jax.effects_barrier()
    assert sorted(calls) == list(range(1, 8))


def test_multiplicative_lr_in_an_optimizer_matches_torch():
    # The recurrence multiplies as PyTorch does (lr * lr_lambda(k)): float64 rates equal.
    want = torch_lr.torch_lrs(
        lambda o, b: tl.MultiplicativeLR(o, lambda e: 1.0 - 0.003 * (e % 5)), 0.3
    )
    sched = schedules.multiplicative_lr(0.3, lambda k: 1.0 - 0.003 * (k % 5).astype(float))
    tx = scale_by_learning_rate(sched)
    state = tx.init(jnp.zeros(1))
    update = jax.jit(tx.update)
    got = []
    for _ in range(torch_lr.STEPS):
        _, state = update(jnp.ones(1), state)
        got.append(float(jopt.get_learning_rate(state)))
    np.testing.assert_allclose(got, want, rtol=tol("schedule"))


INVALID = [
    (
        lambda: schedules.lambda_lr(0.1, 0.9),
        r"lambda_lr: lr_lambda=0\.9 is invalid; lr_lambda must be a function",
    ),
    (
        lambda: schedules.multiplicative_lr(0.1, None),
        r"multiplicative_lr: lr_lambda=None is invalid",
    ),
]


@pytest.mark.parametrize("make, message", INVALID, ids=["lambda_lr", "multiplicative_lr"])
def test_invalid_configuration_raises(make, message):
    with pytest.raises((TypeError, ValueError), match=message):
        make()
