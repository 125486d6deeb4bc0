"""jopt.kahan_summation against Algorithm 2 of Zamirai et al. 2020 written out in NumPy
(every operation an ml_dtypes bfloat16 operation: rounded to nearest), fed the same
updates; the stall of plain bfloat16 it removes; its place after optax's and jopt's Adam."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import optax
import pytest

import jopt

BF16 = ml_dtypes.bfloat16


def kahan_numpy(w: np.ndarray, updates: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    """Algorithm 2 in bfloat16 arithmetic: y = u − c, s = w + y, c = (s − w) − y, w = s."""
    w, c, out = w.astype(BF16), np.zeros(w.shape, BF16), []
    for u in updates:
        y = u.astype(BF16) - c
        s = w + y
        c = (s - w) - y
        w = s
        out.append(w.copy())
    return out, c


def bits(x) -> np.ndarray:
    return np.asarray(x).view(np.uint16)


@pytest.mark.parametrize("scale", [1e-4, 3e-3, 0.3])
def test_it_is_algorithm_2(scale):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3, 4)).astype(BF16)
    updates = [(rng.standard_normal((3, 4)) * scale).astype(BF16) for _ in range(7)]
    theirs, c_theirs = kahan_numpy(w, updates)
    tx = jopt.kahan_summation()
    params = {"w": jnp.asarray(w), "b": jnp.ones(4, jnp.float32)}
    state, step = tx.init(params), jax.jit(tx.update)
    for u, want in zip(updates, theirs, strict=True):
        grads = {"w": jnp.asarray(u), "b": jnp.full(4, 0.25, jnp.float32)}
        out, state = step(grads, state, params)
        params = optax.apply_updates(params, out)
        np.testing.assert_array_equal(bits(params["w"]), bits(want))
        np.testing.assert_array_equal(out["b"], grads["b"])  # passes unchanged
    np.testing.assert_array_equal(bits(state.compensation["w"]), bits(c_theirs))
    assert state.compensation["b"] == optax.MaskedNode()


def test_small_updates_accumulate_where_plain_bfloat16_stalls():
    params, u = jnp.ones(1, jnp.bfloat16), jnp.full(1, 1e-4, jnp.bfloat16)
    tx = jopt.kahan_summation()

    def step(carry, _):
        p, state = carry
        out, state = tx.update(u, state, p)
        return (optax.apply_updates(p, out), state), None

    (kahan, _), _ = jax.lax.scan(step, (params, tx.init(params)), length=1000)
    plain = jax.lax.fori_loop(0, 1000, lambda _, p: optax.apply_updates(p, u), params)
    theirs, _ = kahan_numpy(np.ones(1), [np.full(1, 1e-4)] * 1000)
    assert float(plain[0]) == 1.0
    np.testing.assert_array_equal(bits(kahan), bits(theirs[-1]))
    # 1 + 1000·bf16(1e-4) = 1.1000, within a bfloat16 step (2⁻⁷ at 1.1)
    assert abs(float(kahan[0]) - 1.1) <= 2.0**-7


@pytest.mark.parametrize("inner", ["jopt.adam", "optax.adam"])
def test_after_adam(inner):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((3, 4)).astype(BF16)
    params = {"w": jnp.asarray(w)}
    grads = [{"w": jnp.asarray(rng.standard_normal((3, 4)), jnp.bfloat16)} for _ in range(5)]
    adam = jopt.adam(1e-3) if inner == "jopt.adam" else optax.adam(1e-3)
    tx = optax.chain(adam, jopt.kahan_summation())
    with jax.numpy_dtype_promotion("standard"):  # optax.adam mixes dtypes
        state, inner_state, inner_updates = tx.init(params), adam.init(params), []
        for g in grads:  # eager both: the same numbers for the inner updates
            u, inner_state = adam.update(g, inner_state, params)
            out, state = tx.update(g, state, params)
            params = optax.apply_updates(params, out)
            inner_updates.append(np.asarray(u["w"]))
    theirs, c_theirs = kahan_numpy(w, inner_updates)
    np.testing.assert_array_equal(bits(params["w"]), bits(theirs[-1]))
    np.testing.assert_array_equal(bits(state[1].compensation["w"]), bits(c_theirs))


def test_the_contract():
    params = {"w": jnp.ones((2, 3), jnp.bfloat16), "b": jnp.zeros(3, jnp.float32)}
    grads = {"w": jnp.full((2, 3), 0.5, jnp.bfloat16), "b": jnp.ones(3, jnp.float32)}
    jopt.testing.check_transformation(
        jopt.chain(jopt.adam(1e-2), jopt.kahan_summation()), params, grads
    )


def test_bad_input_is_refused_naming_the_call():
    tx = jopt.kahan_summation()
    params = {"w": jnp.ones(3, jnp.bfloat16)}
    with pytest.raises(ValueError, match=r"^jopt\.kahan_summation: update\(\) needs params"):
        tx.update(params, tx.init(params))
    with pytest.raises(TypeError, match=r"^jopt\.kahan_summation: init\(\) got the parameter"):
        tx.init({"w": jnp.ones(3, jnp.int32)})
    with pytest.raises(ValueError, match=r"^jopt\.kahan_summation: the gradient tree"):
        tx.update({"v": jnp.ones(3, jnp.bfloat16)}, tx.init(params), params)
