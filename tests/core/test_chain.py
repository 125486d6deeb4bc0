"""The compute-dtype chain (jopt/_core/chain.py): inner updates in the compute dtype, the
result cast back to the gradients' dtypes only after the last transform."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jopt
from jopt._core.chain import chain, in_compute_dtype

F16, BF16, F32 = jnp.float16, jnp.bfloat16, jnp.float32


def test_inner_updates_run_in_the_compute_dtype_and_leave_in_the_gradients():
    seen = []

    def record(updates, state, params=None):
        del params
        seen.append({k: v.dtype for k, v in updates.items()})
        return updates, state

    inner = optax.GradientTransformation(lambda p: optax.EmptyState(), record)
    grads = {"h": jnp.ones(2, F16), "b": jnp.ones(2, BF16), "f": jnp.ones(2, F32)}
    tx = in_compute_dtype(inner)
    out, state = tx.update(grads, tx.init(grads))
    assert seen == [{"h": F32, "b": F32, "f": F32}]
    assert {k: v.dtype for k, v in out.items()} == {"h": F16, "b": BF16, "f": F32}
    assert state == optax.EmptyState()


def test_chain_keeps_optax_chains_state_and_rebuilds_an_alias():
    params = {"w": jnp.linspace(-1.0, 1.0, 6, dtype=F32).reshape(2, 3)}
    grads = {"w": jnp.asarray([[0.5, -2.0, 1.0], [0.0, 3.0, -0.1]], F32)}
    by_hand = chain(jopt.scale_by_adam(), jopt.scale_by_learning_rate(0.1))
    alias = jopt.adam(0.1)
    s1, s2 = by_hand.init(params), alias.init(params)
    assert jax.tree.structure(s1) == jax.tree.structure(
        optax.chain(jopt.scale_by_adam(), jopt.scale_by_learning_rate(0.1)).init(params)
    )
    for _ in range(2):
        u1, s1 = by_hand.update(grads, s1, params)
        u2, s2 = alias.update(grads, s2, params)
        jopt.testing.assert_trees_close((u1, s1), (u2, s2), "chain vs jopt.adam")


def test_float16_learning_rate_is_applied_before_the_cast():
    # PyTorch's buffer b_t = Σ 0.99^k g grows to 5.9e5 > float16's 65 504; −α b_t does not.
    tx = jopt.sgd(1e-3, momentum=0.99)
    g = jnp.full(2, 6e4, F16)
    state = tx.init(jnp.zeros(2, F16))
    for _ in range(12):
        updates, state = tx.update(g, state)
    b = sum(0.99**k for k in range(12)) * float(g[0])
    assert b > 65504
    np.testing.assert_allclose(np.asarray(updates, np.float64), -1e-3 * b, rtol=1e-3)
