"""jopt inside optax: chain, schedules, inject_hyperparams, masked/multi_transform."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jopt


def _run(tx, params, grad_fn, steps=5, **kw):
    state = tx.init(params)
    for _ in range(steps):
        u, state = tx.update(grad_fn(params), state, params, **kw)
        params = optax.apply_updates(params, u)
    return params, state


def grad_fn(p):
    return jax.tree.map(lambda x: 3.0 * x - 1.0, p)


PARAMS = {"w": jnp.arange(6.0, dtype=jnp.float32).reshape(2, 3), "b": jnp.ones(3, jnp.float32)}


def test_chain_with_optax_clip_equals_manual_clip():
    tx = optax.chain(optax.clip_by_global_norm(1.0), jopt.adam(0.1))
    got, _ = _run(tx, PARAMS, grad_fn)

    # The same chain with the clip written out by hand.
    def clipped(p):
        g = grad_fn(p)
        norm = jnp.sqrt(sum(jnp.sum(x**2) for x in jax.tree.leaves(g)))
        return jax.tree.map(lambda x: x * jnp.minimum(1.0, 1.0 / norm), g)

    want, _ = _run(jopt.adam(0.1), PARAMS, clipped)
    jopt.testing.assert_trees_close(got, want)


def test_optax_schedule_as_learning_rate():
    sched = optax.exponential_decay(0.1, transition_steps=1, decay_rate=0.5)
    got, state = _run(jopt.gd(sched), PARAMS, grad_fn, steps=3)
    p = PARAMS
    for k in range(3):
        p = jax.tree.map(lambda x, g, k=k: x - 0.1 * 0.5**k * g, p, grad_fn(p))
    jopt.testing.assert_trees_close(got, p)
    np.testing.assert_allclose(float(jopt.get_learning_rate(state)), 0.1 * 0.5**2, rtol=1e-6)


def test_inject_hyperparams_learning_rate_is_live():
    tx = optax.inject_hyperparams(jopt.adam)(learning_rate=0.1)
    state = tx.init(PARAMS)
    u1, state = tx.update(grad_fn(PARAMS), state, PARAMS)
    state.hyperparams["learning_rate"] = jnp.asarray(0.0, jnp.float32)
    u2, state = jax.jit(tx.update)(grad_fn(PARAMS), state, PARAMS)
    ref = jopt.adam(0.1)
    r1, _ = ref.update(grad_fn(PARAMS), ref.init(PARAMS), PARAMS)
    jopt.testing.assert_trees_close(u1, r1)
    assert all(float(jnp.max(jnp.abs(x))) == 0.0 for x in jax.tree.leaves(u2))


def test_inject_hyperparams_sgd_momentum():
    tx = optax.inject_hyperparams(jopt.sgd)(learning_rate=0.1, momentum=0.9, nesterov=True)
    got, _ = _run(tx, PARAMS, grad_fn)
    want, _ = _run(jopt.sgd(0.1, 0.9, nesterov=True), PARAMS, grad_fn)
    jopt.testing.assert_trees_close(got, want)


def test_multi_transform_and_get_learning_rate():
    # Several rates in one state: the first in the state's pytree order is returned,
    # i.e. multi_transform's labels in sorted order (not the order of the params).
    for labels, want in (
        ({"fast": jopt.sgd(0.5), "slow": jopt.rmsprop(0.01)}, 0.5),
        ({"a_slow": jopt.rmsprop(0.01), "b_fast": jopt.sgd(0.5)}, 0.01),
    ):
        fast, slow = sorted(labels, key=lambda k: "fast" not in k)
        for param_labels in ({"w": fast, "b": slow}, {"w": slow, "b": fast}):
            _, state = _run(optax.multi_transform(labels, param_labels), PARAMS, grad_fn, steps=2)
            assert float(jopt.get_learning_rate(state)) == want, (labels, param_labels)


def test_get_learning_rate_of_a_chain_is_its_first_rate():
    for first, second in ((0.5, 0.25), (0.25, 0.5)):
        tx = optax.chain(jopt.sgd(first), jopt.scale_by_learning_rate(second))
        _, state = _run(tx, PARAMS, grad_fn, steps=1)
        assert float(jopt.get_learning_rate(state)) == first


def test_get_learning_rate_through_inject_and_chain():
    tx = optax.chain(optax.clip(1.0), jopt.adam(lambda c: 0.1 * (c.astype(jnp.float32) + 1.0)))
    _, state = _run(tx, PARAMS, grad_fn, steps=4)
    np.testing.assert_allclose(float(jopt.get_learning_rate(state)), 0.4, rtol=1e-6)
    state0 = tx.init(PARAMS)  # before any update: the rate the first update will use
    np.testing.assert_allclose(float(jopt.get_learning_rate(state0)), 0.1, rtol=1e-6)


def test_jopt_adam_matches_optax_adam_in_float32():
    got, _ = _run(jopt.adam(0.05), PARAMS, grad_fn, steps=20)
    with jax.numpy_dtype_promotion("standard"):  # optax.adam is not strict-clean
        want, _ = _run(optax.adam(0.05), PARAMS, grad_fn, steps=20)
    jopt.testing.assert_trees_close(got, want)
