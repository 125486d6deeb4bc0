"""bitsandbytes' 8-bit Adam step, as its CPU kernels compute it (bitsandbytes 0.50).

One leaf of at least ``min_8bit_size`` elements keeps m and v as ``uint8`` codes of the
dynamic map (signed for m, unsigned for v) with one float32 absmax per block of 256
consecutive elements (the last block may be partial); a smaller leaf keeps them in
float32. Each step, per element, in float32 (bitsandbytes/backends/cpu/ops.py):

- 8-bit (``_optimizer_update_8bit_blockwise_cpu``): m, v ← decode(codes, absmax);
  m ← fma(g, 1−β1, m·β1);  v ← fma((1−β2)·g, g, v·β2);
  θ ← θ·(1 − αλ) if λ > 0;  θ ← θ + (−α/c1)·m / (sqrt(v)/c2 + ε);
  codes, absmax ← encode(m), encode(v) (bitsandbytes' CPU ``quantize_blockwise``).
- 32-bit (``_optimizer_update_32bit_cpu``): the same m and v;  θ ← θ·(1 − αλ) if λ > 0;
  θ ← fma(m / (sqrt(v) + ε·c2), −α·c2/c1, θ).

with c1 = 1 − β1^t and c2 = sqrt(1 − β2^t). PyTorch's ``add_(x, alpha=a)`` and
``addcmul_`` round once (a fused multiply-add on CPU), so the step does too (:func:`fma`,
exact whether or not XLA fuses a product into an addition). bitsandbytes
forms its scalars (1 − β1, −α/c1, ε·c2, ...) from Python floats in float64 and PyTorch
rounds each to float32; :func:`step_scalars` does the same in float32 pairs (48 bits),
which round alike but for a value within about 2^-40 of a float32 rounding boundary.

So m, v and their codes are bitsandbytes' to the bit. θ is, too, except (a) where
PyTorch's float32 ``sqrt`` on CPU is not correctly rounded (it calls MKL's ``vsSqrt`` in
its high-accuracy mode, within about 0.7 ulp; XLA's is correctly rounded), where the step
can differ by an ulp of the quotient, and (b) where no float32 update u lands θ on its new
value under ``optax.apply_updates`` (θ + u; a step larger than |θ|, e.g. θ changing sign):
there the nearest value that lands is taken (tests/compat/bitsandbytes/test_adam.py
measures both).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.core
import jax.numpy as jnp
import numpy as np
import optax

from jopt._algorithms.precision.landing import landing_update
from jopt._core.checks import UnnamedTypeError
from jopt._core.layout import PerParam
from jopt._core.quantize import Quantized, decode, encode
from jopt._core.state import (
    check_params,
    check_update_params,
    increment,
    zero_count,
    zeros_placed_like,
)
from jopt.sharding._leafwise import gathered, map_leaves
from jopt.sharding._placement import replicated_sharding

BLOCK_SIZE = 256
"""bitsandbytes' block on CPU (``Optimizer2State.init_state``)."""


class Adam8bitState(NamedTuple):
    """bitsandbytes' Adam state, per parameter as in its ``optimizer.state[p]``.

    Args:
      count: int32, steps taken (bitsandbytes' ``state["step"]``).
      state1: m: ``uint8`` codes of the parameter's shape for an 8-bit leaf, else float32.
      state2: v: as ``state1`` (the unsigned map's codes).
      absmax1: m's float32 absmax per block of 256 (ceil(n / 256) of them); shape (0,) for
        a 32-bit leaf.
      absmax2: v's, as ``absmax1``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.bitsandbytes as jb
    >>> state = jb.Adam8bit().init({"w": jnp.zeros((64, 64)), "b": jnp.zeros(3)})
    >>> state.state1["w"].dtype, state.absmax1["w"].shape, state.state1["b"].dtype
    (dtype('uint8'), (16,), dtype('float32'))
    """

    count: jax.Array
    state1: PerParam
    state2: PerParam
    absmax1: Any  # one per block, not per element: replicated on a mesh
    absmax2: Any


def _f32(x: float) -> np.float32:
    # a Python float as PyTorch passes it to a float32 kernel: rounded to nearest
    return np.float32(x)


def _opaque(x: jax.Array, zero: jax.Array) -> jax.Array:
    # x unchanged, but not a product the compiler may fuse into the next addition (XLA's
    # CPU backend fuses a·b + c into one rounding when LLVM optimizes): θ·(1 − αλ) is
    # rounded before the step is added; ``zero`` is 0 at run time only.
    bits = jax.lax.bitcast_convert_type(x, jnp.uint32) ^ zero
    return jax.lax.bitcast_convert_type(bits, jnp.float32)


# ----------------------------------------------- float64 scalars from float32 arithmetic
# A value is a pair (hi, lo) of float32 with hi = fl(hi + lo) ("double-float", 48 bits):
# enough to round the step's float64 scalars to float32 as PyTorch does, but for values
# within about 2^-40 of a float32 rounding boundary. Products are exact sums of exact
# partial products (12-bit halves cut by masking the bits), so a compiler fusing a
# product into an addition (XLA's CPU backend does when LLVM optimizes) changes no result.

DF = tuple[jax.Array, jax.Array]


def _df(x: float) -> DF:
    hi = np.float32(x)
    return jnp.float32(hi), jnp.float32(np.float32(x - float(hi)))


def _two_sum(a: jax.Array, b: jax.Array) -> DF:
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _fast_two_sum(a: jax.Array, b: jax.Array) -> DF:  # |a| >= |b|
    s = a + b
    return s, b - (s - a)


def _halves(a: jax.Array) -> tuple[jax.Array, jax.Array]:
    bits = jax.lax.bitcast_convert_type(a, jnp.uint32) & jnp.uint32(0xFFFFF000)
    hi = jax.lax.bitcast_convert_type(bits, jnp.float32)
    return hi, a - hi


def _two_prod(a: jax.Array, b: jax.Array, zero: jax.Array) -> DF:
    a, b = _opaque(a, zero), _opaque(b, zero)  # rounded: a = ah + al exactly
    p = _opaque(a * b, zero)
    (ah, al), (bh, bl) = _halves(a), _halves(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _round_to_odd(v: jax.Array, err: jax.Array) -> jax.Array:
    # v + err exactly (v = fl(v + err)) rounded to odd: v if exact or odd, else its
    # neighbour on err's side (the two bracket the exact sum; one of them is odd)
    even = (jax.lax.bitcast_convert_type(v, jnp.uint32) & jnp.uint32(1)) == 0
    toward = jnp.where(err > 0, np.float32(np.inf), np.float32(-np.inf))
    return jnp.where((err != 0) & even, jnp.nextafter(v, toward), v)


def fma(a: jax.Array, b: jax.Array, c: jax.Array, zero: jax.Array) -> jax.Array:
    """a·b + c rounded once (float32), whether or not the compiler fuses products into
    additions (XLA's CPU backend does only with LLVM's optimizations on): Boldo and
    Melquiond's emulation (2008), RN(t_hi + RO(t_lo + e)) with p + e = a·b exactly and
    t_hi + t_lo = c + p exactly. ``zero`` is a traced 0 (uint32).

    >>> import jax.numpy as jnp, numpy as np
    >>> from jopt._algorithms.adam.adam8bit_bnb import fma
    >>> a = jnp.float32(1 + 2**-12)
    >>> float(fma(a, a, jnp.float32(-1.0), jnp.uint32(0))) == 2**-11 + 2**-24  # a² − 1
    True
    """
    p, e = _two_prod(a, b, zero)
    hi, lo = _two_sum(_opaque(c, zero), p)
    v, err = _two_sum(lo, e)
    return hi + _round_to_odd(v, err)


def _add(x: DF, y: DF) -> DF:
    s, e = _two_sum(x[0], y[0])
    return _fast_two_sum(s, e + (x[1] + y[1]))


def _neg(x: DF) -> DF:
    return -x[0], -x[1]


def _mul(x: DF, y: DF, zero: jax.Array) -> DF:
    p, e = _two_prod(x[0], y[0], zero)
    return _fast_two_sum(p, e + (x[0] * y[1] + x[1] * y[0]))


def _div(x: DF, y: DF, zero: jax.Array) -> DF:
    q1 = x[0] / y[0]
    r = _add(x, _neg(_mul(y, (q1, jnp.zeros_like(q1)), zero)))
    return _fast_two_sum(q1, (r[0] + r[1]) / y[0])


def _sqrt(x: DF, zero: jax.Array) -> DF:
    s = jnp.sqrt(x[0])
    r = _add(x, _neg(_two_prod(s, s, zero)))
    corr = jnp.where(s > 0, (r[0] + r[1]) / (2.0 * s), 0.0)
    return _fast_two_sum(s, corr)


def _one_minus_power(d: DF, t: jax.Array, zero: jax.Array) -> DF:
    # 1 − b^t for b = 1 − d by squaring, on e = 1 − b^k: (1 − e1)(1 − e2) = 1 − (e1 + e2 −
    # e1·e2), which never cancels (the result is at least max(e1, e2)).
    def combine(e1: DF, e2: DF) -> DF:
        return _add(_add(e1, e2), _neg(_mul(e1, e2, zero)))

    def body(_, carry):
        k, result, base = carry
        take = (k & 1) == 1
        joined = combine(result, base)
        result = (jnp.where(take, joined[0], result[0]), jnp.where(take, joined[1], result[1]))
        return k >> 1, result, combine(base, base)

    zero_df = (jnp.float32(0.0), jnp.float32(0.0))
    _, result, _ = jax.lax.fori_loop(0, 31, body, (t, zero_df, d))
    return result


class StepScalars(NamedTuple):
    """The float32 scalars of step t, rounded from PyTorch's float64 Python floats."""

    c2: jax.Array  # sqrt(1 − β2^t)
    lr_c1: jax.Array  # −α / (1 − β1^t)
    eps_c2: jax.Array  # ε·c2
    lr_c2_c1: jax.Array  # −α·c2 / c1


def step_scalars(
    lr: float, b1: float, b2: float, eps: float, count: jax.Array, zero: jax.Array
) -> StepScalars:
    """The :class:`StepScalars` of step t = ``count`` (traced), as bitsandbytes forms them
    in float64 (``correction1 = 1 - beta1**step``, ``correction2 = math.sqrt(1 -
    beta2**step)``) and PyTorch rounds them to float32; ``zero`` is a traced 0 (uint32)."""
    c1 = _one_minus_power(_df(1.0 - b1), count, zero)
    c2 = _sqrt(_one_minus_power(_df(1.0 - b2), count, zero), zero)
    minus_lr = _df(-lr)
    return StepScalars(
        c2=_round(c2),
        lr_c1=_round(_div(minus_lr, c1, zero)),
        eps_c2=_round(_mul(_df(eps), c2, zero)),
        lr_c2_c1=_round(_div(_mul(minus_lr, c2, zero), c1, zero)),
    )


def _round(x: DF) -> jax.Array:
    return x[0] + x[1]


def _replicated(params: Any, x: jax.Array) -> jax.Array:
    # a new state array replicated over committed params' devices, as jit returns it
    sharding = replicated_sharding(params)
    return x if sharding is None or isinstance(x, jax.core.Tracer) else jax.device_put(x, sharding)


def _flat_blocks(x: jax.Array, n_blocks: int) -> jax.Array:
    flat = x.reshape(-1)
    pad = n_blocks * BLOCK_SIZE - flat.size
    return jnp.pad(flat, (0, pad)) if pad else flat


@functools.partial(jax.jit, static_argnums=2)  # whole programs: eager steps on a mesh too
def _decode(codes: jax.Array, absmax: jax.Array, signed: bool) -> jax.Array:
    n_blocks = absmax.shape[0]
    padded = _flat_blocks(codes, n_blocks)
    out = decode(
        Quantized(padded, absmax),
        "int8",
        signed=signed,
        block_size=BLOCK_SIZE,
        shape=(padded.size,),
    )
    return out[: codes.size].reshape(codes.shape)


@functools.partial(jax.jit, static_argnums=1)
def _encode(x: jax.Array, signed: bool) -> tuple[jax.Array, jax.Array]:
    n_blocks = -(-x.size // BLOCK_SIZE)
    # zero padding leaves the last block's absmax and codes as bitsandbytes' partial block
    q = encode(
        _flat_blocks(x, n_blocks),
        "int8",
        signed=signed,
        block_size=BLOCK_SIZE,
        rounding="bitsandbytes",
    )
    return q.codes[: x.size].reshape(x.shape), q.scales


def _encode_whole(x: jax.Array, signed: bool) -> tuple[jax.Array, jax.Array]:
    # encoded whole (a block may span shards), the codes placed as x, the absmax replicated
    absmax: list[jax.Array] = []

    def codes(whole: jax.Array) -> jax.Array:
        c, a = _encode(whole, signed)
        absmax.append(a)
        return c

    return gathered(codes, x), absmax[0]


def scale_by_bnb_adam(
    lr: float,
    b1: float,
    b2: float,
    eps: float,
    weight_decay: float,
    min_8bit_size: int,
) -> optax.GradientTransformationExtraArgs:
    """bitsandbytes' ``Adam8bit``/``AdamW8bit`` step on CPU (see the module docstring),
    from checked Python numbers; the update lands each parameter on bitsandbytes' value
    under ``optax.apply_updates``.

    Args:
      lr: α.
      b1: β1.
      b2: β2.
      eps: ε.
      weight_decay: λ (decoupled, θ·(1 − αλ), for both of bitsandbytes' classes).
      min_8bit_size: the fewest elements of a leaf with 8-bit state.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is an
      :class:`Adam8bitState`; its update needs the params.

    >>> import jax.numpy as jnp
    >>> from jopt._algorithms.adam.adam8bit_bnb import scale_by_bnb_adam
    >>> tx = scale_by_bnb_adam(0.1, 0.9, 0.999, 1e-8, 0.0, 4096)
    >>> params = jnp.zeros(2)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(params), params)[0]  # −α·sign(g)
    Array([-0.1,  0.1], dtype=float32)
    """
    b1f, rest1, b2f, rest2 = _f32(b1), _f32(1.0 - b1), _f32(b2), _f32(1.0 - b2)
    eps32 = _f32(eps)
    decay = _f32(1.0 - lr * weight_decay) if weight_decay > 0.0 else None

    def init_fn(params):
        check_params(params)

        def make(p):
            if jnp.iscomplexobj(p):
                raise UnnamedTypeError(
                    "init() got a complex parameter; bitsandbytes' 8-bit Adam updates real "
                    "parameters only."
                )
            n = int(np.prod(p.shape, dtype=np.int64))
            eight_bit = n >= min_8bit_size
            dtype = jnp.uint8 if eight_bit else jnp.float32
            blocks = -(-n // BLOCK_SIZE) if eight_bit else 0
            zeros = [zeros_placed_like(p, dtype) for _ in range(2)]
            absmax = [_replicated(params, jnp.zeros((blocks,), jnp.float32)) for _ in range(2)]
            return (*zeros, *absmax)

        made = jax.tree.map(make, params)
        leaves = [jax.tree.map(lambda _, m, i=i: m[i], params, made) for i in range(4)]
        return Adam8bitState(zero_count(params), *leaves)

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        check_update_params(updates, params, "(bitsandbytes' step reads θ)", state.state1)
        count = increment(state.count)
        zero = state.count.astype(jnp.uint32) >> 31  # a count is below 2**31
        k = step_scalars(lr, b1, b2, eps, count, zero)

        def moments(g, m, v):  # PyTorch's mul_ then add_(alpha=) / addcmul_: one FMA each
            return fma(g, jnp.asarray(rest1), m * b1f, zero), fma(g * rest2, g, v * b2f, zero)

        def decayed(p):
            return p if decay is None else _opaque(p * decay, zero)

        def step(g, p, s1, s2, a1, a2):
            g32, p32 = g.astype(jnp.float32), p.astype(jnp.float32)
            if s1.dtype == jnp.uint8:
                m = gathered(lambda c: _decode(c, a1, True), s1)  # whole: blocks span shards
                v = gathered(lambda c: _decode(c, a2, False), s2)
                m, v = moments(g32, m, v)
                # XLA would divide by a broadcast scalar as a product with its reciprocal
                c2 = jax.lax.optimization_barrier(jnp.broadcast_to(k.c2, v.shape))
                denom = jnp.sqrt(v) / c2 + eps32
                new = decayed(p32) + (k.lr_c1 * m) / denom
                (s1, a1), (s2, a2) = _encode_whole(m, True), _encode_whole(v, False)
            else:
                m, v = moments(g32, s1, s2)
                direction = m / (jnp.sqrt(v) + k.eps_c2)
                new = fma(direction, k.lr_c2_c1, decayed(p32), zero)
                s1, s2 = m, v
            target = new.astype(p.dtype)
            return landing_update(p, target, jnp.dtype(p.dtype)), s1, s2, a1, a2

        out = map_leaves(
            step, 5, updates, params, state.state1, state.state2, state.absmax1, state.absmax2
        )
        return out[0], Adam8bitState(count, *out[1:])

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
