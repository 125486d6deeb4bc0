"""jopt.asgd against PyTorch's ASGD written out in NumPy (float64): the step, its decaying
η_t and the average ax; the checks."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jopt
from tests.support.trajectory import assert_steps_close


def numpy_asgd(x, grads, lr, lambd, alpha, t0):
    """PyTorch's ASGD step by step (η, μ as it computes them), written out in NumPy."""
    eta, mu, ax, out = lr(0), 1.0, np.zeros_like(x), []
    for t, g in enumerate(grads, start=1):
        x = x * (1 - lambd * eta) - eta * g
        ax = x.copy() if mu == 1 else ax + (x - ax) * mu
        out.append((x, ax, eta))
        eta = lr(t - 1) / (1 + lambd * lr(t - 1) * t) ** alpha
        mu = 1 / max(1, t - t0)
    return out


@pytest.mark.parametrize("scheduled", [False, True], ids=["constant", "step-schedule"])
def test_asgd_matches_the_formula(scheduled):
    rng = np.random.default_rng(1)
    grads = [rng.normal(size=5) for _ in range(25)]
    x0 = rng.normal(size=5)
    lr = (lambda c: 0.1 * 0.5 ** (c // 4)) if scheduled else (lambda c: 0.1)
    expected = numpy_asgd(x0, grads, lr, lambd=0.05, alpha=0.6, t0=3.0)
    rate = jopt.schedules.step_lr(0.1, 4, 0.5) if scheduled else 0.1
    tx = jopt.asgd(rate, lambd=0.05, alpha=0.6, t0=3.0)

    @jax.jit
    def step(x, state, g):
        updates, state = tx.update(g, state, x)
        x = optax.apply_updates(x, updates)
        return x, state, jopt.averaged_params(state), jopt.get_learning_rate(state)

    x, state, path = jnp.asarray(x0), tx.init(jnp.asarray(x0)), []
    for g in grads:
        x, state, ax, eta = step(x, state, jnp.asarray(g))
        path.append((np.asarray(x), np.asarray(ax), float(eta)))
    for i in range(2):  # the iterates, then their average
        assert_steps_close(np.stack([p[i] for p in path]), np.stack([e[i] for e in expected]))
    for t, (p, e) in enumerate(zip(path, expected, strict=True)):
        assert p[2] == pytest.approx(e[2], rel=1e-15), f"η at step {t + 1}"


def test_state_records_eta_and_the_average():
    tx = jopt.asgd(0.5, lambd=0.0, t0=0.0)
    state = tx.init({"w": jnp.zeros(2)})
    assert isinstance(state[0], jopt.ScaleByScheduleState)
    assert isinstance(state[1], jopt.AsgdAverageState)
    np.testing.assert_array_equal(jopt.averaged_params(state)["w"], [0.0, 0.0])  # as torch's ax


def test_asgd_needs_params():
    tx = jopt.asgd()
    with pytest.raises(ValueError, match="jopt.asgd: update\\(\\) needs params"):
        tx.update(jnp.ones(2), tx.init(jnp.zeros(2)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lambd=-1.0), r"jopt.asgd: lambd=-1.0 .* \[0, inf\)"),
        (dict(alpha=float("nan")), r"jopt.asgd: alpha=nan"),
        (dict(t0="10"), r"jopt.asgd: t0='10' is invalid; t0 must be a real number"),
        (dict(learning_rate=-1.0), r"learning_rate=-1.0"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        jopt.asgd(**kwargs)
