"""jopt.compat.torchao against torchao 0.18 in lockstep on CPU: the same gradients each
step, one leaf quantized ((64, 64): 4096 elements) and one small leaf kept in full
precision, 5 steps. The stored codes and scales are torchao's, step after step; float32
parameters agree to float32 rounding (all but where no float32 update lands on torchao's
value, about 0.1 %, one rounding of the update off). torchao's step runs as torchao runs
it, torch.compile'd (a compile per class, shape and argument set: 5-15 s each here, the
inductor cache keeps them for the next run). The stochastic-rounding run replaces
torch.randint inside the compiled step by jopt's documented stream (a global dict the
compiled graph reads as an input each call)."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
from torchao.optim import adam as tao_adam

import jopt
import jopt.compat.torchao as jao
import jopt.testing
from jopt._core.moments import QuantizedMoment

# what importing inductor and compiling torchao's state subclasses warn about
pytestmark = [
    pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:.*does not implement _stable_hash_for_caching:UserWarning"),
]

SHAPES = [(64, 64), (10,)]
STEPS = 5
KW = dict(lr=1e-2, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)
CLASSES = {
    "AdamW8bit": (tao_adam.AdamW8bit, jao.AdamW8bit),
    "AdamW4bit": (tao_adam.AdamW4bit, jao.AdamW4bit),
    "AdamWFp8": (tao_adam.AdamWFp8, jao.AdamWFp8),
    "_AdamW": (tao_adam._AdamW, jao._AdamW),
}


def data(dtype=np.float32):
    rng = np.random.default_rng(0)
    params = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    # gradients over several decades, so the blocks use the whole code map
    grads = [
        [
            (rng.standard_normal(s) * 10.0 ** rng.uniform(-3, 0, s)).astype(np.float32)
            for s in SHAPES
        ]
        for _ in range(STEPS)
    ]
    return params, grads


def codes_of(x) -> tuple[np.ndarray, np.ndarray]:
    """(codes as bytes, flat; scales) of a torchao state, or (values, None)."""
    if hasattr(x, "codes"):
        codes = x.codes.reshape(-1)
        if codes.dtype == torch.float8_e4m3fn:
            codes = codes.view(torch.uint8)
        return codes.numpy().copy(), x.scale.numpy().copy()
    return x.float().numpy().copy(), None


def jopt_codes_of(x) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(x, QuantizedMoment):
        codes = np.asarray(x.codes).reshape(-1)
        if codes.dtype != np.uint8:
            codes = codes.view(np.uint8)
        return codes, np.asarray(x.scales)
    return np.asarray(x.astype(jnp.float32)), None


def run_torchao(cls, kwargs, params, grads, torch_dtype=torch.float32):
    ps = [
        torch.nn.Parameter(torch.from_numpy(p.astype(np.float32)).to(torch_dtype)) for p in params
    ]
    opt = cls(ps, **kwargs)
    out = []
    for step in grads:
        for p, g in zip(ps, step, strict=True):
            p.grad = torch.from_numpy(g).to(torch_dtype)
        opt.step()
        states = [{k: codes_of(opt.state[p][k]) for k in ("exp_avg", "exp_avg_sq")} for p in ps]
        out.append(([p.detach().float().numpy().copy() for p in ps], states))
    return out


def run_jopt(tx, params, grads, dtype=jnp.float32, grad_dtype=None):
    ps = [jnp.asarray(p, dtype) for p in params]
    state = tx.init(ps)

    @jax.jit
    def step(ps, state, gs):
        updates, state = tx.update(gs, state, ps)
        with jax.numpy_dtype_promotion("standard"):  # float32 updates of bfloat16 params
            return optax.apply_updates(ps, updates), state

    out = []
    for g in grads:
        # gradients rounded to the parameters' dtype, as torch's p.grad is
        gs = [jnp.asarray(x, dtype).astype(grad_dtype or dtype) for x in g]
        ps, state = step(ps, state, gs)
        inner = state
        states = [
            {"exp_avg": jopt_codes_of(m), "exp_avg_sq": jopt_codes_of(v)}
            for m, v in zip(inner.mu, inner.nu, strict=True)
        ]
        out.append(([np.asarray(p.astype(jnp.float32)) for p in ps], states))
    return out


@pytest.mark.parametrize(
    "name",
    [
        "AdamW8bit",
        # a torch.compile each (5-15 s): the long runs (`pytest -m "not slow"` leaves them)
        pytest.param("AdamW4bit", marks=pytest.mark.slow),
        pytest.param("AdamWFp8", marks=pytest.mark.slow),
    ],
)
def test_codes_and_params_are_torchaos(name):
    params, grads = data()
    tao_cls, ours_cls = CLASSES[name]
    theirs = run_torchao(tao_cls, KW, params, grads)
    ours = run_jopt(ours_cls(**KW), params, grads)
    for t, ((want_p, want_s), (got_p, got_s)) in enumerate(zip(theirs, ours, strict=True)):
        for i in range(len(SHAPES)):
            for key in ("exp_avg", "exp_avg_sq"):
                (wc, ws), (gc, gs) = want_s[i][key], got_s[i][key]
                where = f"step {t + 1}, leaf {i}, {key}"
                if ws is None:
                    assert gs is None, where
                    np.testing.assert_allclose(gc, wc, rtol=2e-6, atol=0, err_msg=where)
                else:
                    np.testing.assert_array_equal(gc, wc, err_msg=where)
                    np.testing.assert_array_equal(gs, ws, err_msg=where)
            assert_params_close(got_p[i], want_p[i], f"step {t + 1}, leaf {i}")


def documented_bits(seed: int, steps: int) -> list[list[np.ndarray]]:
    """The stream jopt.stochastic_rounding documents: leaf i of a step draws
    ``jax.random.bits(fold_in(step_key, i), shape, uint16)``."""
    key, out = jax.random.key(seed), []
    for _ in range(steps):
        key, step_key = jax.random.split(key)
        out.append(
            [
                np.asarray(jax.random.bits(jax.random.fold_in(step_key, i), s, jnp.uint16))
                for i, s in enumerate(SHAPES)
            ]
        )
    return out


BITS: dict[tuple[int, ...], torch.Tensor] = {}


def randint(low, high, size, **kwargs):
    """torch.randint inside torchao's _fp32_to_bf16_sr: this step's bits for the leaf of
    that shape (a global dict, read by the compiled step as an input each call)."""
    return BITS[tuple(size)]


def test_adamw_bf16_stochastic_round_is_torchaos_on_the_same_bits(monkeypatch):
    params, grads = data()
    stream = documented_bits(7, STEPS)
    # float32 gradients (the bfloat16 ones, cast up): their float32 updates land exactly
    tx = jao._AdamW(**KW, bf16_stochastic_round=True, seed=7)
    ours = run_jopt(tx, params, grads, jnp.bfloat16, grad_dtype=jnp.float32)
    ps = [torch.nn.Parameter(torch.from_numpy(p).bfloat16()) for p in params]
    opt = tao_adam._AdamW(ps, **KW, bf16_stochastic_round=True)
    monkeypatch.setattr(torch, "randint", randint)
    for t, step in enumerate(grads):
        for p, g, bits in zip(ps, step, stream[t], strict=True):
            p.grad = torch.from_numpy(g).bfloat16()
            BITS[p.shape] = torch.from_numpy(bits.astype(np.int32))
        opt.step()
        got_p, got_s = ours[t]
        for i, p in enumerate(ps):
            where = f"step {t + 1}, leaf {i}"
            np.testing.assert_array_equal(got_p[i], p.detach().float().numpy(), err_msg=where)
            for key in ("exp_avg", "exp_avg_sq"):
                want = opt.state[p][key]
                assert want.dtype == torch.bfloat16
                np.testing.assert_array_equal(got_s[i][key][0], want.float().numpy(), err_msg=where)


@pytest.mark.slow  # a compile of its own
def test_adamw_amsgrad_float32_is_torchaos():
    """amsgrad through _AdamW (full-precision state: torchao runs it on any leaf)."""
    params, grads = data()
    kw = dict(KW, amsgrad=True)
    theirs = run_torchao(tao_adam._AdamW, kw, params, grads)
    ours = run_jopt(jao._AdamW(**kw), params, grads)
    for t, ((want_p, want_s), (got_p, got_s)) in enumerate(zip(theirs, ours, strict=True)):
        for i in range(len(SHAPES)):
            where = f"step {t + 1}, leaf {i}"
            for key in ("exp_avg", "exp_avg_sq"):
                np.testing.assert_array_equal(got_s[i][key][0], want_s[i][key][0], err_msg=where)
            assert_params_close(got_p[i], want_p[i], where)


@pytest.fixture
def quantized_maximum():
    """torch.maximum on torchao's 8-bit state, dequantized (torchao 0.18 has no
    aten.maximum for it, so its amsgrad fails on a quantized leaf); removed after."""
    from torchao.optim.subclass_8bit import OptimState8bit

    table = OptimState8bit._ATEN_OP_TABLE[OptimState8bit]
    op = torch.ops.aten.maximum.default
    assert op not in table

    @OptimState8bit.implements(op)
    def _(func, types, args, kwargs):
        args = [x.dequantize() if isinstance(x, OptimState8bit) else x for x in args]
        return func(*args, **kwargs)

    yield
    del table[op]


@pytest.mark.slow  # a compile of its own (about 10 s), for a path torchao 0.18 cannot run
def test_adamw8bit_amsgrad_keeps_the_max_quantized_as_torchaos_code_spells_it(quantized_maximum):
    params, grads = data()
    kw = dict(KW, amsgrad=True)
    ps = [torch.nn.Parameter(torch.from_numpy(p)) for p in params]
    opt = tao_adam.AdamW8bit(ps, **kw)
    tx = jao.AdamW8bit(**kw)
    js = [jnp.asarray(p) for p in params]
    state = tx.init(js)
    step = jax.jit(lambda p, s, g: tx.update(g, s, p))
    for t, g in enumerate(grads):
        for p, x in zip(ps, g, strict=True):
            p.grad = torch.from_numpy(x)
        opt.step()
        updates, state = step(js, state, [jnp.asarray(x) for x in g])
        js = optax.apply_updates(js, updates)
        for i, p in enumerate(ps):
            where = f"step {t + 1}, leaf {i}"
            want = codes_of(opt.state[p]["max_exp_avg_sq"])
            got = jopt_codes_of(state.nu_max[i])
            for w, o in zip(want, got, strict=True):
                if w is not None:
                    np.testing.assert_array_equal(o, w, err_msg=where)
            assert_params_close(np.asarray(js[i]), p.detach().numpy(), where)


def assert_params_close(got, want, where):
    """float32 rounding: the same value but where no float32 update lands on torchao's
    (the parameter changes sign, say), one rounding of the update off."""
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-8, err_msg=where)
    assert np.sum(got != want) <= max(1, 0.01 * got.size), where


def test_bfloat16_gradients_land_where_a_bfloat16_update_can():
    """With bfloat16 gradients the updates are bfloat16 (the gradients' dtype): the same
    parameters as with float32 updates but where no bfloat16 update lands there
    (landing_update: a step large against θ; 0.2 % here, at lr=1e-2), and there within
    a bfloat16 step."""
    params, grads = data()
    kw = dict(KW, bf16_stochastic_round=True, seed=3)
    exact = run_jopt(jao._AdamW(**kw), params, grads[:2], jnp.bfloat16, grad_dtype=jnp.float32)
    ours = run_jopt(jao._AdamW(**kw), params, grads[:1], jnp.bfloat16)
    old = [np.asarray(jnp.asarray(p, jnp.bfloat16).astype(jnp.float32)) for p in params]
    for i in range(len(SHAPES)):
        got, want = ours[0][0][i], exact[0][0][i]
        assert np.sum(got != want) <= max(1, 0.01 * got.size)  # 9 of 4096 here
        # a bfloat16 step of the larger of θ_old, θ_new
        assert np.all(np.abs(got - want) <= 2.0**-7 * np.maximum(np.abs(want), np.abs(old[i])))


def test_the_contract():
    params = {"w": jnp.ones((64, 64)), "b": jnp.ones(3, jnp.bfloat16)}
    grads = jax.tree.map(lambda p: jnp.full(p.shape, 0.5, p.dtype), params)
    for tx in (
        jao.AdamW8bit(amsgrad=True),
        jao.AdamW4bit(),
        jao.AdamWFp8(bf16_stochastic_round=True),
        jao._AdamW(bf16_stochastic_round=True),
    ):
        jopt.testing.check_transformation(tx, params, grads, steps=2)


def test_zero1_splits_the_codes_by_block_and_steps_as_on_one_device():
    # The codes and scales are laid out as jopt.quantized's (one row a block): under
    # ZeRO-1 each device holds whole blocks with their scales, and the step is the
    # single-device one.
    mesh = jax.make_mesh((2, 4), ("data", "model"))
    tx = jao.AdamW4bit(amsgrad=True)
    w = jnp.asarray(np.random.default_rng(0).standard_normal((64, 64)), jnp.float32)
    g = {"w": w[::-1] * 0.1}
    params = jax.device_put({"w": w}, NamedSharding(mesh, P()))
    shardings = jopt.sharding.state_shardings(tx, params, zero_axis="data")
    assert shardings.nu_max["w"].codes.spec == P("data")
    state = jax.jit(tx.init, out_shardings=shardings)(params)
    assert {x.data.shape for x in state.mu["w"].codes.addressable_shards} == {(16, 64)}
    updates, state = jax.jit(tx.update, out_shardings=(None, shardings))(g, state, params)
    want, want_state = tx.update(g, tx.init({"w": w}), {"w": w})
    np.testing.assert_array_equal(updates["w"], want["w"])
    np.testing.assert_array_equal(state.nu["w"].codes, want_state.nu["w"].codes)


def test_a_learning_rate_schedule_is_the_rate_of_each_step():
    """torchao's lr is a tensor changed in place between steps (``fill_``); a schedule
    ``count -> lr`` gives each step its rate, the count being the steps already taken."""
    params, grads = data()
    rates = [1e-2, 3e-3, 1e-3]
    sched = run_jopt(jao.AdamW8bit(lr=lambda c: jnp.asarray(rates)[c]), params, grads[:3])
    ps = [jnp.asarray(p) for p in params]
    state = jao.AdamW8bit().init(ps)
    for t, g in enumerate(grads[:3]):  # a constant rate each step, the state carried over
        tx = jao.AdamW8bit(lr=rates[t])
        updates, state = jax.jit(tx.update)([jnp.asarray(x) for x in g], state, ps)
        ps = optax.apply_updates(ps, updates)
        for i in range(len(SHAPES)):
            np.testing.assert_array_equal(np.asarray(ps[i]), sched[t][0][i])


def test_leaves_quantized_as_torchaos_new_buffer():
    params = {
        "big": jnp.zeros((64, 64), jnp.float32),  # 4096: quantized
        "odd": jnp.zeros((4097,), jnp.float32),  # not a whole number of blocks
        "small": jnp.zeros((16, 16), jnp.float32),  # fewer than 4096
        "half": jnp.zeros((64, 64), jnp.bfloat16),
    }
    state = jao.AdamW8bit().init(params)
    big, half = state.mu["big"], state.nu["half"]
    assert isinstance(big, QuantizedMoment) and isinstance(half, QuantizedMoment)
    assert big.codes.shape == (16, 256) and half.scales.shape == (16,)
    assert state.mu["odd"].dtype == jnp.float32 and state.mu["small"].shape == (16, 16)
    assert jao.AdamW8bit(block_size=4097).init(params).mu["odd"].codes.shape == (1, 4097)
    assert jao._AdamW().init(params).mu["half"].dtype == jnp.bfloat16
    assert state.nu_max is None and state.key is None


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: jao.AdamW8bit(lr=-1.0),
            "jopt.compat.torchao.AdamW8bit: Invalid learning rate: -1.0",
        ),
        (lambda: jao.AdamW4bit(betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
        (lambda: jao.AdamWFp8(eps=-1e-8), "jopt.compat.torchao.AdamWFp8: Invalid epsilon value"),
        (lambda: jao._AdamW(betas=(-0.1, 0.9)), "Invalid beta parameter at index 0: -0.1"),
        (
            lambda: jao.AdamW4bit(block_size=5),
            "jopt.compat.torchao.AdamW4bit: block_size=5 is invalid",
        ),
        (lambda: jao.AdamW8bit(block_size=0), "block_size=0 is invalid"),
        (lambda: jao.AdamW8bit(weight_decay=float("nan")), "weight_decay=nan is invalid"),
        (lambda: jao._AdamW(seed=-1), "jopt.compat.torchao._AdamW: seed=-1 is invalid"),
        (
            lambda: jao.AdamW8bit().init({"w": jnp.zeros(3, jnp.int32)}),
            "jopt.compat.torchao.AdamW8bit: init() got the parameter ['w'] of dtype int32",
        ),
        (
            lambda: jao.AdamWFp8().init({"w": jnp.zeros(3, jnp.complex64)}),
            "jopt.compat.torchao.AdamWFp8: a parameter has dtype complex64",
        ),
    ],
)
def test_bad_input_is_refused_naming_the_call(call, message):
    with pytest.raises((ValueError, TypeError), match=re.escape(message)):
        call()
