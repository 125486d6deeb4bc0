"""jopt.stochastic_rounding against torchao's ``_fp32_to_bf16_sr`` fed the same random
bits (torch.randint replaced by the documented stream), the landing of its updates under
optax.apply_updates, its unbiasedness, and its place after optax's and jopt's Adam."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from torchao.optim import quant_utils

import jopt
from jopt._algorithms.precision.landing import landing_update
from jopt._algorithms.precision.stochastic_rounding import round_stochastically


def torchao_sr(x: np.ndarray, bits: np.ndarray, monkeypatch) -> np.ndarray:
    """torchao's rounding of float32 ``x``, its torch.randint returning ``bits``."""

    def randint(low, high, size, **kwargs):
        assert (low, high, tuple(size)) == (0, 1 << 16, np.shape(x))
        return torch.from_numpy(bits.astype(np.int32))

    with monkeypatch.context() as m:
        m.setattr(torch, "randint", randint)
        out = quant_utils._fp32_to_bf16_sr(torch.from_numpy(np.array(x, np.float32)))
    return out.view(torch.int16).numpy().view(np.uint16)


def bf16_bits(x) -> np.ndarray:
    return np.asarray(x).view(np.uint16)


def assert_rounded_as(new, want, p, u):
    """``new`` is ``want`` (torchao's rounding of x = p + u) bit for bit where |u| <= |p|;
    where a bfloat16 u exceeds p, apply_updates may not reach ``want`` (see
    landing_update) and ``new`` must still be a bfloat16 neighbour of x."""
    new_bits = bf16_bits(new)
    want_bits = np.asarray(want).reshape(new_bits.shape)
    p32, u32 = np.asarray(p, np.float32), np.asarray(u, np.float32)
    small = np.abs(u32) <= np.abs(p32)
    np.testing.assert_array_equal(new_bits[small], want_bits[small])
    toward_zero = ((p32 + u32).view(np.uint32) >> 16).astype(np.int64)
    assert set(np.unique(new_bits.astype(np.int64) - toward_zero)) <= {0, 1}


def documented_bits(seed: int, steps: int, shapes: list[tuple[int, ...]]) -> list[list[np.ndarray]]:
    """The stream the docstring of jopt.stochastic_rounding promises."""
    key, out = jax.random.key(seed), []
    for _ in range(steps):
        key, step_key = jax.random.split(key)
        out.append(
            [
                np.asarray(jax.random.bits(jax.random.fold_in(step_key, i), s, jnp.uint16))
                for i, s in enumerate(shapes)
            ]
        )
    return out


def test_the_rounding_is_torchaos_on_the_same_bits(monkeypatch):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(4000) * 10.0 ** rng.integers(-30, 30, 4000)).astype(np.float32)
    pattern = x.view(np.uint32)
    # low halves 0 (exact bfloat16), 1, 0x8000 and 0xFFFF (a carry into the exponent),
    # signed zeros, the largest finite float32, infinities
    pattern[:8] = (pattern[:8] & 0xFFFF0000) | np.uint32([0, 1, 0x8000, 0xFFFF] * 2)
    x[8:14] = [0.0, -0.0, np.finfo(np.float32).max, -np.finfo(np.float32).max, np.inf, -np.inf]
    bits = rng.integers(0, 1 << 16, x.shape).astype(np.uint32)
    bits[:8] = [0, 1, 0x7FFF, 0xFFFF, 0xFFFF, 0, 0x8000, 0xFFFE]
    bits[14:20] = pattern[14:20] & 0xFFFF  # equal to the low half: toward zero
    ours = jax.jit(round_stochastically)(x, bits)
    assert ours.dtype == jnp.bfloat16
    np.testing.assert_array_equal(bf16_bits(ours), torchao_sr(x, bits, monkeypatch))


@pytest.mark.parametrize("update_dtype", [jnp.bfloat16, jnp.float32])
def test_updates_land_apply_updates_on_the_rounded_value(update_dtype):
    # every bfloat16 p with exponents -8..8, both signs, and updates from far below its
    # last bit to far above it: apply_updates(p, u') is the rounded p + u except where
    # p + u nearly cancels p (no update of that dtype lands there)
    mantissas = np.arange(128, dtype=np.uint16)
    exponents = np.arange(127 - 8, 127 + 9, dtype=np.uint16)
    ps = ((exponents[:, None] << 7) | mantissas[None, :]).reshape(-1)
    ps = np.concatenate([ps, ps | np.uint16(0x8000)]).view(jnp.bfloat16)
    p = np.repeat(ps, 11)
    scale = np.tile([1e-5, 1e-3, 0.004, 0.3, 0.9, 1.0, 7.0, -0.3, -0.7, -1.0, -0.999], ps.size)
    u = (p.astype(np.float32) * scale.astype(np.float32)).astype(update_dtype)
    bits = np.random.default_rng(1).integers(0, 1 << 16, p.shape).astype(np.uint32)

    @jax.jit
    def run(p, u, bits):
        target = round_stochastically(p.astype(jnp.float32) + u.astype(jnp.float32), bits)
        return target, optax.apply_updates(p, landing_update(p, target, jnp.dtype(u.dtype)))

    with jax.numpy_dtype_promotion("standard"):  # a bfloat16 p plus a float32 u
        target, landed = run(jnp.asarray(p), jnp.asarray(u), bits)
    missed = bf16_bits(landed) != bf16_bits(target)
    if update_dtype == jnp.float32:
        assert not np.any(missed)
        return
    # A bfloat16 u can miss only when it exceeds p: the sum's spacing is then coarser than
    # p's, and with p halfway between two of its values round-to-even reaches every other
    # one. It lands on the other neighbour of p + u then (rarely: under 1%).
    assert np.all(np.abs(scale[missed]) > 1) and missed.mean() < 0.01
    x = np.asarray(p, np.float32) + np.asarray(u, np.float32)
    toward_zero = (x.view(np.uint32) >> 16).astype(np.int64)
    step = bf16_bits(landed).astype(np.int64) - toward_zero
    assert set(np.unique(step[missed])) <= {0, 1}


def test_steps_are_torchaos_rounding_of_p_plus_u_on_the_documented_stream(monkeypatch):
    rng = np.random.default_rng(2)
    params = {
        "w": jnp.asarray(rng.standard_normal((3, 4)), jnp.bfloat16),
        "b": jnp.asarray(rng.standard_normal(4), jnp.float32),  # passes unchanged
        "s": jnp.asarray(1.5, jnp.bfloat16),
    }
    updates = [
        jax.tree.map(lambda p: jnp.asarray(rng.standard_normal(p.shape) * 3e-3, p.dtype), params)
        for _ in range(4)
    ]
    tx = jopt.stochastic_rounding(seed=7)
    step = jax.jit(tx.update)
    leaves = jax.tree.leaves(params)
    streams = documented_bits(7, len(updates), [jnp.shape(x) for x in leaves])
    state = tx.init(params)
    for u, stream in zip(updates, streams, strict=True):
        out, state = step(u, state, params)
        assert jax.tree.map(lambda a: a.dtype, out) == jax.tree.map(lambda a: a.dtype, u)
        new = optax.apply_updates(params, out)
        np.testing.assert_array_equal(new["b"], params["b"] + u["b"])
        for name, i in (("s", 1), ("w", 2)):  # leaf i of jax.tree.leaves: b, s, w
            x = np.asarray(params[name], np.float32) + np.asarray(u[name], np.float32)
            want = torchao_sr(x, stream[i].astype(np.uint32), monkeypatch)
            assert_rounded_as(new[name], want, params[name], u[name])
        params = new


def test_it_is_unbiased_where_round_to_nearest_stalls():
    n, steps = 4096, 20
    params = jnp.ones(n, jnp.bfloat16)
    tx = optax.chain(optax.sgd(1.0), jopt.stochastic_rounding(seed=3))
    grad = jnp.full(n, -(2.0**-10), jnp.bfloat16)  # an eighth of the bfloat16 step at 1

    def step(carry, _):
        p, state = carry
        u, state = tx.update(grad, state, p)
        return (optax.apply_updates(p, u), state), None

    (p, _), _ = jax.lax.scan(step, (params, tx.init(params)), length=steps)
    plain = params
    for _ in range(steps):
        plain = optax.apply_updates(plain, -grad)
    assert np.all(np.asarray(plain) == 1.0)  # round-to-nearest never moves
    mean = float(jnp.mean(p.astype(jnp.float32)))
    # E = 1 + 20/1024; the per-coordinate sd is below 0.0078·sqrt(20·(1/8)(7/8))
    assert mean == pytest.approx(1 + steps * 2.0**-10, abs=4 * 0.0078 * 1.48 / np.sqrt(n))


def test_the_mean_over_a_million_draws_is_within_3_sigma_of_the_exact_value():
    # 10⁶ bfloat16 parameters 1.0, one update u ≈ 1e-3 each: each lands on 1 or on
    # 1 + 2⁻⁷ with P(up) = q = u/2⁻⁷, so the mean's sd is 2⁻⁷·sqrt(q(1 − q)/n).
    n = 10**6
    u = float(jnp.asarray(1e-3, jnp.bfloat16))
    tx = jopt.stochastic_rounding(seed=7)
    params = jnp.ones(n, jnp.bfloat16)
    updates = jnp.full(n, u, jnp.bfloat16)
    out, _ = tx.update(updates, tx.init(params), params)
    landed = np.asarray(optax.apply_updates(params, out).astype(jnp.float32), np.float64)
    assert set(np.unique(landed)) == {1.0, 1.0 + 2.0**-7}
    q = u / 2.0**-7
    sigma = 2.0**-7 * np.sqrt(q * (1 - q) / n)
    assert abs(landed.mean() - (1.0 + u)) <= 3 * sigma
    assert abs(1.0 - (1.0 + u)) > 300 * sigma  # round to nearest (1.0) is far outside


def test_a_step_is_a_pure_function_of_the_state():
    params = {"w": jnp.ones(64, jnp.bfloat16)}
    grads = {"w": jnp.full(64, 1e-3, jnp.bfloat16)}
    a, b, c = (jopt.stochastic_rounding(seed=s) for s in (0, 0, 1))
    ua, sa = a.update(grads, a.init(params), params)
    ub, sb = b.update(grads, b.init(params), params)
    uc, _ = c.update(grads, c.init(params), params)
    np.testing.assert_array_equal(ua["w"], ub["w"])
    assert not np.array_equal(ua["w"], uc["w"])  # another seed, other roundings
    assert not np.array_equal(sa.key, a.init(params).key)  # the key moves on each step
    ua2, _ = a.update(grads, sa, params)
    assert not np.array_equal(ua["w"], ua2["w"])


@pytest.mark.parametrize("inner", ["jopt.adam", "optax.adam"])
def test_after_adam(inner):
    rng = np.random.default_rng(4)
    params = {"w": jnp.asarray(rng.standard_normal((3, 4)), jnp.bfloat16), "b": jnp.zeros(4)}
    grads = [
        jax.tree.map(lambda p: jnp.asarray(rng.standard_normal(p.shape), p.dtype), params)
        for _ in range(3)
    ]
    adam = jopt.adam(1e-2) if inner == "jopt.adam" else optax.adam(1e-2)
    tx = optax.chain(adam, jopt.stochastic_rounding())
    with jax.numpy_dtype_promotion("standard"):  # optax.adam mixes dtypes
        state, inner_state = tx.init(params), adam.init(params)
        step = tx.update  # eager, as the inner adam's reference steps (jit: test_the_contract)
        key = jax.random.key(0)
        for g in grads:
            u_inner, inner_state = adam.update(g, inner_state, params)
            out, state = step(g, state, params)
            key, step_key = jax.random.split(key)
            bits = jax.random.bits(jax.random.fold_in(step_key, 1), (3, 4), jnp.uint16)
            x = params["w"].astype(jnp.float32) + u_inner["w"].astype(jnp.float32)
            new = optax.apply_updates(params, out)
            want = round_stochastically(x, bits.astype(jnp.uint32))
            assert_rounded_as(new["w"], bf16_bits(want), params["w"], u_inner["w"])
            np.testing.assert_array_equal(out["b"], u_inner["b"])
            params = new
    assert params["w"].dtype == jnp.bfloat16


def test_the_contract():
    params = {"w": jnp.ones((2, 3), jnp.bfloat16), "b": jnp.zeros(3, jnp.float32)}
    grads = {"w": jnp.full((2, 3), 0.5, jnp.bfloat16), "b": jnp.ones(3, jnp.float32)}
    tx = jopt.chain(jopt.adam(1e-2), jopt.stochastic_rounding(seed=5))
    jopt.testing.check_transformation(tx, params, grads)


def test_bad_input_is_refused_naming_the_call():
    tx = jopt.stochastic_rounding()
    params = {"w": jnp.ones(3, jnp.bfloat16)}
    with pytest.raises(ValueError, match=r"^jopt\.stochastic_rounding: update\(\) needs params"):
        tx.update(params, tx.init(params))
    with pytest.raises(ValueError, match=r"^jopt\.stochastic_rounding: seed=4294967296"):
        jopt.stochastic_rounding(seed=2**32)
    with pytest.raises(TypeError, match=r"^jopt\.stochastic_rounding: seed=0.5"):
        jopt.stochastic_rounding(seed=0.5)
