"""jopt._core.quantize against the installed bitsandbytes (its CPU quantize_blockwise) and
torchao (the functions behind AdamW8bit, AdamW4bit and AdamWFp8): the same code maps, the
same codes and scales bit for bit on random and adversarial blocks, the same dequantized
values; the leaves they quantize; the arguments refused."""

from __future__ import annotations

import types

import bitsandbytes.functional as bnb
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from torchao.optim import adam as tao_adam
from torchao.optim import quant_utils as tao
from torchao.optim import subclass_4bit, subclass_8bit, subclass_fp8

from jopt._core import quantize as Q

BLOCK8, BLOCK4 = 256, 128


def _encode(kind, signed, rounding="torchao", block_size=None):
    # one compile per (kind, signed, rounding, block, shape)
    return jax.jit(
        lambda x: Q.encode(x, kind, signed=signed, block_size=block_size, rounding=rounding)
    )


def _blocks(values: np.ndarray, block: int) -> np.ndarray:
    """``values`` cut into blocks of ``block - 1`` and each block led by 1.0, so that its
    absmax is 1 and every value is its own normalized value (zero-padded)."""
    values = values.astype(np.float32)
    values = np.concatenate([values, np.zeros((-len(values)) % (block - 1), np.float32)])
    rows = values.reshape(-1, block - 1)
    return np.concatenate([np.ones((len(rows), 1), np.float32), rows], axis=1).reshape(-1)


def adversarial(signed: bool, block: int, grid: bool) -> np.ndarray:
    """Blocks of values on each map's decision points: every code, every midpoint between
    two codes and its float32 neighbours, (``grid``) bitsandbytes' 65,536-point grid's
    cell edges and their neighbours; then an all-zero block, a block whose absmax is a
    negative value, one of a single nonzero, one of tiny values, random ones. (Not
    subnormal values: XLA flushes them to zero, bitsandbytes and torchao do not.)"""
    code = Q.dynamic_map(signed) if block == BLOCK8 else Q.code_map("int4", signed)
    mids = (np.float32(0.5) * (code[:-1] + code[1:])).astype(np.float32)
    parts = [code, mids, np.nextafter(mids, np.float32(2)), np.nextafter(mids, np.float32(-2))]
    if grid:
        edges = ((np.arange(65537) - 0.5) / 65535 * 2 - 1).astype(np.float32)
        parts += [edges, np.nextafter(edges, np.float32(2)), np.nextafter(edges, np.float32(-2))]
    values = np.concatenate(parts)
    values = values[(values >= (-1 if signed else 0)) & (values <= 1)]
    rng = np.random.default_rng(0)
    special = np.zeros((5, block), np.float32)
    special[1] = rng.uniform(-1, 1, block)
    special[1, 7] = -3.0  # the absmax at a negative value (for the signed map)
    special[2, 3] = 1e-30  # one tiny nonzero: normalized to exactly 1
    special[3] = rng.uniform(0, 1, block).astype(np.float32) * np.float32(1e-30)
    special[4] = rng.standard_normal(block) * 1e3
    if not signed:
        special = np.abs(special)
    return np.concatenate([_blocks(values, block), special.reshape(-1)])


def random_blocks(signed: bool, block: int, n: int = 8) -> np.ndarray:
    rng = np.random.default_rng(1 + signed)
    x = rng.standard_normal(n * block).astype(np.float32) * np.float32(1e-3)
    return x if signed else x * x


# ---------------------------------------------------------------------------- code maps


@pytest.mark.parametrize("signed", [True, False])
def test_the_dynamic_map_is_bitsandbytes_and_torchaos(signed):
    ours = Q.dynamic_map(signed)
    np.testing.assert_array_equal(ours, bnb.create_dynamic_map(signed=signed).numpy())
    np.testing.assert_array_equal(ours, np.float32(tao.create_dynamic_map(signed=signed)))
    assert ours.dtype == np.float32 and not ours.flags.writeable


def test_the_4bit_maps_are_torchaos():
    np.testing.assert_array_equal(
        Q.code_map("int4", True), np.float32(subclass_4bit.get_qmap_signed())
    )
    np.testing.assert_array_equal(
        Q.code_map("int4", False), np.float32(subclass_4bit.get_qmap_unsigned())
    )
    np.testing.assert_array_equal(
        Q.code_map("int8", False), np.float32(subclass_8bit.get_qmap_unsigned())
    )


# --------------------------------------------------------------------------- int8 codes


def bitsandbytes_codes(x: np.ndarray, signed: bool) -> tuple[np.ndarray, np.ndarray]:
    code = bnb.create_dynamic_map(signed=signed)
    out, state = bnb.quantize_blockwise(torch.from_numpy(x), code=code, blocksize=BLOCK8)
    return out.numpy(), state.absmax.numpy()


def torchao_codes(x: np.ndarray, signed: bool, kind: str) -> tuple[np.ndarray, np.ndarray]:
    if kind == "fp8":
        codes, scale = subclass_fp8.quantize_fp8(torch.from_numpy(x), BLOCK8)
        return codes.view(torch.uint8).numpy(), scale.numpy()
    block = BLOCK8 if kind == "int8" else BLOCK4
    scaled, scale = tao.scale_tensor(torch.from_numpy(x), block)
    if kind == "int8":
        qmap = torch.tensor(tao.create_dynamic_map(signed=signed), dtype=torch.float32)
        return tao.quantize_8bit_with_qmap(scaled, qmap).numpy(), scale.numpy()
    maps = subclass_4bit.get_qmap_signed() if signed else subclass_4bit.get_qmap_unsigned()
    codes = tao.quantize_4bit_with_qmap(scaled, torch.tensor(maps, dtype=torch.float32))
    return ((codes[::2] << 4) | codes[1::2]).numpy(), scale.numpy()  # AdamW4bit's packing


@pytest.mark.parametrize("signed", [True, False])
def test_bitsandbytes_rounding_is_its_cpu_quantize_blockwise(signed):
    for x in (adversarial(signed, BLOCK8, grid=True), random_blocks(signed, BLOCK8)):
        codes, absmax = bitsandbytes_codes(x, signed)
        ours = _encode("int8", signed, "bitsandbytes")(x)
        np.testing.assert_array_equal(np.asarray(ours.codes), codes)
        np.testing.assert_array_equal(np.asarray(ours.scales), absmax)
        assert ours.codes.dtype == jnp.uint8 and ours.scales.dtype == jnp.float32


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("kind", ["int8", "int4"])
def test_torchao_rounding_is_its_quantize_with_qmap(kind, signed):
    block = BLOCK8 if kind == "int8" else BLOCK4
    for x in (adversarial(signed, block, grid=False), random_blocks(signed, block)):
        codes, scale = torchao_codes(x, signed, kind)
        ours = _encode(kind, signed)(x)
        np.testing.assert_array_equal(np.asarray(ours.codes), codes)
        np.testing.assert_array_equal(np.asarray(ours.scales), scale)


def test_fp8_is_torchaos_quantize_fp8():
    # Blocks of absmax 448 (scale exactly 1): every float8_e4m3fn value, every midpoint
    # between two (a tie, rounded to even) and its neighbours; then random blocks.
    values = np.arange(256, dtype=np.uint8).view(jnp.float8_e4m3fn).astype(np.float32)
    values = np.unique(values[np.isfinite(values)])
    mids = (np.float32(0.5) * (values[:-1] + values[1:])).astype(np.float32)
    ties = np.concatenate(
        [values, mids, np.nextafter(mids, np.float32(1e3)), np.nextafter(mids, np.float32(-1e3))]
    )
    x = np.concatenate([_blocks(ties / 448, BLOCK8) * 448, random_blocks(True, BLOCK8)])
    x = np.concatenate([x, np.zeros(BLOCK8, np.float32)])  # an all-zero block: scale 1e-12/448
    codes, scale = torchao_codes(x, True, "fp8")
    ours = _encode("fp8", True)(x)
    assert ours.codes.dtype == jnp.float8_e4m3fn
    np.testing.assert_array_equal(np.asarray(ours.codes).view(np.uint8), codes)
    np.testing.assert_array_equal(np.asarray(ours.scales), scale)


def test_the_rules_differ_where_the_grid_is_coarser_than_the_map():
    # 0 has no grid point (the nearest are ±1/65535): bitsandbytes codes it as 2.1e-5
    x = np.zeros(BLOCK8, np.float32)
    x[0] = 1.0
    torchao_rule = np.asarray(_encode("int8", True)(x).codes)
    bnb_rule = np.asarray(_encode("int8", True, "bitsandbytes")(x).codes)
    assert Q.dynamic_map(True)[torchao_rule[1]] == 0
    assert Q.dynamic_map(True)[bnb_rule[1]] == pytest.approx(2.125e-5)


# ------------------------------------------------------------------------------ decoding


@pytest.mark.parametrize(
    "kind, signed, rounding",
    [
        ("int8", True, "bitsandbytes"),
        ("int8", False, "torchao"),
        ("int4", True, "torchao"),
        ("int4", False, "torchao"),
        ("fp8", True, "torchao"),
    ],
)
def test_decode_is_the_libraries_dequantize(kind, signed, rounding):
    block = BLOCK4 if kind == "int4" else BLOCK8
    x = random_blocks(signed, block, n=32).reshape(64, -1)  # 4096+ elements, a 2-D leaf
    q = Q.encode(x, kind, signed=signed, rounding=rounding)
    ours = jax.jit(lambda q: Q.decode(q, kind, signed=signed, shape=x.shape))(q)
    codes = torch.from_numpy(np.array(q.codes).view(np.uint8))
    scales = torch.from_numpy(np.array(q.scales))
    if rounding == "bitsandbytes":
        state = bnb.QuantState(
            absmax=scales,
            code=bnb.create_dynamic_map(signed=signed),
            blocksize=block,
            dtype=torch.float32,
        )
        theirs = bnb.dequantize_blockwise(codes, state).numpy()
    elif kind == "int8":
        qmap = torch.tensor(
            subclass_8bit.get_qmap_signed() if signed else subclass_8bit.get_qmap_unsigned()
        )
        theirs = subclass_8bit.OptimState8bit(codes, scales, qmap, signed).dequantize().numpy()
    elif kind == "int4":
        maps = subclass_4bit.get_qmap_signed() if signed else subclass_4bit.get_qmap_unsigned()
        state = subclass_4bit.OptimState4bit(codes, scales, torch.tensor(maps), signed, x.shape)
        theirs = state.dequantize().numpy()
    else:
        codes = codes.view(torch.float8_e4m3fn)
        theirs = subclass_fp8.OptimStateFp8(codes, scales).dequantize().numpy()
    np.testing.assert_array_equal(np.asarray(ours), theirs.reshape(x.shape))
    assert ours.shape == x.shape and ours.dtype == jnp.float32
    bf16 = Q.decode(q, kind, signed=signed, shape=x.shape, dtype=jnp.bfloat16)
    assert bf16.dtype == jnp.bfloat16


def test_a_round_trip_is_within_half_a_code_step():
    x = random_blocks(True, BLOCK8, n=2)
    back = Q.decode(Q.encode(x, "int8"), "int8", shape=x.shape)
    # the signed map's widest gap is 0.0141 (near ±1), times the block's absmax
    absmax = np.abs(x.reshape(2, -1)).max(axis=1, keepdims=True)
    err = np.abs(np.asarray(back) - x).reshape(2, -1)
    assert np.all(err <= 0.0071 * absmax)


def test_encode_and_decode_jit_under_strict_promotion():
    x = jnp.asarray(random_blocks(False, BLOCK8, n=2), jnp.bfloat16)
    with jax.numpy_dtype_promotion("strict"):
        for kind, rounding in [
            ("int8", "bitsandbytes"),
            ("int8", "torchao"),
            ("int4", "torchao"),
            ("fp8", "torchao"),
        ]:
            q = _encode(kind, False, rounding)(x)
            out = jax.jit(lambda q, k=kind: Q.decode(q, k, signed=False, shape=x.shape))(q)
            assert out.shape == x.shape


# ---------------------------------------------------------------- which leaves quantize


@pytest.mark.parametrize(
    "shape", [(64, 64), (64, 63), (16, 16), (4096,), (4095,), (8, 1024), (5, 1024), (4352,)]
)
@pytest.mark.parametrize("block", [128, 256])
def test_quantizable_is_torchaos_rule(shape, block):
    owner = types.SimpleNamespace(
        block_size=block, _subclass_zeros=tao_adam.AdamW8bit._subclass_zeros
    )
    buffer = tao_adam._AdamBase._new_buffer(owner, torch.zeros(shape), True)
    assert Q.quantizable(shape, block) == isinstance(buffer, subclass_8bit.OptimState8bit)


# ------------------------------------------------------------------------ bad arguments


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(kind="int2"), "kind"),
        (dict(kind=8), "kind"),
        (dict(kind="int4", block_size=127), "block_size"),
        (dict(block_size=0), "block_size"),
        (dict(block_size=-256), "block_size"),
        (dict(block_size=2.5), "block_size"),
        (dict(block_size=True), "block_size"),
        (dict(rounding="nearest"), "rounding"),
        (dict(kind="int4", rounding="bitsandbytes"), "rounding"),
        (dict(kind="fp8", rounding="bitsandbytes"), "rounding"),
        (dict(block_size=384), "block_size"),  # does not divide 512 elements
        (dict(signed="yes"), "signed"),
    ],
)
def test_bad_arguments_are_refused_naming_them(kwargs, name):
    with pytest.raises((ValueError, TypeError), match=f"{name}="):
        Q.encode(jnp.ones(512, jnp.float32), **kwargs)


def test_decode_refuses_codes_or_scales_of_another_leaf():
    q = Q.encode(jnp.ones(512, jnp.float32), "int8")
    with pytest.raises(ValueError, match="q.codes"):
        Q.decode(q, "int4", shape=(512,))  # int4 of 512 has 256 codes
    with pytest.raises(ValueError, match="q.codes"):
        Q.decode(q, "fp8", shape=(512,))  # fp8 codes are float8_e4m3fn
    with pytest.raises(ValueError, match="q.scales"):
        Q.decode(q, "int8", block_size=128, shape=(512,))
    with pytest.raises(ValueError, match="block_size=256 does not divide"):
        Q.decode(q, "int8", shape=(300,))
    with pytest.raises(TypeError, match="floating point"):
        Q.encode(jnp.ones(256, jnp.int32))


# ------------------------------------------------- the arithmetic encoder = the direct one


def _values_of_interest(kind: str, signed: bool) -> np.ndarray:
    """Every code; every midpoint between two codes; every threshold of both rules (the
    least value coded one up); bitsandbytes' grid points and cell edges; 1 to 3 float32
    steps either side of all of these; 0, −0, ±1, NaN; 10⁶ random values of magnitudes
    10⁻⁹ to 1 (the unsigned map: their absolute values and a few negatives)."""
    code = Q.code_map(kind, signed)
    mids = (np.float32(0.5) * (code[:-1] + code[1:])).astype(np.float32)
    parts = [code, mids, Q._thresholds(kind, signed, "torchao")[1:-1]]
    grid = ((np.arange(65536) * 2 - 65535) / 65535).astype(np.float32)
    edges = ((np.arange(65537) - 0.5) / 65535 * 2 - 1).astype(np.float32)
    if kind == "int8":  # the bitsandbytes thresholds are grid indices
        index = Q._thresholds(kind, signed, "bitsandbytes")[1:-1].astype(np.int64)
        parts += [grid[index], grid[index - 1], grid, edges]
    points = np.concatenate(parts)
    near = [points]
    up = down = points
    for _ in range(3):
        up, down = np.nextafter(up, np.float32(2)), np.nextafter(down, np.float32(-2))
        near += [up, down]
    rng = np.random.default_rng(3)
    magnitude = (10.0 ** rng.uniform(-9, 0, 10**6)).astype(np.float32)
    randoms = magnitude * rng.choice(np.float32([-1, 1]), 10**6)
    x = np.concatenate([*near, randoms, np.float32([0.0, -0.0, 1.0, -1.0])])
    if not signed:
        x = np.concatenate([np.abs(x), x[x < 0][:1000]])
    x = x[np.abs(x) <= 1]
    return np.concatenate([x, np.float32([np.nan])])


@pytest.mark.parametrize(
    "kind, signed, rounding",
    [
        ("int8", True, "torchao"),
        ("int8", False, "torchao"),
        ("int8", True, "bitsandbytes"),
        ("int8", False, "bitsandbytes"),
        ("int4", True, "torchao"),
        ("int4", False, "torchao"),
    ],
)
def test_the_arithmetic_encoder_gives_the_direct_ones_codes(kind, signed, rounding):
    # Blocks led by 1.0 code each value as itself (absmax 1); then random blocks of other
    # scales, where y is a quotient; the codes and the decoded values are identical.
    block = BLOCK8 if kind == "int8" else BLOCK4
    rng = np.random.default_rng(4)
    scaled = rng.standard_normal((64, block)).astype(np.float32)
    scaled *= (10.0 ** rng.uniform(-15, 15, (64, 1))).astype(np.float32)
    scaled[0] = 0.0  # an all-zero block
    if not signed:
        scaled = scaled * scaled
    x = np.concatenate([_blocks(_values_of_interest(kind, signed), block), scaled.ravel()])
    args = dict(signed=signed, rounding=rounding)
    new = jax.jit(lambda x: Q._arithmetic_encode(x, kind, **args))(x)
    old = jax.jit(lambda x: Q._reference_encode(x, kind, **args))(x)
    np.testing.assert_array_equal(np.asarray(new.codes), np.asarray(old.codes))
    np.testing.assert_array_equal(np.asarray(new.scales), np.asarray(old.scales))
    back = jax.jit(lambda q: Q.decode(q, kind, signed=signed, shape=x.shape))
    np.testing.assert_array_equal(np.asarray(back(new)), np.asarray(back(old)))


@pytest.mark.parametrize("signed", [True, False])
def test_the_arithmetic_bitsandbytes_rule_codes_every_grid_index_as_the_table(signed):
    index = jnp.arange(-3, Q._LUT_SIZE + 3, dtype=jnp.int32)  # out of range: clamped
    ours = np.asarray(jax.jit(Q._codes_bitsandbytes, static_argnums=1)(index, signed))
    table = Q.bitsandbytes_table(signed)
    np.testing.assert_array_equal(ours, table[np.clip(np.asarray(index), 0, Q._LUT_SIZE - 1)])


@pytest.mark.parametrize("kind, signed", [("int8", True), ("int8", False), ("int4", True)])
def test_the_thresholds_are_where_the_search_goes_one_up(kind, signed):
    # T[k] codes as k (or above), the float32 below it as k − 1: the direct search's codes
    qmap = jnp.asarray(Q.code_map(kind, signed))
    inner = Q._thresholds(kind, signed, "torchao")[1:-1]
    below = np.nextafter(inner, np.float32(-2))
    at, under = (np.asarray(Q._search(jnp.asarray(t), qmap)) for t in (inner, below))
    np.testing.assert_array_equal(at, np.arange(1, qmap.size))
    np.testing.assert_array_equal(under, np.arange(qmap.size - 1))


def test_a_broken_threshold_is_caught():
    # the equality test's power: one threshold moved by one float32 step changes codes
    inner = np.array(Q._thresholds("int8", True, "torchao"))
    inner[200] = np.nextafter(inner[200], np.float32(2))
    y = jnp.asarray(Q._thresholds("int8", True, "torchao")[200:201])
    c = Q._estimate(y, "int8", True)
    good = Q._correct(c, y, y, Q._thresholds("int8", True, "torchao"), True)
    bad = Q._correct(c, y, y, inner, True)
    assert int(good[0]) == 200 and int(bad[0]) == 199
