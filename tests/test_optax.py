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


def test_jopt_adam_matches_optax_adam_in_float32():
    got, _ = _run(jopt.adam(0.05), PARAMS, grad_fn, steps=20)
    with jax.numpy_dtype_promotion("standard"):  # optax.adam is not strict-clean
        want, _ = _run(optax.adam(0.05), PARAMS, grad_fn, steps=20)
    jopt.testing.assert_trees_close(got, want)
