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

:func:`chunked` runs an elementwise step on a large quantized leaf in a loop over chunks
of whole blocks, each chunk's codes and scales updated in place: XLA:CPU materializes the
new moment in float32 for the per-block absmax and does not fuse across the reduction, so
the flat step writes and reads several float32 copies of the leaf (fresh buffers, page
faults) where the loop keeps one chunk's temporaries in cache. When the step stores
each moment as it rounded it (Adam's m and v), the loop writes only the new codes and a
second, flat pass computes the update from them (no reduction left, so XLA fuses it into
``optax.apply_updates``). The codes are the same. On XLA:CPU only; the primitives whose
step is elementwise ask for it with ``map_leaves(..., elementwise=True)``.

>>> import jax.numpy as jnp, jopt
>>> tx = jopt.adam(1e-3, mu_dtype=jopt.quantized("int8"), nu_dtype=jopt.quantized("int8"))
>>> state = tx.init({"w": jnp.zeros((64, 64)), "b": jnp.zeros(8)})
>>> state[0].mu["w"].codes.shape, state[0].mu["w"].scales.shape, state[0].mu["b"].dtype
((16, 256), (16,), dtype('float32'))
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, NamedTuple, cast

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
      sqrt_nonnegative: a non-negative moment (v) is stored as the codes of sqrt(v).

    >>> import jax.numpy as jnp, jopt
    >>> fmt = jopt.quantized("fp8", block_size=64, min_size=0)
    >>> fmt.kind, fmt.block_size, fmt.quantizes(jnp.zeros(128)), fmt.quantizes(jnp.zeros(100))
    ('fp8', 64, True, False)
    """

    kind: str
    block_size: int
    min_size: int
    rounding: str
    sqrt_nonnegative: bool = False

    def __repr__(self) -> str:
        return (
            f"jopt.quantized({self.kind!r}, block_size={self.block_size}, "
            f"min_size={self.min_size}, rounding={self.rounding!r}, "
            f"sqrt_nonnegative={self.sqrt_nonnegative})"
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
    sqrt_nonnegative=unchecked("None or a bool, checked below"),
)
def quantized(
    kind: str,
    block_size: int | None = None,
    min_size: int = quantize.MIN_SIZE,
    *,
    rounding: str | None = None,
    sqrt_nonnegative: bool | None = None,
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
    - ``"fp8"``: ``float8_e4m3fn`` codes x / s, block 256; a non-negative moment v is
      stored as the codes of sqrt(v) (``sqrt_nonnegative``).

    Why ``"fp8"`` stores sqrt(v): e4m3's smallest code is 2⁻⁹ of its largest (448), so in
    a block scaled by its absmax an entry below ~4·10⁻⁶ of the largest reads back as 0.
    v = EMA(g²) spans the square of m's range: an entry whose gradient is 10⁻³ of its
    block's largest keeps its m (10⁻³) but loses its v (10⁻⁶), and its step
    m̂/(sqrt(0) + ε) is ~10⁵ times Adam's. On the character language model of
    ``benchmarks/memory.py`` that makes every seed NaN (the rare bytes' embedding rows);
    sqrt(v) has m's range and trains there as float32 does. torchao's ``AdamWFp8``
    stores v itself: :func:`jopt.compat.torchao.AdamWFp8` reproduces that, and
    ``sqrt_nonnegative=False`` gives it to any native optimizer.

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
      sqrt_nonnegative: store a non-negative moment (v, an accumulator) as the codes of its
        square root, decoded as code² (None: ``True`` for ``"fp8"``, ``False`` for the
        integer kinds, whose unsigned maps reach 10⁻⁷ of the absmax already).

    Returns:
      A state format to pass as ``mu_dtype``/``nu_dtype``.

    >>> import jax.numpy as jnp, jopt
    >>> jopt.quantized("int4")  # doctest: +NORMALIZE_WHITESPACE
    jopt.quantized('int4', block_size=128, min_size=4096, rounding='torchao',
                   sqrt_nonnegative=False)
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
    if sqrt_nonnegative is None:
        sqrt_nonnegative = kind == "fp8"
    if not isinstance(sqrt_nonnegative, (bool, np.bool_)):
        raise UnnamedTypeError(
            f"sqrt_nonnegative={sqrt_nonnegative!r} is invalid; it must be None, True or False."
        )
    return QuantizedFormat(kind, int(block_size), int(min_size), rounding, bool(sqrt_nonnegative))


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
    # The codes this step stores, when already known (the second pass of :func:`chunked`):
    # rounding then decodes them instead of encoding its argument.
    known: QuantizedMoment | None = None
    # How many stores reused a rounding's codes (checked by :func:`chunked`).
    _reused: list[bool] = dataclasses.field(default_factory=list)

    @property
    def squared(self) -> bool:
        """Whether the codes stand for the square root of the moment."""
        return self.format.sqrt_nonnegative and not self.signed

    def decode(self, q: QuantizedMoment) -> jax.Array:
        """The float32 values ``q`` stands for, of the leaf's shape."""
        f = self.format

        def run(q: QuantizedMoment) -> jax.Array:
            flat = quantize.Quantized(q.codes.reshape(-1), q.scales)
            x = quantize.decode(
                flat, f.kind, signed=self.signed, block_size=f.block_size, shape=self.shape
            )
            return x * x if self.squared else x

        if self.sharding is None:
            return run(q)
        auto: Any = jax.sharding.auto_axes(run, out_sharding=self.sharding)
        return auto(q)

    def encode(self, x: jax.Array) -> QuantizedMoment:
        """``x``'s codes and scales (reusing a rounding's when ``x`` is its result)."""
        for decoded, q in self._done:
            if x is decoded:
                self._reused.append(True)
                return q
        f = self.format

        def run(x: jax.Array) -> QuantizedMoment:
            if self.squared:
                x = jnp.sqrt(jnp.maximum(x, 0))
            q = quantize.encode(
                x, f.kind, signed=self.signed, block_size=f.block_size, rounding=f.rounding
            )
            n_blocks = q.scales.shape[0]
            return QuantizedMoment(q.codes.reshape(n_blocks, -1), q.scales)

        if self.sharding is None:
            return run(x)
        auto: Any = jax.sharding.auto_axes(run, out_sharding=self.codes_sharding)
        return auto(x)

    def stored_as_rounded(self) -> bool:
        """Whether this step rounded the moment once and stored that rounding."""
        return len(self._done) == 1 and len(self._reused) == 1

    def rounded(self, x: jax.Array) -> jax.Array:
        """``x`` as stored, decode(encode(x)), in ``x``'s dtype."""
        q = self.encode(x) if self.known is None else self.known
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
    if sharding is None and explicit_sharding(m.codes) is not None:
        # a gradient with no sharding of its own, the codes split over Explicit axes
        # (ZeRO-1): the values decode replicated, as the gradient is
        sharding = _replicated(explicit_sharding(m.codes))  # type: ignore[arg-type]
    codes_sharding = None
    if sharding is not None:
        # the shardings of the codes and scales, in a QuantizedMoment as the codec's output
        codes_sharding = QuantizedMoment(
            explicit_sharding(m.codes) or _replicated(sharding),  # type: ignore[arg-type]
            explicit_sharding(m.scales) or _replicated(sharding),  # type: ignore[arg-type]
        )
    storage = Storage(fmt, signed, tuple(jnp.shape(g)), sharding, codes_sharding, [])
    hook = _HOOKS.get(id(m))
    if isinstance(hook, list):  # chunked's first chunk: record how the step stores m
        hook.append(storage)
    elif hook is not None:  # chunked's second pass: the codes it stores are known
        storage = dataclasses.replace(storage, known=hook)
    return Held(m, storage)


_HOOKS: dict[int, Any] = {}
"""id of a :class:`QuantizedMoment` :func:`chunked` hands its step -> a list recording
the :class:`Storage` :func:`held` makes of it, or the moment's new codes."""


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
    fill = jnp.sqrt(jnp.asarray(fill, jnp.float32)) if fmt.sqrt_nonnegative and not signed else fill
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


# ------------------------------------------------------------------- chunked steps

CHUNK = 1 << 16
"""Elements per chunk of :func:`chunked` (rounded down to whole blocks of every moment):
a chunk's float32 temporaries, 256 KiB each, stay in the cache."""


def _as_moment(x: Any) -> Any:
    if isinstance(x, Mapping) and set(x) == set(QuantizedMoment._fields):
        return QuantizedMoment(x["codes"], x["scales"])  # as flax.nnx.Optimizer hands it
    return x


def chunked(fn: Callable[..., tuple[Any, ...]], g: Any, *leaves: Any) -> tuple[Any, ...]:
    """``fn(g, *leaves)`` for an *elementwise* step ``fn`` (element i of each output
    depends only on element i of ``g`` and of each leaf, and each quantized moment's
    block), run over chunks of :data:`CHUNK` elements in a loop when a leaf is a large
    :class:`QuantizedMoment`; otherwise ``fn(g, *leaves)`` itself.

    ``fn`` returns the update (``g``'s shape) and then the new state leaves, output k + 1
    standing for ``leaves[k]`` (the same format). The loop writes each chunk's new codes,
    scales and values in place into those leaves' buffers (donated: no copy); the first
    chunk runs before it, so that what ``fn`` memoizes for one update
    (:func:`jopt._core.dtypes.per_dtype`) is built outside the loop.

    The update: when every leaf is a quantized moment that the step rounds once and
    stores as rounded (Adam's m and v), the loop computes the new codes only, and a
    second, flat pass runs ``fn`` with those codes known (its rounding decodes them, see
    :class:`Storage`): the update is then elementwise in the new codes, with no
    reduction, and XLA fuses it into whatever consumes it (``optax.apply_updates`` on the
    donated parameters) instead of writing a fresh float32 buffer of the leaf. Otherwise
    the loop writes the update too.

    The same values as the flat step, codes included: every block lies in one chunk.
    Only on XLA:CPU, which does not fuse the per-block absmax with the math that makes
    the moment (other backends run flat). Under a mesh context, with leaves sharded over
    ``Explicit`` mesh axes, and for any leaf or output that is not an array of ``g``'s
    shape or a quantized moment of ``g``, the step runs flat.
    """
    leaves = tuple(_as_moment(x) for x in leaves)
    plan = _chunk_plan(g, leaves)
    if plan is None:
        return fn(g, *leaves)
    size, chunk, blocks = plan
    flat_g = jnp.reshape(g, (size,))
    flat = tuple(x if isinstance(x, QuantizedMoment) else jnp.reshape(x, (size,)) for x in leaves)

    def piece(x: Any, block: int, start: Any, length: int) -> Any:
        if isinstance(x, QuantizedMoment):
            at, n = start // block, length // block
            return QuantizedMoment(
                jax.lax.dynamic_slice_in_dim(x.codes, at, n),
                jax.lax.dynamic_slice_in_dim(x.scales, at, n),
            )
        return jax.lax.dynamic_slice_in_dim(x, start, length)

    # the first chunk: it fixes the outputs and records how the step stores each moment
    first_args = [piece(x, b, 0, chunk) for x, b in zip(flat, blocks, strict=True)]
    records: list[list[Storage]] = [[] for _ in leaves]
    for x, record in zip(first_args, records, strict=True):
        if isinstance(x, QuantizedMoment):
            _HOOKS[id(x)] = record
    try:
        probe = fn(jax.lax.slice_in_dim(flat_g, 0, chunk), *first_args)
    finally:
        for x in first_args:
            _HOOKS.pop(id(x), None)
    if not _matches(probe, leaves, chunk, blocks):
        return fn(g, *leaves)
    n_state = len(probe) - 1
    two_pass = n_state == len(leaves) and all(
        isinstance(x, QuantizedMoment) and len(record) == 1 and record[0].stored_as_rounded()
        for x, record in zip(leaves, records, strict=True)
    )

    def land(
        start: Any, carry: tuple[Any, ...], new: tuple[Any, ...]
    ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        # fn's outputs on the chunk at start written into the carry (the update's buffer,
        # None in two passes, and the state buffers: codes or values); and the new scales
        update, bufs = carry
        if update is not None:
            update = jax.lax.dynamic_update_slice_in_dim(update, new[0], start, 0)
        out_bufs, out_scales = [], []
        for k in range(n_state):
            value, b = new[k + 1], blocks[k]
            if isinstance(value, QuantizedMoment):
                at, codes = start // b, _as_bytes(value.codes)
                out_bufs.append(jax.lax.dynamic_update_slice_in_dim(bufs[k], codes, at, 0))
                out_scales.append(value.scales)
            else:
                out_bufs.append(jax.lax.dynamic_update_slice_in_dim(bufs[k], value, start, 0))
                out_scales.append(None)
        return (update, tuple(out_bufs)), tuple(out_scales)

    def step(
        start: Any, length: int, carry: tuple[Any, ...], scales: tuple[Any, ...]
    ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        # scales: the chunk's old scales of each written quantized leaf. Each chunk is
        # read before it is written, so the buffers are updated in place. (The scales
        # travel apart from the carry: XLA copies a small carried buffer that fusions
        # read and update in one iteration, every iteration.)
        _, bufs = carry
        args = []
        for k, (x, b) in enumerate(zip(flat, blocks, strict=True)):
            if k >= n_state:
                args.append(piece(x, b, start, length))
            elif isinstance(x, QuantizedMoment):
                codes = jax.lax.dynamic_slice_in_dim(bufs[k], start // b, length // b)
                codes = jax.lax.bitcast_convert_type(codes, x.codes.dtype)
                args.append(QuantizedMoment(codes, scales[k]))
            else:
                args.append(jax.lax.dynamic_slice_in_dim(bufs[k], start, length))
        new = fn(jax.lax.dynamic_slice_in_dim(flat_g, start, length), *args)
        return land(start, carry, new)

    def old_scales(start: int, stop: int) -> tuple[Any, ...]:
        return tuple(
            x.scales[start // b : stop // b] if isinstance(x, QuantizedMoment) else None
            for x, b in zip(flat[:n_state], blocks, strict=False)
        )

    bufs = tuple(
        _as_bytes(x.codes) if isinstance(x, QuantizedMoment) else x for x in flat[:n_state]
    )
    update = None if two_pass else jnp.zeros((size,), probe[0].dtype)
    carry, first = land(0, (update, bufs), probe)
    n_full = size // chunk

    def body(
        carry: tuple[Any, ...], xs: tuple[Any, ...]
    ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        i, scales = xs
        return step(i * chunk, chunk, carry, scales)

    stacked = tuple(
        None if x is None else x.reshape(n_full - 1, -1) for x in old_scales(chunk, n_full * chunk)
    )
    carry, middle = jax.lax.scan(body, carry, (jnp.arange(1, n_full), stacked))
    parts = [first, tuple(None if x is None else x.reshape(-1) for x in middle)]
    if size > n_full * chunk:
        tail = old_scales(n_full * chunk, size)
        carry, last = step(n_full * chunk, size - n_full * chunk, carry, tail)
        parts.append(last)
    update, bufs = carry
    states: list[Any] = []
    for k in range(n_state):
        x = leaves[k]
        if isinstance(x, QuantizedMoment):
            codes = jax.lax.bitcast_convert_type(bufs[k], x.codes.dtype)
            states.append(
                QuantizedMoment(codes, jnp.concatenate([cast(jax.Array, p[k]) for p in parts]))
            )
        else:
            states.append(jnp.reshape(bufs[k], jnp.shape(x)))
    if update is not None:
        return (jnp.reshape(update, jnp.shape(g)), *states)
    # the second pass: the update, flat, from the new codes
    known = [QuantizedMoment(x.codes, x.scales) for x in leaves]
    for x, new in zip(known, states, strict=True):
        _HOOKS[id(x)] = new
    try:
        out = fn(g, *known)[0]
    finally:
        for x in known:
            _HOOKS.pop(id(x), None)
    return (out, *states)


def _as_bytes(codes: jax.Array) -> jax.Array:
    # codes as uint8 in the loop: XLA:CPU updates a slice of a float8 buffer by converting
    # the whole buffer to float16 and back, every iteration
    return jax.lax.bitcast_convert_type(codes, jnp.uint8)


def _chunk_plan(g: Any, leaves: tuple[Any, ...]) -> tuple[int, int, tuple[int, ...]] | None:
    # (size, chunk, the block of each leaf: 1 for an array) or None: run flat
    if not any(isinstance(x, QuantizedMoment) for x in leaves):
        return None
    shape = jnp.shape(g)
    size = math.prod(shape)
    # XLA:CPU only (other backends fuse the reduction with its producer, and a loop
    # costs them a launch per chunk), and not on a mesh (a chunk would cut across shards)
    if jax.default_backend() != "cpu" or not jax.sharding.get_abstract_mesh().empty:
        return None
    if explicit_sharding(g) is not None:
        return None
    blocks = []
    for x in leaves:
        if isinstance(x, QuantizedMoment):
            n_blocks = jnp.shape(x.scales)[0] if jnp.ndim(x.scales) == 1 else 0
            if (
                not n_blocks
                or size % n_blocks
                or jnp.ndim(x.codes) != 2
                or jnp.shape(x.codes)[0] != n_blocks
                or explicit_sharding(x.codes) is not None
                or explicit_sharding(x.scales) is not None
            ):
                return None
            blocks.append(size // n_blocks)
        elif isinstance(x, jax.Array) and jnp.shape(x) == shape:
            if explicit_sharding(x) is not None:
                return None
            blocks.append(1)
        else:
            return None
    unit = functools.reduce(math.lcm, blocks, 1)
    chunk = max(unit, CHUNK // unit * unit)
    if size < 2 * chunk:
        return None
    return size, chunk, tuple(blocks)


def _matches(out: Any, leaves: tuple[Any, ...], chunk: int, blocks: tuple[int, ...]) -> bool:
    # fn's outputs on one chunk are an update of the chunk's shape and new state leaves
    # in their leaves' formats
    if not isinstance(out, tuple) or len(out) - 1 > len(leaves) or not out:
        return False
    if not isinstance(out[0], jax.Array) or jnp.shape(out[0]) != (chunk,):
        return False
    for new, old, b in zip(out[1:], leaves, blocks, strict=False):
        if isinstance(old, QuantizedMoment):
            if not isinstance(new, QuantizedMoment):
                return False
            want = (chunk // b, jnp.shape(old.codes)[1])
            if jnp.shape(new.codes) != want or new.codes.dtype != old.codes.dtype:
                return False
            if jnp.shape(new.scales) != (chunk // b,) or new.scales.dtype != old.scales.dtype:
                return False
        elif not (
            isinstance(new, jax.Array) and jnp.shape(new) == (chunk,) and new.dtype == old.dtype
        ):
            return False
    return True
