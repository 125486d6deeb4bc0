"""Block-wise quantization of optimizer moments: the codecs of 8-bit, 4-bit and FP8 state.

A moment leaf is flattened and cut into blocks of ``block_size`` consecutive elements; each
block keeps one float32 scale and one code per element (:class:`Quantized`). Three kinds:

- ``"int8"``: bitsandbytes' dynamic code map (Dettmers et al. 2022, "8-bit Optimizers via
  Block-wise Quantization"): 256 values in [-1, 1], signed (for m) or unsigned (for v);
  scale = the block's absmax; one ``uint8`` code per element. Default block 256.
- ``"int4"``: torchao's ``AdamW4bit`` maps (Li et al. 2023, "Memory Efficient Optimizers
  with 4-bit States"): the 16-value dynamic map (3 exponent bits) for m, the linear map
  1/16, 2/16, ..., 1 for v; two codes per ``uint8``, the even element in the high nibble.
  Default block 128.
- ``"fp8"``: torchao's ``AdamWFp8``: codes x / s in ``float8_e4m3fn``, s = absmax / 448.
  Default block 256.

Which code an ``"int8"`` value gets is a rounding rule, and two libraries differ:

- ``rounding="torchao"`` (the default; torchao's ``quantize_8bit_with_qmap``): y = x / s with
  s = max(absmax, 1e-12); the largest code c with map[c] <= y (a branchless binary
  search), one up when y − map[c] >= (map[c+1] − map[c]) / 2: the nearest code, ties up.
- ``rounding="bitsandbytes"`` (bitsandbytes' CPU ``quantize_blockwise``): y = x · (1/absmax)
  clipped to [-1, 1] is first put on a grid of 65,536 points over [-1, 1],
  i = ⌊(y + 1) · 0.5 · 65535 + 0.5⌋, and the code is a table's nearest code to the grid
  point −1 + 2i/65535 (ties down); the scale is absmax itself and an all-zero block gets
  code 0. Near zero, where the codes are closer together than the grid, it is not the
  nearest code.

The codes can be found without the libraries' lookups (torchao's binary search in the map
is 8 dependent gathers, which XLA:CPU runs as scalar loads): each rule codes y as
#{k : y >= T[k]} for ascending thresholds T (the least value each code takes; for
bitsandbytes the least grid index), the dynamic map has a closed form (band i, the decade
[10^(i−B+1)/10, 10^(i−B+1)], holds its codes evenly spaced, so the nearest code is a floor
of a linear function of |y| once the band is known), and an estimate from it, biased to be
the code or the next one away from zero, is corrected by one comparison with the threshold
below it: one gather from a 257-entry table. ``_reference_encode`` is the direct
formulation, ``_arithmetic_encode`` the closed form for both rules; the tests check they
give the same codes on every code, midpoint, threshold and grid point and their float32
neighbours. :func:`encode` takes the faster on XLA:CPU (benchmarks/quantize.py): the
closed form for torchao's rule, bitsandbytes' table for its rule (one gather from 64 KiB,
cheaper there than the closed form's arithmetic and its gather).
Decoding gathers from the 256-entry map (fused with the product by the scale).

Both reproduce their library's codes and scales bit for bit (tests/core/test_quantize.py
runs them against the installed packages), subnormal inputs aside (|x| < 1.2e-38: XLA
flushes them to zero, the libraries do not); :func:`decode` is the same for both,
map[code] · scale. Everything here is jit-able and clean under
``jax_numpy_dtype_promotion="strict"``; shapes, kinds and block sizes are static.
torchao and bitsandbytes quantize only leaves of at least 4096 elements that the block
divides (:func:`quantizable`); smaller leaves keep full precision.

>>> import jax.numpy as jnp
>>> from jopt._core.quantize import encode, decode
>>> x = jnp.linspace(-1.0, 1.0, 512)
>>> q = encode(x, "int8", signed=True)
>>> q.codes.dtype, q.codes.shape, q.scales.shape
(dtype('uint8'), (512,), (2,))
>>> float(jnp.max(jnp.abs(decode(q, "int8", signed=True, shape=x.shape) - x))) < 0.01
True
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jopt._core.checks import UnnamedTypeError, UnnamedValueError

KINDS = ("int8", "int4", "fp8")
ROUNDINGS = ("torchao", "bitsandbytes")
BLOCK_SIZE = {"int8": 256, "int4": 128, "fp8": 256}
"""Each kind's default block: bitsandbytes' and torchao's."""
MIN_SIZE = 4096
"""The fewest elements a quantized leaf has (bitsandbytes' and torchao's threshold)."""
PACKING = {"int8": 1, "int4": 2, "fp8": 1}
"""Codes per byte: a block size must be a multiple of it."""

_FP8 = jnp.float8_e4m3fn
_FP8_MAX = np.float32(448.0)  # the largest finite float8_e4m3fn
_LUT_SIZE = 65536  # bitsandbytes' CPU grid over [-1, 1]


class Quantized(NamedTuple):
    """One quantized leaf: codes and the scale of each block.

    Args:
      codes: the flattened leaf's codes: ``uint8`` (``"int8"``: one per element; ``"int4"``:
        two per byte, the even element in the high nibble) or ``float8_e4m3fn`` (``"fp8"``).
      scales: one float32 scale per block of ``block_size`` consecutive elements.

    >>> import jax.numpy as jnp
    >>> from jopt._core.quantize import encode
    >>> q = encode(jnp.ones(256), "int4", signed=False)
    >>> q.codes.shape, q.scales.shape  # 128 bytes, 2 blocks of 128
    ((128,), (2,))
    """

    codes: jax.Array
    scales: jax.Array


# ------------------------------------------------------------------------ the code maps


def _linspace32(start: float, end: float, steps: int) -> np.ndarray:
    # torch.linspace in float32 on the CPU: start + step·i up to half-way, end − step·(n−1−i)
    # after, each a fused multiply-add (one rounding; the product of two float32 is exact in
    # float64, so float64 then float32 rounds as an FMA does for these values).
    lo, hi = np.float32(start), np.float32(end)
    step = np.float32((hi - lo) / np.float32(steps - 1))
    i = np.arange(steps, dtype=np.float32)
    up = (np.float64(step) * i + np.float64(lo)).astype(np.float32)
    down = (np.float64(-step) * (np.float32(steps - 1) - i) + np.float64(hi)).astype(np.float32)
    return np.where(np.arange(steps) < steps // 2, up, down).astype(np.float32)


@functools.cache
def dynamic_map(signed: bool, max_exponent_bits: int = 7, total_bits: int = 8) -> np.ndarray:
    """bitsandbytes' dynamic code map (``bitsandbytes.functional.create_dynamic_map``), as
    torchao builds it for 8 and 4 bits: sorted float32 values in [-1, 1] with 0 and 1.

    For each exponent i < ``max_exponent_bits``: 10^(i − max_exponent_bits + 1) times the
    midpoints of an evenly spaced grid on [0.1, 1] (2^(i + b) + 1 points, b = total_bits −
    1 − max_exponent_bits, one more for the unsigned map, which has no sign bit), and their
    negatives for the signed map; then 0 and 1. Computed in float32 as torch does.

    Args:
      signed: the map of a signed moment (m) or of a non-negative one (v).
      max_exponent_bits: the exponent bits (7 for 8 bits, 3 for torchao's 4 bits).
      total_bits: the bits of a code.

    Returns:
      The 2^total_bits values, ascending, as a read-only float32 NumPy array.

    >>> from jopt._core.quantize import dynamic_map
    >>> m = dynamic_map(True)
    >>> m.shape, round(float(m[0]), 6), float(m[127]), float(m[-1])
    ((256,), -0.992969, 0.0, 1.0)
    """
    data = []
    non_sign_bits = total_bits - 1
    for i in range(max_exponent_bits):
        items = 2 ** (i + non_sign_bits - max_exponent_bits + (0 if signed else 1)) + 1
        bounds = _linspace32(0.1, 1.0, items)
        means = (bounds[:-1] + bounds[1:]) / np.float32(2.0)
        values = np.float32(10.0 ** (i - max_exponent_bits + 1)) * means
        data.append(values)
        if signed:
            data.append(-values)
    extra = 2 ** (non_sign_bits - max_exponent_bits) - 1
    if extra > 0:  # the codes with all exponent bits zero (none for 8 and 4 bits)
        bounds = _linspace32(0.1, 1.0, extra + 1)
        means = (bounds[:-1] + bounds[1:]) / np.float32(2.0)
        values = np.float32(10.0 ** (-1)) * means
        data.append(values)
        if signed:
            data.append(-values)
    data.append(np.array([0.0, 1.0], np.float32))
    out = np.sort(np.concatenate(data)).astype(np.float32)
    if out.size != 2**total_bits:
        raise UnnamedValueError(
            f"max_exponent_bits={max_exponent_bits} and total_bits={total_bits} give "
            f"{out.size} codes, not 2**total_bits."
        )
    out.setflags(write=False)
    return out


@functools.cache
def code_map(kind: str, signed: bool) -> np.ndarray:
    """The values the codes of ``kind`` stand for (``"int8"`` and ``"int4"``).

    Args:
      kind: ``"int8"`` (bitsandbytes' 256-value dynamic map) or ``"int4"`` (torchao's
        ``AdamW4bit`` maps: the 16-value dynamic map with 3 exponent bits when signed, the
        linear 1/16, ..., 16/16 when not).
      signed: the map of a signed moment or of a non-negative one.

    Returns:
      The map, ascending, a read-only float32 NumPy array.

    >>> from jopt._core.quantize import code_map
    >>> code_map("int4", False)[:3].tolist()
    [0.0625, 0.125, 0.1875]
    """
    if kind == "int8":
        return dynamic_map(signed)
    if kind == "int4":
        if signed:
            return dynamic_map(True, 3, 4)
        out = _linspace32(0.0, 1.0, 17)[1:]  # no zero
        out.setflags(write=False)
        return out
    raise UnnamedValueError(f"kind={kind!r} has no code map; only 'int8' and 'int4' have one.")


@functools.cache
def bitsandbytes_table(signed: bool) -> np.ndarray:
    """bitsandbytes' CPU lookup table: the code of each of 65,536 grid points over [-1, 1].

    Point i is v_i = −1 + 2i/65535 (float32); its code is the number of midpoints
    (map[c] + map[c+1]) / 2 strictly below v_i, so a point on a midpoint takes the lower
    code. Built from :func:`dynamic_map` as bitsandbytes builds it from the map it is given.

    Args:
      signed: the table of the signed map or of the unsigned one.

    Returns:
      The 65,536 codes, a read-only uint8 NumPy array.

    >>> from jopt._core.quantize import bitsandbytes_table
    >>> t = bitsandbytes_table(True)
    >>> int(t[0]), int(t[-1])
    (0, 255)
    >>> int(t[32767]), int(t[32768])  # no grid point is 0: ±1/65535 take codes ±2.1e-5
    (123, 131)
    """
    code = dynamic_map(signed)
    mids = (np.float32(0.5) * (code[:-1] + code[1:])).astype(np.float32)
    i = np.arange(_LUT_SIZE, dtype=np.float32)
    grid = (np.float32(-1.0) + (np.float32(2.0) * i) / np.float32(_LUT_SIZE - 1)).astype(np.float32)
    out = np.searchsorted(mids, grid, side="left").astype(np.uint8)
    out.setflags(write=False)
    return out


# ------------------------------------------------------------------- argument checks


def quantizable(shape: Sequence[int], block_size: int, min_size: int = MIN_SIZE) -> bool:
    """Whether a leaf of ``shape`` is quantized: at least ``min_size`` elements, a whole
    number of blocks (torchao's and bitsandbytes' rule; other leaves keep full precision).

    Args:
      shape: the leaf's shape.
      block_size: the elements of one block.
      min_size: the fewest elements a quantized leaf has.

    Returns:
      True when the leaf is quantized.

    >>> from jopt._core.quantize import quantizable
    >>> quantizable((64, 64), 256), quantizable((64, 63), 256), quantizable((16, 16), 256)
    (True, False, False)
    """
    size = int(np.prod(shape, dtype=np.int64))
    return size >= min_size and size % block_size == 0


def _check(kind: Any, signed: Any, block_size: Any, rounding: Any) -> int:
    if not isinstance(kind, str) or kind not in KINDS:
        raise UnnamedValueError(
            f"kind={kind!r} is invalid; kind must be one of {', '.join(map(repr, KINDS))}."
        )
    if not isinstance(signed, (bool, np.bool_)):
        raise UnnamedTypeError(f"signed={signed!r} is invalid; signed must be True or False.")
    if block_size is None:
        block_size = BLOCK_SIZE[kind]
    pack = PACKING[kind]
    if (
        isinstance(block_size, (bool, np.bool_))
        or not isinstance(block_size, (int, np.integer))
        or block_size <= 0
        or block_size % pack
    ):
        multiple = "a positive integer" if pack == 1 else f"a positive multiple of {pack}"
        raise UnnamedValueError(
            f"block_size={block_size!r} is invalid; for kind={kind!r} block_size must be "
            f"{multiple} (codes per byte: {pack})."
        )
    if not isinstance(rounding, str) or rounding not in ROUNDINGS:
        raise UnnamedValueError(
            f"rounding={rounding!r} is invalid; rounding must be one of "
            f"{', '.join(map(repr, ROUNDINGS))}."
        )
    if rounding == "bitsandbytes" and kind != "int8":
        raise UnnamedValueError(
            f"rounding='bitsandbytes' is invalid for kind={kind!r}; bitsandbytes' rounding "
            "applies to kind='int8' only (use rounding='torchao')."
        )
    return int(block_size)


def _blocks(size: int, block_size: int, what: str) -> int:
    if size == 0 or size % block_size:
        raise UnnamedValueError(
            f"block_size={block_size} does not divide {what} of {size} elements into whole "
            "blocks; quantize only leaves for which quantizable(shape, block_size) holds."
        )
    return size // block_size


# --------------------------------------------------------------------------- encoding


def _search(y: jax.Array, qmap: jax.Array) -> jax.Array:
    # torchao's branchless binary search: the largest c with qmap[c] <= y (0 if none),
    # then one up when y is at or above the midpoint. (The reference formulation, kept for
    # the tests: :func:`encode` finds the same codes arithmetically.)
    n = qmap.shape[0]
    half = n // 2
    c = jnp.where(y >= qmap[half], half, 0)
    step = half // 2
    while step:  # static: log2(n) steps
        c = c + jnp.where(y >= qmap[c + step], step, 0)
        step //= 2
    up = jnp.minimum(c + 1, n - 1)
    low, high = qmap[c], qmap[up]
    return jnp.where(y - low >= (high - low) * np.float32(0.5), up, c)


# ---------------------------------------------------------- the arithmetic encoder
#
# A rounding rule maps y to code #{k : y >= T[k]} for 255 (int4: 15) ascending thresholds
# T (both rules are monotone in y). The encoder estimates the code from the closed form of
# the map, biased so that it is the code or one above it in magnitude, and corrects it
# with one comparison against the threshold below the estimate: c − [y < T[c − 1]]
# (for a negative y, whose estimate is the code or one below: c + [y >= T[c]]). The
# thresholds are a 257-entry float32 table (T padded with −inf and +inf), computed once
# from the map: the one gather left, from a 1 KiB table.


def _ordered(x: np.ndarray) -> np.ndarray:
    # float32 -> int64 that orders as the floats do (−0.0 and 0.0 both map to 0)
    bits = x.astype(np.float32).view(np.int32).astype(np.int64)
    return np.where(bits < 0, -(bits & 0x7FFFFFFF), bits)


def _unordered(k: np.ndarray) -> np.ndarray:
    bits = np.where(k < 0, (-k) | 0x80000000, k).astype(np.uint32)
    return bits.view(np.float32)


def _torchao_up(y: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    # torchao's rounding test between two consecutive codes, in float32
    half = ((high - low).astype(np.float32) * np.float32(0.5)).astype(np.float32)
    return (y - low).astype(np.float32) >= half


@functools.cache
def _thresholds(kind: str, signed: bool, rounding: str) -> np.ndarray:
    """T padded: T[0] = −inf, T[k] the least value coded k or above, T[n] = +inf.

    rounding="torchao": the least float32 y in [map[k−1], map[k]] that rounds up from
    code k − 1 (found by bisection over the float32 values); rounding="bitsandbytes": the
    least grid index i with table[i] >= k, a float32 integer (compared with the index)."""
    qmap = code_map(kind, signed)
    n = qmap.size
    if rounding == "bitsandbytes":
        table = bitsandbytes_table(signed)
        inner = np.searchsorted(table, np.arange(1, n), side="left").astype(np.float32)
    else:
        low, high = qmap[:-1], qmap[1:]
        lo, hi = _ordered(low), _ordered(high)  # up(hi) holds, up(lo) does not
        while np.any(hi - lo > 1):
            mid = (lo + hi) // 2
            up = _torchao_up(_unordered(mid), low, high)
            hi, lo = np.where(up, mid, hi), np.where(up, lo, mid)
        inner = _unordered(hi)
    out = np.concatenate([[-np.inf], inner, [np.inf]]).astype(np.float32)
    out.setflags(write=False)
    return out


def _estimate(v: jax.Array, kind: str, signed: bool) -> jax.Array:
    """The nearest code of v in [-1, 1] or the next one away from zero (int32).

    The dynamic map's band i (of B) holds n_i = 2^(i + e) codes 10^(i−B+1) · (0.1 + 0.9
    (j + 1/2) / n_i), j < n_i (e = 1 for the unsigned 8-bit map, else 0). In
    u = v · R_i − O_i, R_i = n_i / (0.9 · 10^(i−B+1)), O_i = 0.1 n_i / 0.9, the midpoints
    between codes are the integers, so the nearest j is ⌊u⌋ up to rounding errors far
    below 1/2, and ⌊u + 1/2⌋, clamped to [0, n_i] (n_i: the next band's first code), is
    j or j + 1. Between two bands the nearest code is the last of one or the first of the
    next, and the estimate is the latter or (below the decade) the former or its
    successor."""
    f32 = np.float32
    if kind == "int4" and not signed:  # k/16, k = 1..16: code ⌊16v − 1/2⌋, one up at most
        return jnp.clip(jnp.floor(v * f32(16.0)), f32(0.0), f32(15.0)).astype(jnp.int32)
    bands, extra = (7, 0 if signed else 1) if kind == "int8" else (3, 0)
    a = jnp.abs(v) if signed else v
    n0 = 2**extra
    rate = jnp.full_like(a, f32(n0 / (0.9 * 10.0 ** (1 - bands))))
    offset = jnp.full_like(a, f32(0.1 * n0 / 0.9 - 0.5))
    base = jnp.zeros_like(a)
    for i in range(1, bands):
        n = 2 ** (i + extra)
        up = a >= f32(10.0 ** (i - bands))  # band i starts at 10^(i−B+1) · 0.1
        rate = jnp.where(up, f32(n / (0.9 * 10.0 ** (i - bands + 1))), rate)
        offset = jnp.where(up, f32(0.1 * n / 0.9 - 0.5), offset)
        base = jnp.where(up, f32(n - n0), base)
    top = f32(2 ** (bands + extra) - n0)  # the rank of 1.0 (signed: −1.0 would be code −1)
    j = jnp.clip(jnp.floor(a * rate - offset), f32(0.0), base + f32(n0))
    q = jnp.minimum(base + j, top).astype(jnp.int32)  # the rank among values of its sign
    if not signed:
        return q + 1  # code 0 is 0
    zero = 2 ** (bands + extra) - 1  # the code of 0 (127 or 7)
    return jnp.where(v < 0, zero - 1 - q, zero + 1 + q)


def _correct(
    c: jax.Array, v: jax.Array, z: jax.Array, thresholds: np.ndarray, signed: bool
) -> jax.Array:
    # c: _estimate(v); z: the value the thresholds are in (v or the grid index)
    if not signed:
        return c - (z < jnp.asarray(thresholds)[c]).astype(jnp.int32)
    negative = v < 0
    t = jnp.asarray(thresholds)[jnp.where(negative, c + 1, c)]
    return jnp.where(negative, c + (z >= t).astype(jnp.int32), c - (z < t).astype(jnp.int32))


def _codes_torchao(y: jax.Array, kind: str, signed: bool) -> jax.Array:
    c = _correct(_estimate(y, kind, signed), y, y, _thresholds(kind, signed, "torchao"), signed)
    return jnp.where(jnp.isnan(y), 0, c)  # the search's code of NaN


def _codes_bitsandbytes(index: jax.Array, signed: bool) -> jax.Array:
    # index: the grid index ⌊(y + 1) · 0.5 · 65535 + 0.5⌋ (clamped as a gather clamps it)
    index = jnp.clip(index, 0, _LUT_SIZE - 1)
    # the grid point −1 + 2i/65535, near enough for the estimate (2i − 65535 is exact)
    point = (index * 2 - (_LUT_SIZE - 1)).astype(jnp.float32) * np.float32(1 / (_LUT_SIZE - 1))
    c = _estimate(point, "int8", signed)
    thresholds = _thresholds("int8", signed, "bitsandbytes")
    return _correct(c, point, index.astype(jnp.float32), thresholds, signed)


def _absmax(blocks: jax.Array) -> jax.Array:
    return jnp.max(jnp.abs(blocks), axis=1)


def encode(
    x: jax.Array,
    kind: str = "int8",
    *,
    signed: bool = True,
    block_size: int | None = None,
    rounding: str = "torchao",
) -> Quantized:
    """Quantizes ``x`` block-wise (see the module docstring for each kind and rule).

    ``x`` is cast to float32, flattened and cut into blocks of ``block_size`` consecutive
    elements; its size must be a whole number of blocks.

    Args:
      x: the array to quantize (floating point).
      kind: ``"int8"``, ``"int4"`` or ``"fp8"``.
      signed: the signed map (a moment of either sign, m) or the unsigned one (a
        non-negative moment, v); ``"fp8"`` has one format for both.
      block_size: elements per block (None: the kind's default, 256, 128 or 256); a
        multiple of 2 for ``"int4"``.
      rounding: ``"torchao"`` or ``"bitsandbytes"`` (``"int8"`` only).

    Returns:
      A :class:`Quantized` of the codes and the per-block float32 scales.

    >>> import jax.numpy as jnp
    >>> from jopt._core.quantize import encode
    >>> x = jnp.zeros(256).at[0].set(2.0).at[1].set(-1.0)
    >>> q = encode(x, "int8")
    >>> q.codes[:3].tolist(), q.scales.tolist()  # the map's 1, -0.5008 and 0
    ([255, 35, 127], [2.0])
    >>> encode(x, "int8", rounding="bitsandbytes").codes[:3].tolist()  # 0 goes to 2.1e-5
    [255, 35, 131]
    """
    return _encode(x, kind, signed, block_size, rounding, _FASTEST.get(rounding, ""))


def _reference_encode(  # pyright: ignore[reportUnusedFunction]
    x: jax.Array,
    kind: str = "int8",
    *,
    signed: bool = True,
    block_size: int | None = None,
    rounding: str = "torchao",
) -> Quantized:
    # encode's direct formulation: a binary search in the map (torchao) or a gather from
    # bitsandbytes' 65,536-entry table; the same codes, slower on XLA:CPU (the tests
    # compare the two).
    return _encode(x, kind, signed, block_size, rounding, "direct")


def _arithmetic_encode(  # pyright: ignore[reportUnusedFunction]
    x: jax.Array,
    kind: str = "int8",
    *,
    signed: bool = True,
    block_size: int | None = None,
    rounding: str = "torchao",
) -> Quantized:
    # encode's closed-form formulation for both rules (the same codes)
    return _encode(x, kind, signed, block_size, rounding, "arithmetic")


_FASTEST = {"torchao": "arithmetic", "bitsandbytes": "direct"}
"""How :func:`encode` finds each rule's codes: the faster on XLA:CPU (benchmarks/quantize.py).
The torchao search takes 8 dependent gathers, the closed form one; the bitsandbytes table
takes one gather, cheaper there than the closed form's arithmetic plus its one gather."""


def _encode(
    x: jax.Array, kind: str, signed: bool, block_size: int | None, rounding: str, method: str
) -> Quantized:
    block_size = _check(kind, signed, block_size, rounding)
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise UnnamedTypeError(f"x has dtype {x.dtype}; only floating point arrays quantize.")
    _blocks(x.size, block_size, "x")
    blocks = x.astype(jnp.float32).reshape(-1, block_size)
    absmax = _absmax(blocks)
    if kind == "fp8":
        # torch divides by 448; XLA would turn a division by a constant into a product
        # with its (rounded) reciprocal, so the divisor goes through a barrier.
        fp8_max = jax.lax.optimization_barrier(jnp.full(absmax.shape, _FP8_MAX))
        scales = jnp.maximum(absmax, np.float32(1e-12)) / fp8_max
        codes = (blocks / scales[:, None]).astype(_FP8)
        return Quantized(codes.reshape(-1), scales)
    qmap = jnp.asarray(code_map(kind, bool(signed)))
    if rounding == "bitsandbytes":
        table = jnp.asarray(bitsandbytes_table(bool(signed)))
        empty = absmax == 0
        inverse = np.float32(1.0) / jnp.where(empty, np.float32(1.0), absmax)
        y = jnp.clip(blocks * inverse[:, None], np.float32(-1.0), np.float32(1.0))
        grid = (y + np.float32(1.0)) * np.float32(0.5) * np.float32(_LUT_SIZE - 1)
        index = (grid + np.float32(0.5)).astype(jnp.int32)
        if method == "direct":
            coded = table[index]
        else:
            coded = _codes_bitsandbytes(index, bool(signed)).astype(jnp.uint8)
        codes = jnp.where(empty[:, None], jnp.uint8(0), coded)
        return Quantized(codes.reshape(-1), absmax)
    scales = jnp.maximum(absmax, np.float32(1e-12))
    y = blocks / scales[:, None]
    if method == "direct":
        codes = _search(y, qmap)
    else:
        codes = _codes_torchao(y, kind, bool(signed))
    codes = codes.astype(jnp.uint8).reshape(-1)
    if kind == "int4":
        pairs = codes.reshape(-1, 2)
        codes = (pairs[:, 0] << jnp.uint8(4)) | pairs[:, 1]
    return Quantized(codes, scales)


def decode(
    q: Quantized,
    kind: str = "int8",
    *,
    signed: bool = True,
    block_size: int | None = None,
    shape: Sequence[int],
    dtype: Any = jnp.float32,
) -> jax.Array:
    """The values ``q`` stands for: map[code] · scale (``"fp8"``: code · scale), per block,
    computed in float32, reshaped to ``shape`` and cast to ``dtype``.

    Args:
      q: codes and scales from :func:`encode`.
      kind: the kind ``q`` was encoded with.
      signed: the map ``q`` was encoded with.
      block_size: the block ``q`` was encoded with (None: the kind's default).
      shape: the shape of the encoded array.
      dtype: the dtype of the result.

    Returns:
      The dequantized array of ``shape`` and ``dtype``.

    >>> import jax.numpy as jnp
    >>> from jopt._core.quantize import encode, decode
    >>> x = jnp.full((8, 16), 0.3).at[0, 0].set(1.0)
    >>> q = encode(x, "int4", signed=False)  # one block of 128
    >>> decode(q, "int4", signed=False, shape=(8, 16))[0, :3]  # 0.3 → the nearest k/16
    Array([1.    , 0.3125, 0.3125], dtype=float32)
    """
    block_size = _check(kind, signed, block_size, "torchao")
    shape = tuple(int(d) for d in shape)
    size = int(np.prod(shape, dtype=np.int64))
    n_blocks = _blocks(size, block_size, f"shape={shape}")
    codes, scales = jnp.asarray(q.codes), jnp.asarray(q.scales)
    want_codes = jnp.dtype(_FP8) if kind == "fp8" else jnp.dtype(jnp.uint8)
    if codes.dtype != want_codes or codes.size * PACKING[kind] != size:
        raise UnnamedValueError(
            f"q.codes is {codes.dtype}{tuple(codes.shape)}; kind={kind!r} of shape={shape} "
            f"has {size // PACKING[kind]} codes of dtype {want_codes}."
        )
    if scales.dtype != jnp.float32 or scales.shape != (n_blocks,):
        raise UnnamedValueError(
            f"q.scales is {scales.dtype}{tuple(scales.shape)}; shape={shape} with "
            f"block_size={block_size} has float32 scales of shape ({n_blocks},)."
        )
    if kind == "fp8":
        values = codes.astype(jnp.float32)
    else:
        if kind == "int4":
            codes = jnp.stack([codes >> jnp.uint8(4), codes & jnp.uint8(15)], axis=-1)
        values = jnp.asarray(code_map(kind, bool(signed)))[codes.reshape(-1).astype(jnp.int32)]
    out = values.reshape(n_blocks, block_size) * scales[:, None]
    return out.reshape(shape).astype(dtype)
