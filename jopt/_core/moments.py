"""How a moment is stored: a float dtype, or block-wise quantized (:func:`jopt.quantized`).

The one home of the storage rule every primitive with moments follows:

- :func:`moments_like`'s quantized branch (:func:`init`) builds a moment of each leaf in
  the format the caller asked for: a :class:`QuantizedMoment` (codes and per-block
  scales) for a real leaf the format quantizes (:func:`jopt._core.quantize.quantizable`:
  at least ``min_size`` elements, a whole number of blocks), else a full-precision array
  in the dtype rule's dtype (:func:`jopt._core.dtypes.state_dtype`), as torchao and
  bitsandbytes keep small leaves;
- :func:`held` gives a step the stored moment: the array itself, or a :class:`Held`
  quantized moment that reads (``.astype(dt)``) as its decoded values and whose
  ``.dtype`` is its :class:`Storage`;
- :func:`jopt._core.dtypes.stored` rounds a new value to its storage and back, so the
  step uses the moment as stored: decode(encode(x)) for a quantized one, as x.astype
  (bfloat16).astype(float32) for a bfloat16 one;
- :func:`write` stores it: ``x.astype(dtype)``, or the codes of the rounding just done
  (encoded once: decode∘encode is not idempotent, a block's absmax may move).

So one step decodes, computes in float32 and requantizes, inside the one jitted update.

>>> import jax.numpy as jnp, jopt
>>> tx = jopt.adam(1e-3, mu_dtype=jopt.quantized("int8"), nu_dtype=jopt.quantized("int8"))
>>> state = tx.init({"w": jnp.zeros((64, 64)), "b": jnp.zeros(8)})
>>> state[0].mu["w"].codes.shape, state[0].mu["w"].scales.shape, state[0].mu["b"].dtype
((16, 256), (16,), dtype('float32'))
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, NamedTuple

import jax
import jax.core
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from jopt._core import quantize
from jopt._core.checks import (
    Dtype,
    UnnamedTypeError,
    UnnamedValueError,
    checked,
    choice,
    unchecked,
)
from jopt._core.dtypes import dtype_of, state_dtype
from jopt._core.layout import Blocks
from jopt.sharding._leafwise import explicit_sharding
from jopt.sharding._placement import blocks_spec

_ROUNDING = {"int8": "bitsandbytes", "int4": "torchao", "fp8": "torchao"}


@dataclass(frozen=True)
class QuantizedFormat:
    """A block-wise quantized state format (made by :func:`jopt.quantized`): what to pass
    as ``mu_dtype``/``nu_dtype``.

    Args:
      kind: ``"int8"``, ``"int4"`` or ``"fp8"``.
      block_size: the elements of one block.
      min_size: the fewest elements a quantized leaf has.
      rounding: ``"bitsandbytes"`` or ``"torchao"`` (how an ``"int8"`` value finds its
        code: bitsandbytes' 65,536-point CPU table, or the nearest code, ties up).

    >>> import jax.numpy as jnp, jopt
    >>> fmt = jopt.quantized("fp8", block_size=64, min_size=0)
    >>> fmt.kind, fmt.block_size, fmt.quantizes(jnp.zeros(128)), fmt.quantizes(jnp.zeros(100))
    ('fp8', 64, True, False)
    """

    kind: str
    block_size: int
    min_size: int
    rounding: str

    def __repr__(self) -> str:
        return (
            f"jopt.quantized({self.kind!r}, block_size={self.block_size}, "
            f"min_size={self.min_size}, rounding={self.rounding!r})"
        )

    def quantizes(self, leaf: Any) -> bool:
        """Whether a moment of ``leaf`` is quantized (a real leaf the block divides, of at
        least ``min_size`` elements)."""
        return not jnp.iscomplexobj(leaf) and quantize.quantizable(
            jnp.shape(leaf), self.block_size, self.min_size
        )


def _positive_int(value: Any) -> bool:
    return bool(
        isinstance(value, (int, np.integer))
        and not isinstance(value, (bool, np.bool_))
        and value > 0
    )


@checked(
    kind=choice(*quantize.KINDS),
    block_size=unchecked("depends on kind, checked below"),
    min_size=unchecked("a non-negative integer, checked below"),
    rounding=unchecked("depends on kind, checked below"),
)
def quantized(
    kind: str,
    block_size: int | None = None,
    min_size: int = quantize.MIN_SIZE,
    *,
    rounding: str | None = None,
) -> QuantizedFormat:
    """A block-wise quantized state format for ``mu_dtype``/``nu_dtype`` (8-bit, 4-bit, FP8).

    A moment leaf is flattened and cut into blocks of ``block_size`` consecutive elements;
    each block stores one float32 scale s = absmax of the block (``"fp8"``: absmax / 448)
    and one code per element, and reads back as x̂ = map[code] · s. Each step decodes,
    computes in float32 and stores the new moment m as its codes; the step itself uses
    the moment as stored, decode(encode(m)). The kinds:

    - ``"int8"``: bitsandbytes' dynamic map (signed for m, unsigned for v), block 256,
      one byte per element; codes as bitsandbytes' CPU ``quantize_blockwise`` rounds
      (``rounding="bitsandbytes"``), so states move between the two;
    - ``"int4"``: torchao's ``AdamW4bit`` maps, block 128, two codes per byte;
    - ``"fp8"``: ``float8_e4m3fn`` codes x / s, block 256.

    A leaf of fewer than ``min_size`` elements, one the block does not divide, and a
    complex one keep full precision (the dtype rule of :mod:`jopt`). The state of a
    quantized leaf is a :class:`jopt.QuantizedMoment`.

    Args:
      kind: ``"int8"``, ``"int4"`` or ``"fp8"``.
      block_size: the elements of one block (None: 256, 128, 256); a positive multiple of
        the codes per byte (2 for ``"int4"``).
      min_size: the fewest elements a quantized leaf has (>= 0).
      rounding: ``"bitsandbytes"`` or ``"torchao"`` for ``"int8"`` (None: bitsandbytes');
        the others round as torchao.

    Returns:
      A state format to pass as ``mu_dtype``/``nu_dtype``.

    >>> import jax.numpy as jnp, jopt
    >>> jopt.quantized("int4")
    jopt.quantized('int4', block_size=128, min_size=4096, rounding='torchao')
    >>> tx = jopt.adam(1e-3, mu_dtype=jopt.quantized("int8"), nu_dtype=jopt.quantized("int8"))
    >>> state = tx.init(jnp.zeros(8192))
    >>> state[0].nu.codes.dtype, state[0].nu.codes.size  # 1 byte per element
    (dtype('uint8'), 8192)
    >>> jopt.quantized("int4", block_size=7)
    Traceback (most recent call last):
    ...
    ValueError: jopt.quantized: block_size=7 is invalid; for kind='int4' ...
    """
    pack = quantize.PACKING[kind]
    if block_size is None:
        block_size = quantize.BLOCK_SIZE[kind]
    if not _positive_int(block_size) or block_size % pack:
        multiple = "a positive integer" if pack == 1 else f"a positive multiple of {pack}"
        raise UnnamedValueError(
            f"block_size={block_size!r} is invalid; for kind={kind!r} block_size must be "
            f"{multiple} (codes per byte: {pack})."
        )
    if (
        not (isinstance(min_size, (int, np.integer)) and not isinstance(min_size, (bool, np.bool_)))
        or min_size < 0
    ):
        raise UnnamedValueError(
            f"min_size={min_size!r} is invalid; min_size must be an integer >= 0."
        )
    allowed = quantize.ROUNDINGS if kind == "int8" else ("torchao",)
    if rounding is None:
        rounding = _ROUNDING[kind]
    if not isinstance(rounding, str) or rounding not in allowed:
        raise UnnamedValueError(
            f"rounding={rounding!r} is invalid; for kind={kind!r} rounding must be one of "
            f"{', '.join(map(repr, allowed))}."
        )
    return QuantizedFormat(kind, int(block_size), int(min_size), rounding)


class QuantizedMoment(NamedTuple):
    """One quantized moment leaf (:func:`jopt.quantized`): codes and per-block scales.

    Args:
      codes: ``(n_blocks, block_size // codes per byte)``: ``uint8`` (``"int8"``; ``"int4"``
        two per byte, the even element in the high nibble) or ``float8_e4m3fn``
        (``"fp8"``); row b holds the codes of the flattened leaf's elements
        b·block_size, ..., (b + 1)·block_size − 1.
      scales: ``(n_blocks,)`` float32, each block's scale.

    Both are split over a mesh by block (:func:`jopt.sharding.state_shardings`).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_lion(mu_dtype=jopt.quantized("int4"))
    >>> m = tx.init(jnp.zeros((64, 64))).mu
    >>> type(m).__name__, m.codes.shape, m.scales.shape  # 128 elements, 64 bytes a block
    ('QuantizedMoment', (32, 64), (32,))
    """

    codes: Annotated[jax.Array, Blocks()]
    scales: Annotated[jax.Array, Blocks()]


@dataclass(frozen=True, eq=False)
class Storage:
    """How one quantized moment leaf is stored, inside one step: the format, the map
    (``signed``) and the leaf's shape. It is the ``.dtype`` of a :class:`Held` moment;
    :func:`jopt._core.dtypes.stored` calls its :meth:`rounded`."""

    format: QuantizedFormat
    signed: bool
    shape: tuple[int, ...]
    # The sharding of the gradient over Explicit mesh axes (None: none): the codec runs
    # with those axes made Auto (its table lookups cannot mix explicit shardings), the
    # values it decodes sharded as the gradient, the codes it encodes as the old ones.
    sharding: Any
    codes_sharding: Any
    # The (decoded, codes) pairs of the roundings done in this step, so that storing a
    # value just rounded reuses its codes.
    _done: list[tuple[jax.Array, QuantizedMoment]]

    def decode(self, q: QuantizedMoment) -> jax.Array:
        """The float32 values ``q`` stands for, of the leaf's shape."""
        f = self.format

        def run(q: QuantizedMoment) -> jax.Array:
            flat = quantize.Quantized(q.codes.reshape(-1), q.scales)
            return quantize.decode(
                flat, f.kind, signed=self.signed, block_size=f.block_size, shape=self.shape
            )

        if self.sharding is None:
            return run(q)
        auto: Any = jax.sharding.auto_axes(run, out_sharding=self.sharding)
        return auto(q)

    def encode(self, x: jax.Array) -> QuantizedMoment:
        """``x``'s codes and scales (reusing a rounding's when ``x`` is its result)."""
        for decoded, q in self._done:
            if x is decoded:
                return q
        f = self.format

        def run(x: jax.Array) -> QuantizedMoment:
            q = quantize.encode(
                x, f.kind, signed=self.signed, block_size=f.block_size, rounding=f.rounding
            )
            n_blocks = q.scales.shape[0]
            return QuantizedMoment(q.codes.reshape(n_blocks, -1), q.scales)

        if self.sharding is None:
            return run(x)
        auto: Any = jax.sharding.auto_axes(run, out_sharding=self.codes_sharding)
        return auto(x)

    def rounded(self, x: jax.Array) -> jax.Array:
        """``x`` as stored, decode(encode(x)), in ``x``'s dtype."""
        q = self.encode(x)
        out = self.decode(q).astype(x.dtype)
        self._done.append((out, q))
        return out


class Held:
    """A quantized moment inside a step: reads as its decoded values, stores as codes.

    ``.astype(dt)`` decodes; ``.dtype`` is its :class:`Storage`, which
    :func:`jopt._core.dtypes.stored` rounds to and :func:`write` stores in.
    """

    def __init__(self, moment: QuantizedMoment, storage: Storage):
        self.moment, self.dtype = moment, storage

    @property
    def shape(self) -> tuple[int, ...]:
        return self.dtype.shape

    def astype(self, dtype: Any) -> jax.Array:
        return self.dtype.decode(self.moment).astype(dtype)


def is_quantized(x: Any) -> bool:
    """Whether ``x`` is a :class:`QuantizedMoment` (a leaf of a moment tree)."""
    return isinstance(x, QuantizedMoment)


def held(m: Any, g: Any, fmt: Any, *, signed: bool = True) -> Any:
    """The stored moment ``m`` of gradient leaf ``g`` as a step reads it: ``m`` itself
    (an array), or a :class:`Held` for a :class:`QuantizedMoment` of format ``fmt``
    (``signed``: the signed map, for a moment of either sign; else the unsigned one)."""
    if isinstance(m, Mapping) and set(m) == set(QuantizedMoment._fields):
        m = QuantizedMoment(m["codes"], m["scales"])  # as flax.nnx.Optimizer hands it back
    if not isinstance(m, QuantizedMoment):
        return m
    if not isinstance(fmt, QuantizedFormat):
        raise UnnamedValueError(
            "the state holds a quantized moment, but the optimizer was built with "
            f"{fmt!r} for it; pass the state its own init() built."
        )
    sharding = explicit_sharding(g)
    codes_sharding = None
    if sharding is not None:
        # the shardings of the codes and scales, in a QuantizedMoment as the codec's output
        codes_sharding = QuantizedMoment(
            explicit_sharding(m.codes) or _replicated(sharding),  # type: ignore[arg-type]
            explicit_sharding(m.scales) or _replicated(sharding),  # type: ignore[arg-type]
        )
    return Held(m, Storage(fmt, signed, tuple(jnp.shape(g)), sharding, codes_sharding, []))


def _replicated(sharding: NamedSharding) -> NamedSharding:
    return NamedSharding(sharding.mesh, PartitionSpec())


def write(x: jax.Array, m: Any) -> Any:
    """The new moment ``x`` (compute dtype) stored as ``m`` is: ``x.astype(m.dtype)``, or
    a :class:`QuantizedMoment` for a :class:`Held` one."""
    if isinstance(m, Held):
        return m.dtype.encode(x)
    return x.astype(m.dtype)


def init(
    leaf: Any, fmt: QuantizedFormat, *, signed: bool = True, real: bool = False, fill: Any = 0.0
) -> Any:
    """A new moment of ``leaf`` in the quantized format ``fmt``, filled with ``fill``: a
    :class:`QuantizedMoment` when ``fmt`` quantizes the leaf, else an array of the dtype
    rule's dtype. Each array is its own buffer; on a committed ``NamedSharding`` leaf the
    codes and scales are placed by block (:func:`jopt.sharding._placement.blocks_spec`)."""
    if not fmt.quantizes(leaf):
        dt = state_dtype(leaf, None, real=real)
        out = jnp.zeros_like(leaf, dtype=dt) if _is_zero(fill) else jnp.full_like(leaf, fill, dt)
        return out
    size = math.prod(jnp.shape(leaf))
    n_blocks = size // fmt.block_size
    one = quantize.encode(
        jnp.full((fmt.block_size,), fill, jnp.float32),
        fmt.kind,
        signed=signed,
        block_size=fmt.block_size,
        rounding=fmt.rounding,
    )
    codes = jnp.tile(one.codes[None, :], (n_blocks, 1))
    scales = jnp.tile(one.scales, n_blocks)
    if isinstance(leaf, jax.core.Tracer):  # under jit: Explicit axes carry it in the type
        sharding = explicit_sharding(leaf)
        if sharding is not None:
            spec = blocks_spec(
                n_blocks, tuple(leaf.shape), tuple(sharding.spec), sharding.mesh.shape
            )
            where = NamedSharding(sharding.mesh, PartitionSpec(*spec))
            codes = jax.sharding.reshard(codes, where)
            scales = jax.sharding.reshard(scales, where)
        return QuantizedMoment(codes, scales)
    sharding = getattr(leaf, "sharding", None)
    if isinstance(sharding, NamedSharding) and getattr(leaf, "committed", False):
        spec = blocks_spec(
            n_blocks, tuple(jnp.shape(leaf)), tuple(sharding.spec), sharding.mesh.shape
        )
        where = NamedSharding(sharding.mesh, PartitionSpec(*spec))
        codes, scales = jax.device_put(codes, where), jax.device_put(scales, where)
    return QuantizedMoment(codes, scales)


def _is_zero(fill: Any) -> bool:
    return isinstance(fill, (int, float)) and fill == 0


def nbytes(tree: Any) -> int:
    """The bytes of every array in ``tree`` (a state), quantized moments included.

    >>> import jax.numpy as jnp, jopt
    >>> from jopt._core.moments import nbytes
    >>> tx = jopt.scale_by_adam(mu_dtype=jopt.quantized("int4"), nu_dtype=jnp.bfloat16)
    >>> nbytes(tx.init(jnp.zeros(8192)))  # m: 4096 + 64·4, v: 2·8192, count: 4
    20740
    """
    return sum(int(np.prod(jnp.shape(x))) * dtype_of(x).itemsize for x in jax.tree.leaves(tree))


@dataclass(frozen=True)
class StateFormat(Dtype):
    """A state format: ``None`` (the dtype rule's default), a floating-point dtype, or a
    quantized format from :func:`jopt.quantized`."""

    def __call__(self, name: str, value: Any) -> Any:
        if isinstance(value, QuantizedFormat):
            return value
        try:
            return super().__call__(name, value)
        except UnnamedTypeError:
            raise UnnamedTypeError(
                f"{name}={value!r} is invalid; {name} must be None, a floating-point dtype "
                "such as jnp.float32 or jnp.bfloat16, or a quantized format such as "
                "jopt.quantized('int8')."
            ) from None


def state_format() -> StateFormat:
    """``None``, a floating-point dtype or a :func:`jopt.quantized` format."""
    return StateFormat()
