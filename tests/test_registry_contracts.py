"""Contract tests over the registry (every public transformation factory and the listed
configurations, tests/support/registry.py): jopt.testing's checks, on a mesh too, vmap over
learning rates, convergence, the inject_hyperparams layout, optax.apply_if_finite."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jopt
from tests.support.registry import CASES, EXCLUDED, HOMES, discover

IDS = [c.name for c in CASES]
HOME_IDS = [c.name for c in HOMES]
HOME_NAMES = set(HOME_IDS)
# 8 virtual CPU devices (conftest.py); jopt.testing shards the mixed tree over it:
# w over both axes, f over "data", b (odd-sized) and s (a scalar) replicated.
MESH = jax.make_mesh((2, 4), ("data", "model"))


@functools.cache  # built once: every test of every case starts from it (arrays are immutable)
def mixed_tree():
    """Params and grads in every float dtype, including a scalar leaf."""
    k = jax.random.split(jax.random.key(0), 4)
    params = {
        "w": jax.random.normal(k[0], (4, 4), jnp.float32),
        "b": jax.random.normal(k[1], (5,), jnp.bfloat16),
        "f": jax.random.normal(k[2], (2, 2), jnp.float16),
        "s": jnp.asarray(0.7, jnp.float64),
    }
    grads = jax.tree.map(lambda p: (0.5 * p + 0.1).astype(p.dtype), params)
    return params, grads


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_contract_with_a_schedule_on_a_mesh(case):
    # The registry-wide contract, once per case: an int32 count, jit = eager, donation,
    # dtypes, and (one case per rule home) on a mesh the state placed as state_shardings
    # says, compiled once; every case's own placement on a mesh is checked by
    # tests/test_registry_mesh.py (ZeRO-1 on Explicit axes, init on Auto axes).
    # Each step records the rate of its count, lr·0.5^(k // 2).
    params, grads = mixed_tree()
    extra = {"value": jnp.asarray(1.0)} if case.needs_value else {}
    schedule = jopt.schedules.step_lr(case.lr, step_size=2, gamma=0.5)
    tx = case.make(schedule)
    mesh = MESH if case.name in HOME_NAMES else None
    jopt.testing.check_transformation(
        tx, params, grads, steps=3, require_count=True, mesh=mesh, **extra
    )
    # With Keras' gradient_accumulation_steps=n the params move at every n-th call only,
    # and the schedule is evaluated at the calls (Keras' optimizer._iterations): the rate
    # recorded is that of the call of the last update (the first's, before any).
    n = case.kwargs.get("gradient_accumulation_steps") or 1
    state = tx.init(params)
    rate = lambda k: case.lr * 0.5 ** (k // 2)  # noqa: E731
    for k in range(5):
        _, state = tx.update(grads, state, params, **extra)
        last = max(n * ((k + 1) // n), n) - 1
        want = rate(last) if case.recorded_rate is None else case.recorded_rate(rate, last)
        assert float(jopt.get_learning_rate(state)) == pytest.approx(want)


@pytest.mark.slow  # a composition, per case: outside the inner loop
@pytest.mark.parametrize("case", HOMES, ids=HOME_IDS)
def test_contract_with_a_constant_rate(case):
    # A constant rate keeps another layout (no count): its own contract, off the mesh.
    params, grads = mixed_tree()
    extra = {"value": jnp.asarray(1.0)} if case.needs_value else {}
    jopt.testing.check_transformation(case.make(case.lr), params, grads, steps=3, **extra)


@pytest.mark.slow  # a composition, per case: outside the inner loop
@pytest.mark.parametrize("case", HOMES, ids=HOME_IDS)
def test_vmap_over_learning_rates(case):
    params = {
        "w": jnp.linspace(-1.0, 1.0, 6, dtype=jnp.float64).reshape(2, 3),
        "b": jnp.ones(3, jnp.float64),
        "f": jnp.ones(2, jnp.float64),
        "s": jnp.asarray(0.5, jnp.float64),
    }
    grads = jax.tree.map(lambda p: 2.0 * p + 0.1, params)
    extra = {"value": jnp.asarray(1.0)} if case.needs_value else {}
    values = [case.lr, 0.5 * case.lr, 0.25 * case.lr]
    jopt.testing.check_vmap(case.make, params, grads, values, **extra)


@pytest.mark.slow  # a composition, per case: outside the inner loop
@pytest.mark.parametrize("case", HOMES, ids=HOME_IDS)
def test_converges_on_a_quadratic(case):
    scale = jnp.asarray([1.0, 4.0, 0.5], jnp.float64)

    def loss(p):
        sign = -1.0 if case.maximize else 1.0  # the maximize case climbs −E
        return sign * sum(jnp.sum(scale * (x - 1.0) ** 2) for x in jax.tree.leaves(p))

    params = {k: jnp.zeros(3, jnp.float64) for k in "wbfs"}
    tx = case.make(case.lr)

    @jax.jit
    def step(p, s):
        extra = {"value": loss(p)} if case.needs_value else {}
        u, s = tx.update(jax.grad(loss)(p), s, p, **extra)
        return optax.apply_updates(p, u), s

    state = tx.init(params)
    for _ in range(300):
        params, state = step(params, state)
    # decay / masked decay pull slightly towards 0; everything else reaches 1
    for leaf in jax.tree.leaves(params):
        np.testing.assert_allclose(np.asarray(leaf), 1.0, atol=0.05)


def test_registry_covers_every_public_transform():
    covered = {c.factory for c in CASES}
    missing = {n for n, f in discover().items() if f not in covered} - set(EXCLUDED)
    assert not missing, f"not in tests/support/registry.py: {sorted(missing)}"


def test_registry_discovers_a_new_factory():
    # A public factory added to an __all__ is found without an edit to the registry.
    def fresh(learning_rate: float = 0.1) -> optax.GradientTransformationExtraArgs:
        return jopt.sgd(learning_rate)

    jopt.fresh = fresh  # type: ignore[attr-defined]
    jopt.__all__.append("fresh")
    try:
        assert discover()["jopt.fresh"] is fresh
    finally:
        jopt.__all__.remove("fresh")
        del jopt.fresh  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "make, values",
    [
        (lambda b: jopt.adam(0.05, b1=b), [0.0, 0.5, 0.9]),
        (lambda b: jopt.adamw(0.05, b2=b), [0.9, 0.99, 0.999]),
        (lambda b: jopt.momentum(0.1, beta=b), [0.0, 0.5, 0.9]),
        (lambda b: jopt.nesterov(0.1, beta=b), [0.0, 0.5, 0.9]),
        (lambda m: jopt.sgd(0.1, momentum=m, nesterov=True), [0.1, 0.5, 0.9]),
        (lambda r: jopt.rmsprop(0.01, rho=r, centered=True), [0.5, 0.9, 0.99]),
        (lambda e: jopt.adagrad(0.1, eps=e), [0.0, 1e-3, 1e-1]),
        (lambda w: jopt.adamw(0.05, weight_decay=w), [0.0, 1e-2, 1e-1]),
    ],
    ids=[
        "adam-b1",
        "adamw-b2",
        "momentum-beta",
        "nesterov-beta",
        "sgd-momentum",
        "rmsprop-rho",
        "adagrad-eps",
        "adamw-wd",
    ],
)
def test_vmap_over_other_hyperparameters(make, values):
    params = {"w": jnp.linspace(-1.0, 1.0, 6, dtype=jnp.float64).reshape(2, 3)}
    grads = jax.tree.map(lambda p: 2.0 * p + 0.1, params)
    jopt.testing.check_vmap(make, params, grads, values)


def _layout(tree):
    return jax.tree.structure(tree), [
        (jnp.shape(x), jnp.asarray(x).dtype) for x in jax.tree.leaves(tree)
    ]


def _without_injection(state):
    kind = optax.InjectStatefulHyperparamsState
    return jax.tree.map(
        lambda s: _without_injection(s.inner_state) if isinstance(s, kind) else s,
        state,
        is_leaf=lambda s: isinstance(s, kind),
    )


# optax.inject_hyperparams calls a factory with keywords: jopt.chain takes its transforms
# positionally, as optax.chain does.
INJECTABLE = [c for c in CASES if c.factory is not jopt.chain]


@pytest.mark.parametrize("case", INJECTABLE, ids=[c.name for c in INJECTABLE])
def test_inject_hyperparams_keeps_the_plain_layout(case):
    # optax.inject_hyperparams turns every numeric argument (defaults included) into an
    # array: a feature the caller did not ask for must still keep no state.
    params, _ = mixed_tree()
    plain = case.make(case.lr).init(params)
    inject = lambda f: optax.inject_hyperparams(f, hyperparam_dtype=jnp.float64)  # noqa: E731
    injected = case.build(inject, case.lr).init(params)
    inner = _without_injection(injected)
    assert _layout(inner) == _layout(plain)


@pytest.mark.slow  # a composition, per case: outside the inner loop
@pytest.mark.parametrize("case", HOMES, ids=HOME_IDS)
def test_apply_if_finite_skips_a_nan_step(case):
    params, grads = mixed_tree()
    extra = {"value": jnp.asarray(1.0)} if case.needs_value else {}
    tx = optax.apply_if_finite(case.make(case.lr), max_consecutive_errors=5)
    update = jax.jit(tx.update)  # one compile for both steps (an eager lax.cond compiles)
    state = tx.init(params)
    _, state = update(grads, state, params, **extra)
    bad = jax.tree.map(lambda g: jnp.full_like(g, jnp.nan), grads)
    updates, after = update(bad, state, params, **extra)
    for u in jax.tree.leaves(updates):
        assert not np.any(np.asarray(u, np.float64)), "a NaN step must not move the params"
    jopt.testing.assert_trees_close(after.inner_state, state.inner_state, "state after NaN step")
    assert int(after.notfinite_count) == 1 and int(after.total_notfinite) == 1
