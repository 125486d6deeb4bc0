"""Quantized moments (jopt/_core/moments.py, jopt.quantized): the storage rule in every
optimizer with moments, the round-trip bound of each kind, the bytes, the small-leaf rule,
bad arguments, and composition with jit, donation, inject_hyperparams, meshes, orbax and
vmap.

The references: each optimizer's float32 step run on the dequantized moments and encoded
again with the codec (itself tested code for code against bitsandbytes and torchao in
test_quantize.py), and NumPy for Adam, AMSGrad and Adadelta, whose steps also read a moment
just rounded."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import optax
import pytest
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

import jopt
from jopt._core import moments, quantize
from jopt._core.moments import QuantizedMoment, is_quantized, nbytes

KINDS = ("int8", "int4", "fp8")
# Small blocks keep the arrays small: w (16, 64) is 16 int8 blocks, b keeps float32.
SMALL = {k: jopt.quantized(k, block_size=64, min_size=256) for k in KINDS}
SIGNED = {"mu", "trace"}  # the other moments are non-negative


def tree():
    k = jax.random.split(jax.random.key(1), 2)
    return {
        "w": jax.random.normal(k[0], (16, 64), jnp.float32),
        "b": jax.random.normal(k[1], (7,), jnp.float32),
    }


def grad_seq(n=5):
    keys = jax.random.split(jax.random.key(2), n)
    out = []
    for i, key in enumerate(keys):
        a, b = jax.random.split(key)
        scale = 10.0 ** (i % 3 - 1)  # magnitudes change from step to step
        out.append(
            {
                "w": scale * jax.random.normal(a, (16, 64), jnp.float32),
                "b": jax.random.normal(b, (7,), jnp.float32),
            }
        )
    return out


def randn(shape, seed):
    return jax.random.normal(jax.random.key(seed), shape, jnp.float32)


def _field(path):
    names = [k.name for k in path if isinstance(k, jax.tree_util.GetAttrKey)]
    return names[-1]


def _signed(path):
    return _field(path) in SIGNED


def dequantized(state, fmt):
    """The state with each quantized moment replaced by its float32 values."""

    def f(path, x):
        if not is_quantized(x):
            return x
        n = x.scales.shape[0] * fmt.block_size
        out = quantize.decode(
            quantize.Quantized(x.codes.reshape(-1), x.scales),
            fmt.kind,
            signed=_signed(path),
            block_size=fmt.block_size,
            shape=(n,),
        )
        squared = fmt.sqrt_nonnegative and not _signed(path)  # the codes hold sqrt(v)
        return out * out if squared else out

    return jax.tree_util.tree_map_with_path(f, state, is_leaf=is_quantized)


def requantized(state_f, state_q, fmt):
    """``state_f`` (float32 moments) encoded where ``state_q`` holds quantized ones."""

    def f(path, x, ref):
        if not is_quantized(ref):
            return x
        if fmt.sqrt_nonnegative and not _signed(path):
            x = jnp.sqrt(x)
        q = quantize.encode(
            x,
            fmt.kind,
            signed=_signed(path),
            block_size=fmt.block_size,
            rounding=fmt.rounding,
        )
        return QuantizedMoment(q.codes.reshape(ref.codes.shape), q.scales)

    return jax.tree_util.tree_map_with_path(f, state_f, state_q, is_leaf=is_quantized)


def assert_same(a, b, what):
    for (path, x), y in zip(
        jax.tree_util.tree_leaves_with_path(a), jax.tree.leaves(b), strict=True
    ):
        x, y = np.atleast_1d(np.asarray(x)), np.atleast_1d(np.asarray(y))
        assert x.dtype == y.dtype and x.shape == y.shape, (what, path)
        assert np.array_equal(x.view(np.uint8), y.view(np.uint8)), (
            f"{what}{jax.tree_util.keystr(path)}"
        )


# Every optimizer that keeps moments, built with a state format for each of them; AMSGrad
# and Adadelta, whose steps read a moment just rounded, are checked in NumPy below.
FAMILIES = {
    "adam": lambda f: jopt.adam(0.01, mu_dtype=f, nu_dtype=f),
    "adamw": lambda f: jopt.adamw(0.01, weight_decay=0.1, mu_dtype=f, nu_dtype=f),
    "nadam": lambda f: jopt.nadam(0.01, mu_dtype=f, nu_dtype=f),
    "radam": lambda f: jopt.radam(0.01, mu_dtype=f, nu_dtype=f),
    "adamax": lambda f: jopt.adamax(0.01, mu_dtype=f, nu_dtype=f),
    "lion": lambda f: jopt.lion(0.01, mu_dtype=f),
    "lamb": lambda f: jopt.lamb(0.01, mu_dtype=f, nu_dtype=f),
    "sgd": lambda f: jopt.sgd(0.1, momentum=0.9, dampening=0.1, mu_dtype=f),
    "sgd-nesterov": lambda f: jopt.sgd(0.1, momentum=0.9, nesterov=True, mu_dtype=f),
    "momentum": lambda f: jopt.momentum(0.1, mu_dtype=f),
    "nesterov": lambda f: jopt.nesterov(0.1, mu_dtype=f),
    "rmsprop": lambda f: jopt.rmsprop(0.01, centered=True, mu_dtype=f, nu_dtype=f),
    "muon": lambda f: jopt.muon(0.02, mu_dtype=f),
    "adagrad": lambda f: jopt.adagrad(0.1, nu_dtype=f),
}


def _reshaped(state_f, state_ref):
    # a decoded moment is flat; the float32 twin's state has the leaf's shape
    return jax.tree.map(
        lambda x, r: x.reshape(jnp.shape(r)), state_f, state_ref, is_leaf=is_quantized
    )


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_a_step_is_the_float32_step_on_the_stored_moments(name):
    # Each quantized step = the float32 step run on the dequantized moments, its new
    # moments encoded: identical codes and scales over 5 steps (int8, bitsandbytes'
    # rounding), the full-precision leaf b bit for bit.
    fmt = SMALL["int8"]
    tx_q, tx_f = FAMILIES[name](fmt), FAMILIES[name](None)
    params = tree()
    state_q = tx_q.init(params)
    assert any(is_quantized(x) for x in jax.tree.leaves(state_q, is_leaf=is_quantized))
    shapes = tx_f.init(params)
    for g in grad_seq():
        state_f = _reshaped(dequantized(state_q, fmt), shapes)
        _, new_f = tx_f.update(g, state_f, params)
        _, state_q = tx_q.update(g, state_q, params)
        assert_same(state_q, requantized(new_f, state_q, fmt), name)


@pytest.mark.parametrize("kind", ["int4", "fp8"])
def test_the_other_kinds_step_as_int8_does(kind):
    fmt = SMALL[kind]
    tx_q, tx_f = FAMILIES["adam"](fmt), FAMILIES["adam"](None)
    params = tree()
    state_q = tx_q.init(params)
    shapes = tx_f.init(params)
    for g in grad_seq():
        state_f = _reshaped(dequantized(state_q, fmt), shapes)
        _, new_f = tx_f.update(g, state_f, params)
        _, state_q = tx_q.update(g, state_q, params)
        assert_same(state_q, requantized(new_f, state_q, fmt), kind)


def test_fp8_keeps_a_small_v_that_e4m3_would_flush():
    # One block: a gradient of 1 and 255 of 10⁻³. Adam's first step is g/(|g| + ε) ≈ ±1
    # everywhere. v = 10⁻⁶ relative to its block is below e4m3's smallest code (2⁻⁹/448 ≈
    # 4.4·10⁻⁶): stored as itself (torchao's AdamWFp8) it reads back 0 and the step is
    # m̂/ε ≈ 10⁵; stored as sqrt(v) (10⁻³ relative) it keeps Adam's step.
    g = jnp.full((256,), 1e-3, jnp.float32).at[0].set(1.0)
    steps = {}
    for sqrt_v in (True, False):
        fp8 = jopt.quantized("fp8", min_size=0, sqrt_nonnegative=sqrt_v)
        tx = jopt.adam(1.0, mu_dtype=fp8, nu_dtype=fp8)
        steps[sqrt_v] = np.asarray(tx.update(g, tx.init(jnp.zeros(256)))[0])
    np.testing.assert_allclose(steps[True], -1.0, rtol=0.07)  # fp8's relative code gap
    assert np.all(np.abs(steps[False][1:]) > 1e4)


def _rt(x, fmt, signed):
    """NumPy x -> (decode(encode(x)) in float32, the codes) with the codec."""
    q = quantize.encode(
        jnp.asarray(x), fmt.kind, signed=signed, block_size=fmt.block_size, rounding=fmt.rounding
    )
    back = quantize.decode(q, fmt.kind, signed=signed, block_size=fmt.block_size, shape=x.shape)
    return np.asarray(back), np.asarray(q.codes)


@pytest.mark.parametrize("amsgrad", [False, True], ids=["adam", "amsgrad"])
def test_adam_in_numpy_with_the_moments_as_stored(amsgrad):
    # Adam written out in float32 NumPy, each moment rounded to its codes after each
    # step and the step taken with the rounded values (v_max the max of the stored v_max
    # and the rounded v, then rounded): the same codes and the same updates.
    fmt = SMALL["int8"]
    f32 = np.float32
    b1, b2, eps, lr = f32(0.9), f32(0.999), f32(1e-8), f32(0.01)
    tx = jopt.adam(float(lr), amsgrad=amsgrad, mu_dtype=fmt, nu_dtype=fmt)
    w = np.asarray(tree()["w"])
    params = {"w": jnp.asarray(w)}
    state = tx.init(params)
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    v_max = np.zeros_like(w)
    for t, g in enumerate(grad_seq(), start=1):
        g = np.asarray(g["w"])
        m, m_codes = _rt(b1 * m + (f32(1) - b1) * g, fmt, True)
        v, v_codes = _rt(b2 * v + (f32(1) - b2) * (g * g), fmt, False)
        if amsgrad:
            v_max, v_max_codes = _rt(np.maximum(v_max, v), fmt, False)
        v_used = v_max if amsgrad else v
        bias1, bias2 = f32(1) - b1**t, f32(1) - b2**t
        want = -lr * ((m / bias1) / (np.sqrt(v_used / bias2) + eps))
        u, state = tx.update({"w": g}, state, params)
        inner = state[0]
        np.testing.assert_allclose(np.asarray(u["w"]), want, rtol=2e-6, atol=1e-9)
        np.testing.assert_array_equal(inner.mu["w"].codes.reshape(-1), m_codes)
        np.testing.assert_array_equal(inner.nu["w"].codes.reshape(-1), v_codes)
        if amsgrad:
            np.testing.assert_array_equal(inner.nu_max["w"].codes.reshape(-1), v_max_codes)


def test_adadelta_in_numpy_with_the_averages_as_stored():
    # Adadelta's step reads E[g²]_t just rounded: the step of the stored averages.
    fmt = SMALL["int8"]
    f32 = np.float32
    rho, eps = f32(0.9), f32(1e-6)
    tx = jopt.scale_by_adadelta(float(rho), float(eps), nu_dtype=fmt)
    w = np.asarray(tree()["w"])
    state = tx.init(jnp.asarray(w))
    e_g = np.zeros_like(w)
    e_x = np.zeros_like(w)
    for g in grad_seq():
        g = np.asarray(g["w"])
        e_g, e_g_codes = _rt(rho * e_g + (f32(1) - rho) * (g * g), fmt, False)
        delta = (np.sqrt(e_x + eps) / np.sqrt(e_g + eps)) * g
        e_x, e_x_codes = _rt(rho * e_x + (f32(1) - rho) * (delta * delta), fmt, False)
        u, state = tx.update(jnp.asarray(g), state)
        np.testing.assert_allclose(np.asarray(u), delta, rtol=2e-6)
        np.testing.assert_array_equal(state.e_g.codes.reshape(-1), e_g_codes)
        np.testing.assert_array_equal(state.e_x.codes.reshape(-1), e_x_codes)


# ------------------------------------------------------------------- round-trip bound


def _map_values(kind, signed):
    if kind == "fp8":
        every = np.arange(256, dtype=np.uint8).view(ml_dtypes.float8_e4m3fn).astype(np.float32)
        finite = np.unique(every[np.isfinite(every)])
        return finite / np.float32(448.0)  # x / s with s = absmax / 448
    return quantize.code_map(kind, signed).astype(np.float64)


def bound(kind, signed, rounding):
    """The largest |x̂ − x| / absmax over the range a block's values span, from the map:
    the half gap between neighbouring codes, and the ends of [-1, 1] (signed) or [0, 1]
    not covered by a code; bitsandbytes' lookup adds half its grid step, 1/65535."""
    values = _map_values(kind, signed)
    lo = -1.0 if signed or kind == "fp8" else 0.0
    worst = max(np.max(np.diff(values)) / 2, values[0] - lo, 1.0 - values[-1])
    return worst + (1.0 / 65535 if rounding == "bitsandbytes" else 0.0)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("signed", [True, False], ids=["signed", "unsigned"])
def test_the_round_trip_error_is_within_the_kinds_half_code_gap(kind, signed):
    fmt = jopt.quantized(kind)
    n = 64 * fmt.block_size
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    x *= 10.0 ** np.repeat(np.arange(-4, 4), n // 8)  # blocks of every magnitude
    x[:5] = 0.0
    if not signed:
        x = np.abs(x)
    back, _ = _rt(x, fmt, signed)
    blocks = x.reshape(-1, fmt.block_size)
    absmax = np.abs(blocks).max(axis=1, keepdims=True)
    err = np.abs(back.reshape(blocks.shape) - blocks) / absmax
    limit = bound(kind, signed, fmt.rounding)
    assert err.max() <= limit * (1 + 1e-5), (err.max(), limit)
    assert err.max() > 0.5 * limit  # the bound is tight, not vacuous
    # the bounds, as numbers: int8 half its top band's gap, 0.9/64 signed and 0.9/128
    # unsigned (+ bitsandbytes' grid),
    # int4 half the signed map's top gap / the unsigned map's 1/16 below its first code,
    # fp8 half the gap 32 between 256 and 448, over 448
    want = {
        "int8": (0.9 / 128 if signed else 0.9 / 256) + 1 / 65535,
        "int4": 0.1125 if signed else 0.0625,
        "fp8": 16 / 448,
    }
    assert limit == pytest.approx(want[kind], rel=1e-4)


def test_a_broken_codec_breaks_the_bound(monkeypatch):
    # the check catches a codec that rounds down (one code off)
    fmt = jopt.quantized("int8", rounding="torchao")
    x = np.linspace(-1, 1, 256, dtype=np.float32)
    q = quantize.encode(jnp.asarray(x), "int8", signed=True)
    off = quantize.Quantized(jnp.maximum(q.codes, 1) - 1, q.scales)
    back = np.asarray(quantize.decode(off, "int8", signed=True, shape=x.shape))
    assert np.abs(back - x).max() > bound("int8", True, fmt.rounding)


# -------------------------------------------------------------------------- bytes


def per_param(fmt):
    params = {
        "embed": jax.ShapeDtypeStruct((1024, 768), jnp.float32),
        "w": jax.ShapeDtypeStruct((768, 512), jnp.float32),
        "bias": jax.ShapeDtypeStruct((512,), jnp.float32),  # < min_size: float32
    }
    n = sum(int(np.prod(p.shape)) for p in params.values())
    assert n >= 1_000_000
    state = jax.eval_shape(jopt.adam(1e-3, mu_dtype=fmt, nu_dtype=fmt).init, params)
    return nbytes(state) / n


@pytest.mark.parametrize(
    "fmt, most",
    [
        (None, 8.00),
        (jnp.bfloat16, 4.00),
        (jopt.quantized("int8"), 2.04),
        (jopt.quantized("fp8"), 2.04),
        (jopt.quantized("int4"), 1.07),
    ],
    ids=["float32", "bfloat16", "int8", "fp8", "int4"],
)
def test_adam_state_bytes_per_parameter(fmt, most):
    got = per_param(fmt)
    assert round(got, 2) <= most, got  # the count adds 4 bytes in all
    assert got >= most - 0.05, got  # and no less than the format's own size


# -------------------------------------------------------------------- small leaves


def test_small_and_undivided_leaves_keep_full_precision():
    fmt = jopt.quantized("int8")  # min_size 4096, block 256
    params = {
        "big": jnp.zeros((64, 64), jnp.float32),
        "small": jnp.zeros((8, 8), jnp.float32),
        "undivided": jnp.zeros(4097, jnp.float32),
        "bf16": jnp.zeros(100, jnp.bfloat16),
        "f16": jnp.zeros(100, jnp.float16),
        "complex": jnp.zeros(4096, jnp.complex64),
    }
    state = jopt.scale_by_adam(mu_dtype=fmt, nu_dtype=fmt).init(params)
    assert is_quantized(state.mu["big"]) and is_quantized(state.nu["big"])
    dtypes = {k: v.dtype for k, v in state.mu.items() if k != "big"}
    assert dtypes == {
        "small": jnp.float32,
        "undivided": jnp.float32,
        "bf16": jnp.bfloat16,  # the dtype rule: a bfloat16 leaf's moment is bfloat16
        "f16": jnp.float32,  # a float16 leaf's is float32
        "complex": jnp.complex64,
    }
    assert state.nu["complex"].dtype == jnp.float32  # |g|², real
    tiny = jopt.quantized("int8", block_size=64, min_size=0)
    assert is_quantized(jopt.scale_by_adam(mu_dtype=tiny).init(jnp.zeros(64, jnp.float32)).mu)


def test_a_bfloat16_leaf_steps_with_quantized_moments():
    fmt = jopt.quantized("int4", block_size=64, min_size=0)
    tx = jopt.adam(1e-2, mu_dtype=fmt, nu_dtype=fmt)
    p = jnp.ones(256, jnp.bfloat16)
    u, state = tx.update(jnp.full(256, 0.5, jnp.bfloat16), tx.init(p))
    assert u.dtype == jnp.bfloat16 and is_quantized(state[0].mu)


# ------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(kind="int16"), ValueError, "kind='int16'"),
        (dict(kind=8), TypeError, "kind=8"),
        (dict(kind="int4", block_size=7), ValueError, "block_size=7"),
        (dict(kind="int8", block_size=0), ValueError, "block_size=0"),
        (dict(kind="fp8", block_size=-256), ValueError, "block_size=-256"),
        (dict(kind="int8", block_size=2.5), ValueError, "block_size=2.5"),
        (dict(kind="int8", block_size=True), ValueError, "block_size=True"),
        (dict(kind="int8", min_size=-1), ValueError, "min_size=-1"),
        (dict(kind="int8", min_size=1.5), ValueError, "min_size=1.5"),
        (dict(kind="int4", rounding="bitsandbytes"), ValueError, "rounding='bitsandbytes'"),
        (dict(kind="int8", rounding="nearest"), ValueError, "rounding='nearest'"),
    ],
)
def test_bad_arguments_name_jopt_quantized(kwargs, error, words):
    with pytest.raises(error, match=r"^jopt\.quantized: ") as info:
        jopt.quantized(**kwargs)
    assert words in str(info.value)


def test_a_state_format_is_checked_where_it_is_given():
    with pytest.raises(TypeError, match=r"jopt\.adam: mu_dtype='int8' .*jopt\.quantized"):
        jopt.adam(1e-3, mu_dtype="int8")
    with pytest.raises(TypeError, match=r"jopt\.lion: mu_dtype="):
        jopt.lion(1e-3, mu_dtype=jopt.quantized)  # the factory, not a format


def test_a_quantized_state_given_to_a_float_optimizer_is_an_error():
    fmt = SMALL["int8"]
    params = tree()
    state = jopt.adam(1e-3, mu_dtype=fmt, nu_dtype=fmt).init(params)
    with pytest.raises(ValueError, match=r"jopt\.adam: .*quantized moment"):
        jopt.adam(1e-3).update(grad_seq(1)[0], state, params)


# ------------------------------------------------------------------------ composes


@pytest.mark.parametrize("kind", KINDS)
def test_check_transformation_passes(kind):
    fmt = SMALL[kind]
    params, grads = tree(), grad_seq(1)[0]
    jopt.testing.check_transformation(jopt.adam(1e-2, mu_dtype=fmt, nu_dtype=fmt), params, grads)


def test_a_donated_jitted_step_copies_nothing_and_warns_nothing():
    fmt = SMALL["int8"]
    tx = jopt.adam(1e-2, mu_dtype=fmt, nu_dtype=fmt)

    @jax.jit
    def init(p):
        return tx.init(p)

    def step(p, s, g):
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s

    donated = jax.jit(step, donate_argnums=(0, 1))
    params, g = tree(), grad_seq(1)[0]
    state = init(params)
    before = [x.unsafe_buffer_pointer() for x in jax.tree.leaves(state)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Some donated buffers were not usable" fails
        p, s = donated(jax.tree.map(jnp.copy, params), state, g)
    after = [x.unsafe_buffer_pointer() for x in jax.tree.leaves(s)]
    assert before == after  # each state buffer updated in place


def test_inject_hyperparams_keeps_the_format_static():
    fmt = SMALL["int8"]
    tx = optax.inject_hyperparams(jopt.adam)(learning_rate=0.1, mu_dtype=fmt, nu_dtype=fmt)
    params, g = tree(), grad_seq(1)[0]
    state = tx.init(params)
    assert set(state.hyperparams) >= {"learning_rate", "b1"} and "mu_dtype" not in state.hyperparams
    step = jax.jit(tx.update)
    u1, s1 = step(g, state, params)
    state.hyperparams["learning_rate"] = jnp.asarray(0.2)
    u2, s2 = step(g, state, params)
    np.testing.assert_allclose(np.asarray(u2["w"]), 2 * np.asarray(u1["w"]), rtol=1e-6)
    assert_same(s1.inner_state[0], s2.inner_state[0], "the moments do not see the rate")


def test_vmap_over_learning_rates():
    fmt = SMALL["int4"]
    params, grads = tree(), grad_seq(3)

    def run(lr):
        tx = jopt.adam(lr, mu_dtype=fmt, nu_dtype=fmt)
        p, s = params, tx.init(params)
        for g in grads:
            u, s = tx.update(g, s, p)
            p = optax.apply_updates(p, u)
        return p, s

    rates = jnp.asarray([0.01, 0.1], jnp.float32)
    swept = jax.jit(jax.vmap(run))(rates)
    for i, lr in enumerate([0.01, 0.1]):
        one = jax.jit(run)(jnp.asarray(lr, jnp.float32))
        assert_same(jax.tree.map(lambda x, i=i: x[i], swept), one, f"lr {lr}")


def test_an_orbax_checkpoint_resumes_bit_exact(tmp_path):
    import orbax.checkpoint as ocp  # flax depends on it: a missing one fails, not skips

    fmt = jopt.quantized("int8")  # the default: a (64, 64) leaf is 16 blocks of 256
    tx = jopt.adamw(1e-2, mu_dtype=fmt, nu_dtype=jopt.quantized("int4"))
    params = {"w": randn((64, 64), 0)}
    grads = [{"w": randn((64, 64), k)} for k in range(1, 5)]

    @jax.jit
    def step(p, s, g):
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s

    p, s = params, tx.init(params)
    for g in grads[:2]:
        p, s = step(p, s, g)
    with ocp.StandardCheckpointer() as ckpt:
        ckpt.save(tmp_path / "ckpt", {"params": p, "state": s})
    with ocp.StandardCheckpointer() as ckpt:
        target = jax.eval_shape(lambda: {"params": p, "state": s})
        restored = ckpt.restore(tmp_path / "ckpt", target)
    assert is_quantized(restored["state"][0].mu["w"])
    p2, s2 = restored["params"], restored["state"]
    for g in grads[2:]:
        p, s = step(p, s, g)
        p2, s2 = step(p2, s2, g)
    assert_same((p2, s2), (p, s), "resumed")


MESH = jax.make_mesh((2, 4), ("data", "model"))


def test_state_shardings_place_blocks_with_their_elements():
    fmt = jopt.quantized("int8")  # (64, 128): 32 blocks of 256
    rows = jax.device_put(jnp.zeros((64, 128), jnp.float32), NamedSharding(MESH, P("model")))
    cols = jax.device_put(jnp.zeros((64, 128), jnp.float32), NamedSharding(MESH, P(None, "model")))
    tx = jopt.adam(1e-3, mu_dtype=fmt, nu_dtype=fmt)
    params = {"rows": rows, "cols": cols}
    plain = jopt.sharding.state_shardings(tx, params)[0]
    zero = jopt.sharding.state_shardings(tx, params, zero_axis="data")[0]
    for moment in (plain.mu, plain.nu):
        assert moment["rows"].codes.spec == P("model") == moment["rows"].scales.spec
        assert moment["cols"].codes.spec == P() == moment["cols"].scales.spec
    assert zero.mu["rows"].codes.spec == P(("model", "data")) == zero.mu["rows"].scales.spec
    assert zero.mu["cols"].codes.spec == P("data") == zero.nu["cols"].scales.spec
    # 18 blocks do not split over 4 devices (a row is 4.5 blocks): replicated
    odd = jax.device_put(jnp.zeros((4, 1152), jnp.float32), NamedSharding(MESH, P("model")))
    assert jopt.sharding.state_shardings(tx, {"odd": odd})[0].mu["odd"].codes.spec == P()
    # init places them so, eagerly
    state = tx.init(params)
    assert state[0].mu["rows"].codes.sharding.spec == P("model")
    shard = state[0].mu["rows"].codes.addressable_shards[0]
    assert shard.data.shape == (8, 256)  # 8 whole blocks of the 16 rows on this device
    assert shard.index[0] == slice(0, 8)  # rows 0-15 = elements 0-2047 = blocks 0-7


@pytest.mark.parametrize("sqrt_v", [False, True], ids=["fp8-v", "fp8-sqrt-v"])
def test_a_zero1_step_on_the_mesh_gives_the_single_device_numbers(sqrt_v):
    # The same state and parameters, bit for bit, with v stored as itself. With sqrt(v)
    # stored, the decoded v is (code · s)², whose multiply XLA fuses (contracts into the
    # multiply-add of the EMA) differently in the two programs: the scales and the
    # parameters agree to float32 rounding, the codes are the same.
    fmt = jopt.quantized("int8")
    nu = jopt.quantized("fp8", sqrt_nonnegative=sqrt_v)
    tx = jopt.adam(1e-2, mu_dtype=fmt, nu_dtype=nu)
    w = randn((64, 128), 0)
    grads = [{"w": randn((64, 128), k)} for k in range(1, 4)]

    def step(p, s, g):
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s

    p, s = {"w": w}, tx.init({"w": w})
    for g in grads:
        p, s = jax.jit(step)(p, s, g)

    where = {"w": NamedSharding(MESH, P("model"))}
    params = jax.device_put({"w": w}, where)
    shardings = jopt.sharding.state_shardings(tx, params, zero_axis="data")
    assert shardings[0].mu["w"].codes.spec == P(("model", "data"))
    sharded = jax.jit(
        step, in_shardings=(where, shardings, where), out_shardings=(where, shardings)
    )
    p2, s2 = params, jax.jit(tx.init, out_shardings=shardings)(params)
    for g in grads:
        p2, s2 = sharded(p2, s2, jax.device_put(g, where))
    codes = s2[0].mu["w"].codes
    assert {x.data.shape for x in codes.addressable_shards} == {(4, 256)}  # 32 blocks / 8
    if sqrt_v:
        np.testing.assert_allclose(p2["w"], p["w"], rtol=0, atol=4e-7)
        np.testing.assert_allclose(s2[0].nu["w"].scales, s[0].nu["w"].scales, rtol=1e-6)
        assert_same(s2[0].nu["w"].codes, s[0].nu["w"].codes, "ZeRO-1 on the mesh")
        assert_same(s2[0].mu, s[0].mu, "ZeRO-1 on the mesh")
    else:
        assert_same((p2, s2), (p, s), "ZeRO-1 on the mesh")


# ---------------------------------------------------------------------- chunked steps
#
# A large quantized leaf steps in a loop over chunks of whole blocks (jopt._core.moments.
# chunked; 65,536 elements a chunk). With chunks of 192 elements (3 blocks of 64) the
# (16, 64) leaf w runs in 5 chunks and a tail of one block: the same tests as above.


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(moments, "CHUNK", 192)


# The chunked loop is one rule (moments.chunked): checked on the shapes of step it runs,
# two moments stored as rounded and reused (adam), one moment and a sign (lion), a moment
# read before it is stored (rmsprop, centered), a trace with dampening (sgd); every family
# steps through the same map_leaves(elementwise=True) call (the unchunked test above).
@pytest.mark.parametrize("name", ["adam", "lion", "rmsprop", "sgd"])
def test_a_chunked_step_is_the_float32_step_on_the_stored_moments(name, small_chunks):
    test_a_step_is_the_float32_step_on_the_stored_moments(name)


@pytest.mark.parametrize("kind", ["int4", "fp8"])
def test_a_chunked_step_of_the_other_kinds(kind, small_chunks):
    test_the_other_kinds_step_as_int8_does(kind)


@pytest.mark.parametrize("amsgrad", [False, True], ids=["adam", "amsgrad"])
def test_a_chunked_adam_in_numpy(amsgrad, small_chunks):
    test_adam_in_numpy_with_the_moments_as_stored(amsgrad)


def test_a_chunked_adadelta_in_numpy(small_chunks):
    test_adadelta_in_numpy_with_the_averages_as_stored()


def test_a_chunked_donated_step_copies_nothing(small_chunks):
    test_a_donated_jitted_step_copies_nothing_and_warns_nothing()


def test_a_chunked_vmap(small_chunks):
    test_vmap_over_learning_rates()


def _loop_outputs(tx, params, g):
    """The shapes and dtypes of the outputs of each loop in tx's update."""
    state = tx.init(params)
    jaxpr = jax.make_jaxpr(lambda g, s: tx.update(g, s, params))(g, state)
    out = []
    for eqn in jaxpr.jaxpr.eqns:
        if eqn.primitive.name == "scan":
            out += [(tuple(v.aval.shape), v.aval.dtype) for v in eqn.outvars]
    return out


def test_which_steps_run_in_chunks_and_how(small_chunks):
    params, g = tree(), grad_seq(1)[0]
    q = SMALL["int8"]
    # Adam's m and v are stored as rounded: the loop writes codes and scales only, and
    # the update is computed flat from the new codes (fused into apply_updates)
    outs = _loop_outputs(jopt.adam(0.1, mu_dtype=q, nu_dtype=q), params, g)
    assert outs and ((1024,), jnp.float32) not in outs
    # a bfloat16 v: the loop writes the update too
    outs = _loop_outputs(jopt.adam(0.1, mu_dtype=q, nu_dtype=jnp.bfloat16), params, g)
    assert ((1024,), jnp.float32) in outs and ((1024,), jnp.bfloat16) in outs
    # float moments, and a step that is not elementwise (Muon's), run flat
    assert not _loop_outputs(jopt.adam(0.1), params, g)
    assert not _loop_outputs(jopt.muon(0.02, mu_dtype=q), params, g)
