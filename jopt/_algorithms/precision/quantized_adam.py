"""Adam with block-quantized moments, step for step as torchao's ``single_param_adam``.

torchao 0.18's low-bit optimizers (``torchao.optim.AdamW8bit``, ``AdamW4bit``,
``AdamWFp8`` and the full-precision ``_AdamW``) share one step; this module is that step
on jopt's codecs (:mod:`jopt._core.quantize`, ``rounding="torchao"``), presets in
:mod:`jopt.compat.torchao`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jopt._algorithms.precision.landing import landing_update
from jopt._algorithms.precision.stochastic_rounding import round_stochastically
from jopt._core.checks import UnnamedValueError
from jopt._core.hyperparams import ScalarOrSchedule
from jopt._core.layout import PerParam
from jopt._core.moments import QuantizedFormat, QuantizedMoment, held
from jopt._core.moments import init as init_quantized
from jopt._core.quantize import BLOCK_SIZE, encode, quantizable
from jopt._core.state import (
    check_params,
    check_update_params,
    evaluate,
    increment,
    scalar,
    zero_count,
    zeros_placed_like,
)

_MIN_SIZE = 4096  # torchao's _new_buffer: "follow bitsandbytes, only quantize >= 4096 values"


class TorchaoAdamState(NamedTuple):
    """The state of the :mod:`jopt.compat.torchao` presets (torchao's ``state[p]``).

    Args:
      count: the steps taken, int32 (torchao's ``state["step"]``, a float32 there).
      mu: per parameter, the first moment (``exp_avg``): a :class:`jopt.QuantizedMoment`
        of codes and per-block float32 scales (the layout of :func:`jopt.quantized`'s, so
        placed by block on a mesh) for a leaf of at least 4096 elements that the block
        divides, else a full array in the parameter's dtype.
      nu: the second moment (``exp_avg_sq``), stored as ``mu`` is.
      nu_max: with ``amsgrad``, the running max of ``nu`` (``max_exp_avg_sq``), stored as
        ``nu`` is; else ``None``.
      key: with stochastic rounding, the key of the next step's random bits (uint32, as
        ``jax.random.key_data`` writes it); else ``None``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torchao as jao
    >>> state = jao.AdamW8bit().init({"w": jnp.zeros((64, 64)), "b": jnp.zeros(64)})
    >>> state.mu["w"].codes.shape, state.mu["w"].scales.shape, state.mu["b"].shape
    ((16, 256), (16,), (64,))
    """

    count: jax.Array
    mu: PerParam
    nu: PerParam
    nu_max: PerParam  # None without amsgrad
    key: Any  # a uint32 array, or None


def _f32(x: jax.Array) -> jax.Array:
    return x.astype(jnp.float32)


def _rounded(x: jax.Array) -> jax.Array:
    # x, a product, rounded to float32 before it is added, as torch's compiled step
    # rounds it: XLA on CPU fuses a·b + c into one fused multiply-add (one rounding), and
    # an optimization barrier does not stop it; a select between x and NaN (x itself) does.
    return jnp.where(jnp.isnan(x), np.float32(np.nan), x)


def _lerp(start: jax.Array, end: jax.Array, weight: float) -> jax.Array:
    # torch.lerp with a Python weight in float32, as torch.compile decomposes it:
    # start + w (end − start) for |w| < 0.5, else end − (end − start)(1 − w); each product
    # rounded (torch's eager CPU kernel uses an FMA instead, which torchao does not run).
    w = np.float32(weight)
    if abs(w) < 0.5:
        return start + _rounded(w * (end - start))
    return end - _rounded((end - start) * (np.float32(1.0) - w))


def _divide(x: jax.Array, divisor: jax.Array) -> jax.Array:
    # x / divisor (a scalar) elementwise, as torch divides: XLA would turn a division by a
    # broadcast scalar into a product with its (rounded) reciprocal, so the divisor is
    # broadcast behind a barrier (which, unlike for a·b + c, stops that rewrite).
    return x / jax.lax.optimization_barrier(jnp.full(x.shape, divisor, jnp.float32))


def scale_by_torchao_adam(
    lr: ScalarOrSchedule,
    b1: float,
    b2: float,
    eps: float,
    weight_decay: float,
    *,
    amsgrad: bool = False,
    kind: str | None = "int8",
    block_size: int | None = None,
    decoupled: bool = True,
    stochastic_round: bool = False,
    seed: int = 0,
) -> optax.GradientTransformationExtraArgs:
    """torchao's ``single_param_adam``: Adam whose moments are stored block-quantized.

    In float32 (θ, g cast up; α the learning rate as a float32, λ the weight decay,
    t = 1, 2, …, m and v dequantized from the state):

        θ ← θ − (αλ)θ (``decoupled``)  or  g ← g + λθ;
        m_t = lerp(m, g, 1 − β1),  v_t = lerp(v, g², 1 − β2);
        v̂ = max(v̄, v_t) with ``amsgrad`` (v̄ dequantized), else v_t;
        θ ← θ − α (m_t / (1 − β1^t)) / (sqrt(v̂) / sqrt(1 − β2^t) + ε).

    The state stores m_t, v_t (and v̂) quantized (torchao's state subclasses quantize on
    ``copy_``); the step itself uses the float32 values. A leaf is quantized when it has at
    least 4096 elements and ``block_size`` divides it (torchao's ``_new_buffer``); other
    leaves, and all of them with ``kind=None``, keep moments in the parameter's dtype,
    rounded to nearest.

    The new θ is the float32 result rounded to the parameter's dtype (to nearest, as
    torch's ``p.copy_``; with ``stochastic_round``, a bfloat16 parameter by torchao's
    stochastic rule, :func:`round_stochastically`, on the random stream of
    :func:`jopt.stochastic_rounding` from ``seed``). The update u, in the gradient's
    dtype, makes ``optax.apply_updates(θ_old, u)`` equal to it (:func:`landing_update`)
    whenever some u of that dtype does: always for a float32 u and a bfloat16 θ; for a
    bfloat16 u when |θ_new − θ_old| <= |θ_old|; for a float32 u and θ unless θ_new − θ_old
    needs more than 24 bits (θ changes sign, say). Otherwise u lands on the value nearest
    the float32 result.

    Args:
      lr: α, a number or a schedule ``count -> α`` (count: the steps already taken).
      b1: β1.
      b2: β2.
      eps: ε.
      weight_decay: λ.
      amsgrad: keep the running max of v and divide by it.
      kind: ``"int8"``, ``"int4"``, ``"fp8"`` or None (full precision).
      block_size: elements per block (None: the kind's default).
      decoupled: AdamW's decay (θ ← θ − αλθ first) rather than Adam's (g ← g + λθ).
      stochastic_round: round bfloat16 parameters stochastically.
      seed: the seed of the stochastic rounding's random stream.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`TorchaoAdamState`; its ``update`` needs ``params``.

    >>> import jax.numpy as jnp
    >>> from jopt._algorithms.precision.quantized_adam import scale_by_torchao_adam
    >>> tx = scale_by_torchao_adam(0.1, 0.9, 0.999, 1e-8, 0.0)
    >>> params = jnp.zeros(4)
    >>> tx.update(jnp.array([1.0, -2.0, 0.0, 3.0]), tx.init(params), params)[0]
    Array([-0.1,  0.1,  0. , -0.1], dtype=float32)
    """
    if kind is not None:
        # checks kind and block_size (the codec's words) on one block
        encode(
            jnp.zeros(block_size or BLOCK_SIZE.get(kind, 1), jnp.float32),
            kind,
            block_size=block_size,
        )

    def quantized(p: jax.Array) -> bool:
        if kind is None:
            return False
        size = block_size if block_size is not None else BLOCK_SIZE[kind]
        return quantizable(p.shape, size, _MIN_SIZE)

    fmt = (
        None
        if kind is None
        else QuantizedFormat(kind, block_size or BLOCK_SIZE[kind], _MIN_SIZE, "torchao")
    )

    def new_buffer(p: jax.Array, signed: bool) -> Any:
        if fmt is None or not quantized(p):
            return zeros_placed_like(p, p.dtype)
        # torchao starts from zero codes and zero scales (which decode to 0), placed by
        # block as jopt.quantized's moments are
        return jax.tree.map(jnp.zeros_like, init_quantized(p, fmt, signed=signed))

    # A quantized moment is read and written by jopt.quantized's storage (sharded codes
    # included), in torchao's format (its rounding, v stored as itself).
    def load(g: jax.Array, x: Any, signed: bool) -> jax.Array:
        if isinstance(x, QuantizedMoment):
            return _rounded(held(x, g, fmt, signed=signed).astype(jnp.float32))
        return _f32(x)

    def store(g: jax.Array, p: jax.Array, x: jax.Array, old: Any, signed: bool) -> Any:
        if isinstance(old, QuantizedMoment):
            return held(old, g, fmt, signed=signed).dtype.encode(x)
        return x.astype(p.dtype)

    def init_fn(params):
        check_params(params)
        for p in jax.tree.leaves(params):
            if not jnp.issubdtype(p.dtype, jnp.floating):
                raise UnnamedValueError(
                    f"a parameter has dtype {p.dtype}; torchao's optimizers take floating "
                    "point parameters only."
                )
        mu = jax.tree.map(lambda p: new_buffer(p, True), params)
        nu = jax.tree.map(lambda p: new_buffer(p, False), params)
        nu_max = jax.tree.map(lambda p: new_buffer(p, False), params) if amsgrad else None
        key = (
            scalar(params, jax.random.key_data(jax.random.key(seed)), jnp.uint32)
            if stochastic_round
            else None
        )
        return TorchaoAdamState(count=zero_count(params), mu=mu, nu=nu, nu_max=nu_max, key=key)

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        check_update_params(updates, params, "for the weight decay and the landing update")
        alpha = jnp.asarray(evaluate(lr, state.count, "lr"), jnp.float32)
        count = increment(state.count)
        step = _f32(count)
        bc1 = np.float32(1.0) - jnp.power(np.float32(b1), step)
        bc2 = np.float32(1.0) - jnp.power(np.float32(b2), step)
        decay = alpha * np.float32(weight_decay)

        leaves, treedef = jax.tree.flatten(updates)
        if state.key is not None:  # jopt.stochastic_rounding's stream
            key, step_key = jax.random.split(jax.random.wrap_key_data(state.key))
            new_key = jax.random.key_data(key)
        else:
            step_key, new_key = None, None

        def land(i: int, g: jax.Array, p: jax.Array, new: jax.Array) -> jax.Array:
            if step_key is not None and jnp.dtype(p.dtype) == jnp.bfloat16:
                bits = jax.random.bits(jax.random.fold_in(step_key, i), p.shape, jnp.uint16)
                target = round_stochastically(new, bits.astype(jnp.uint32))
            else:
                target = new.astype(p.dtype)
            return landing_update(p, target, jnp.dtype(g.dtype), near=new)

        def one(i, g, p, m, v, v_max):
            p32, g32 = _f32(p), _f32(g)
            if decoupled:
                new = p32 - _rounded(decay * p32)
            else:
                new = p32
                g32 = g32 + _rounded(np.float32(weight_decay) * p32)
            m32 = _lerp(load(g, m, True), g32, 1.0 - b1)
            v32 = _lerp(load(g, v, False), _rounded(g32 * g32), 1.0 - b2)
            m_new, v_new = store(g, p, m32, m, True), store(g, p, v32, v, False)
            if v_max is not None:
                v32 = jnp.maximum(load(g, v_max, False), v32)
                v_max = store(g, p, v32, v_max, False)
            denom = _divide(jnp.sqrt(v32), jnp.sqrt(bc2)) + np.float32(eps)
            new = new - alpha * _divide(m32, bc1) / denom
            return land(i, g, p, new), m_new, v_new, v_max

        flat_params = treedef.flatten_up_to(params)
        flat_mu = treedef.flatten_up_to(state.mu)
        flat_nu = treedef.flatten_up_to(state.nu)
        flat_max = (
            treedef.flatten_up_to(state.nu_max)
            if state.nu_max is not None
            else [None] * len(leaves)
        )
        out = [
            one(i, *args)
            for i, args in enumerate(
                zip(leaves, flat_params, flat_mu, flat_nu, flat_max, strict=True)
            )
        ]
        new_updates = treedef.unflatten([o[0] for o in out])
        mu = treedef.unflatten([o[1] for o in out])
        nu = treedef.unflatten([o[2] for o in out])
        nu_max = treedef.unflatten([o[3] for o in out]) if state.nu_max is not None else None
        new_state = TorchaoAdamState(count=count, mu=mu, nu=nu, nu_max=nu_max, key=new_key)
        return new_updates, new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
