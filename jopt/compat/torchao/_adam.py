"""torchao 0.18's low-bit AdamW optimizers (``torchao/optim/adam.py``).

Each preset maps torchao's arguments onto :func:`scale_by_torchao_adam` (torchao's
``single_param_adam`` on jopt's block codecs; with ``bf16_stochastic_round=True`` it rounds
bfloat16 parameters as :func:`jopt.stochastic_rounding` does, on the same random stream).
"""

from __future__ import annotations

from collections.abc import Sequence

import optax

from jopt._algorithms.precision.quantized_adam import scale_by_torchao_adam
from jopt._core.checks import Integer, Rule, checked, flag, integer, pair, real, unit_interval
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt.compat.torch._common import EPS, LR

# torchao's _AdamBase checks lr, eps and the betas with torch's wording; weight_decay and
# block_size it does not check (a block size the kind cannot use fails in jopt's codec).
_BETAS = pair(
    unit_interval(message="Invalid beta parameter at index 0"),
    unit_interval(message="Invalid beta parameter at index 1"),
    what="a pair (beta1, beta2)",
)
_RULES: dict[str, Rule] = dict(
    lr=LR,
    betas=_BETAS,
    eps=EPS,
    weight_decay=real(),
    amsgrad=flag(),
    bf16_stochastic_round=flag(),
    seed=Integer(0, 2**32 - 1, why="the seed of jax.random.key is 32-bit"),
)


def _preset(
    kind: str | None,
    lr: ScalarOrSchedule,
    betas: Sequence[Scalar],
    eps: Scalar,
    weight_decay: Scalar,
    amsgrad: bool,
    block_size: int | None,
    bf16_stochastic_round: bool,
    seed: int,
) -> optax.GradientTransformationExtraArgs:
    return scale_by_torchao_adam(
        lr,
        float(betas[0]),
        float(betas[1]),
        float(eps),
        float(weight_decay),
        amsgrad=amsgrad,
        kind=kind,
        block_size=block_size,
        decoupled=True,
        stochastic_round=bf16_stochastic_round,
        seed=seed,
    )


@checked(**_RULES, block_size=integer(1))
def AdamW8bit(  # noqa: N802 (torchao's class name)
    lr: ScalarOrSchedule = 1e-3,
    betas: Sequence[Scalar] = (0.9, 0.999),
    eps: Scalar = 1e-8,
    weight_decay: Scalar = 1e-2,
    amsgrad: bool = False,
    *,
    block_size: int = 256,
    bf16_stochastic_round: bool = False,
    seed: int = 0,
) -> optax.GradientTransformationExtraArgs:
    """``torchao.optim.AdamW8bit``: AdamW with 8-bit moments (Dettmers et al. 2021).

    In float32, t = 1, 2, …:

        θ ← θ − (αλ)θ;  m_t = lerp(m, g, 1 − β1);  v_t = lerp(v, g², 1 − β2);
        θ ← θ − α (m_t / (1 − β1^t)) / (sqrt(v_t) / sqrt(1 − β2^t) + ε),

    with m and v stored as one ``uint8`` code per element of bitsandbytes' dynamic map
    (signed for m, unsigned for v) and one float32 absmax per block of ``block_size``,
    rounded to the nearest code (ties up) as torchao rounds. Leaves of fewer than 4096
    elements, or that the block does not divide, keep m and v in the parameter's dtype.
    The step uses the float32 m_t, v_t; the state keeps their codes.

    Args:
      lr: α >= 0, or a schedule ``count -> α`` (torchao's ``lr`` tensor, changed by
        ``fill_``).
      betas: (β1, β2), each in [0, 1).
      eps: ε >= 0.
      weight_decay: λ (decoupled).
      amsgrad: divide by the running max of v (v̄ quantized as v is). torchao 0.18 itself
        fails on a quantized leaf here (``aten.maximum`` is not implemented for its
        state); this is the step its code spells out.
      block_size: elements per absmax (torchao's default 256).
      bf16_stochastic_round: round bfloat16 parameters stochastically (torchao's rule
        on the random stream of :func:`jopt.stochastic_rounding`).
      seed: jopt's: the seed of the stochastic rounding's random stream (torchao draws
        from torch's global generator).

    Returns:
      An ``optax.GradientTransformationExtraArgs``; its ``update`` needs ``params``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torchao as jao
    >>> tx = jao.AdamW8bit(lr=0.1, weight_decay=0.0)
    >>> params = {"w": jnp.zeros((64, 64))}  # 4096 elements: 16 blocks of codes
    >>> updates, state = tx.update({"w": jnp.ones((64, 64))}, tx.init(params), params)
    >>> updates["w"][0, :2], state.mu["w"].codes.dtype  # first step: −α·sign(g)
    (Array([-0.1, -0.1], dtype=float32), dtype('uint8'))
    """
    return _preset(
        "int8", lr, betas, eps, weight_decay, amsgrad, block_size, bf16_stochastic_round, seed
    )


@checked(**_RULES, block_size=integer(1))
def AdamW4bit(  # noqa: N802
    lr: ScalarOrSchedule = 1e-3,
    betas: Sequence[Scalar] = (0.9, 0.999),
    eps: Scalar = 1e-8,
    weight_decay: Scalar = 1e-2,
    amsgrad: bool = False,
    *,
    block_size: int = 128,
    bf16_stochastic_round: bool = False,
    seed: int = 0,
) -> optax.GradientTransformationExtraArgs:
    """``torchao.optim.AdamW4bit``: AdamW with 4-bit moments (Li et al. 2023).

    The step of :func:`AdamW8bit`, with m stored on the 16-value dynamic map (3 exponent
    bits) and v on the linear map 1/16, …, 16/16, two codes per ``uint8`` (the even
    element in the high nibble), one float32 absmax per block of ``block_size`` (even).

    Args:
      lr: α >= 0, or a schedule ``count -> α``.
      betas: (β1, β2), each in [0, 1).
      eps: ε >= 0.
      weight_decay: λ (decoupled).
      amsgrad: divide by the running max of v (see :func:`AdamW8bit`).
      block_size: elements per absmax, a multiple of 2 (torchao's default 128).
      bf16_stochastic_round: round bfloat16 parameters stochastically.
      seed: jopt's: the seed of the stochastic rounding.

    Returns:
      An ``optax.GradientTransformationExtraArgs``; its ``update`` needs ``params``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torchao as jao
    >>> tx = jao.AdamW4bit()
    >>> tx.init({"w": jnp.zeros((64, 64))}).mu["w"].codes.shape  # 32 blocks, 2 codes a byte
    (32, 64)
    """
    return _preset(
        "int4", lr, betas, eps, weight_decay, amsgrad, block_size, bf16_stochastic_round, seed
    )


@checked(**_RULES, block_size=integer(1))
def AdamWFp8(  # noqa: N802
    lr: ScalarOrSchedule = 1e-3,
    betas: Sequence[Scalar] = (0.9, 0.999),
    eps: Scalar = 1e-8,
    weight_decay: Scalar = 1e-2,
    amsgrad: bool = False,
    *,
    block_size: int = 256,
    bf16_stochastic_round: bool = False,
    seed: int = 0,
) -> optax.GradientTransformationExtraArgs:
    """``torchao.optim.AdamWFp8``: AdamW with FP8 moments.

    The step of :func:`AdamW8bit`, with m and v stored as ``float8_e4m3fn`` codes
    x / s, s = absmax / 448 per block of ``block_size`` (a float32).

    Args:
      lr: α >= 0, or a schedule ``count -> α``.
      betas: (β1, β2), each in [0, 1).
      eps: ε >= 0.
      weight_decay: λ (decoupled).
      amsgrad: divide by the running max of v (see :func:`AdamW8bit`).
      block_size: elements per scale (torchao's default 256).
      bf16_stochastic_round: round bfloat16 parameters stochastically.
      seed: jopt's: the seed of the stochastic rounding.

    Returns:
      An ``optax.GradientTransformationExtraArgs``; its ``update`` needs ``params``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torchao as jao
    >>> tx = jao.AdamWFp8()
    >>> tx.init({"w": jnp.zeros((64, 64))}).nu["w"].codes.dtype
    dtype(float8_e4m3fn)
    """
    return _preset(
        "fp8", lr, betas, eps, weight_decay, amsgrad, block_size, bf16_stochastic_round, seed
    )


@checked(**_RULES)
def _AdamW(  # noqa: N802
    lr: ScalarOrSchedule = 1e-3,
    betas: Sequence[Scalar] = (0.9, 0.999),
    eps: Scalar = 1e-8,
    weight_decay: Scalar = 1e-2,
    amsgrad: bool = False,
    *,
    bf16_stochastic_round: bool = False,
    seed: int = 0,
) -> optax.GradientTransformationExtraArgs:
    """``torchao.optim._AdamW``: the step of :func:`AdamW8bit` with full-precision state.

    m and v are kept in each parameter's dtype (bfloat16 moments for bfloat16
    parameters, rounded to nearest), the step computed in float32. With
    ``bf16_stochastic_round=True`` each bfloat16 parameter lands on one of the two
    bfloat16 neighbours of its float32 result, away from zero with probability equal to
    its distance from the lower one (:func:`jopt.stochastic_rounding`, torchao's
    ``_fp32_to_bf16_sr`` rule; the random bits are jopt's, from ``seed``): bfloat16
    training without float32 master weights. The updates have the gradients' dtype:
    float32 gradients (``g.astype(jnp.float32)``) give float32 updates, which
    ``optax.apply_updates`` lands exactly on that value; bfloat16 ones may miss it by one
    bfloat16 step where the step is large against θ (0.2 % of the elements in the tests,
    at lr=1e-2), as :func:`jopt.stochastic_rounding` does.

    Args:
      lr: α >= 0, or a schedule ``count -> α``.
      betas: (β1, β2), each in [0, 1).
      eps: ε >= 0.
      weight_decay: λ (decoupled).
      amsgrad: divide by the running max of v.
      bf16_stochastic_round: round bfloat16 parameters stochastically.
      seed: jopt's: the seed of the stochastic rounding.

    Returns:
      An ``optax.GradientTransformationExtraArgs``; its ``update`` needs ``params``.

    >>> import jax.numpy as jnp, optax
    >>> import jopt.compat.torchao as jao
    >>> tx = jao._AdamW(lr=1e-3, weight_decay=0.0, bf16_stochastic_round=True)
    >>> params = jnp.ones(1000, jnp.bfloat16)
    >>> updates, _ = tx.update(jnp.ones(1000, jnp.bfloat16), tx.init(params), params)
    >>> new = optax.apply_updates(params, updates)  # 0.999: an eighth of a step below 1
    >>> sorted(set(new.tolist())), round(float(new.astype(jnp.float32).mean()), 3)
    ([0.99609375, 1.0], 0.999)
    """
    return _preset(None, lr, betas, eps, weight_decay, amsgrad, None, bf16_stochastic_round, seed)
