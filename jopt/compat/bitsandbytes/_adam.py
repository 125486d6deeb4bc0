"""bitsandbytes' ``Adam8bit`` and ``AdamW8bit`` (bitsandbytes/optim/adam.py, adamw.py).

Both are ``Optimizer2State("adam", ..., optim_bits=8)``: the one step of
:mod:`jopt._algorithms.adam.adam8bit_bnb`, with their own defaults and checks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import optax

from jopt._algorithms.adam.adam8bit_bnb import scale_by_bnb_adam
from jopt._core.checks import Real, UnnamedValueError, checked, flag, integer, pair, unchecked

# bitsandbytes' own wording (Optimizer2State.__init__), and concrete numbers only: every
# scalar of its step is formed from Python floats in float64 before it is rounded.
LR = Real(0.0, static=True, message="Invalid learning rate")
EPS = Real(0.0, static=True, message="Invalid epsilon value")
WEIGHT_DECAY = Real(0.0, static=True, message="Invalid weight_decay value")
BETAS = pair(
    Real(0.0, 1.0, hi_open=True, static=True, message="Invalid beta parameter at index 0"),
    Real(0.0, 1.0, hi_open=True, static=True, message="Invalid beta parameter at index 1"),
    what="a pair (beta1, beta2)",
)
RULES = dict(
    lr=LR,
    betas=BETAS,
    eps=EPS,
    weight_decay=WEIGHT_DECAY,
    amsgrad=flag(),
    optim_bits=integer(0),
    args=unchecked("refused unless None by the relation no_overrides"),
    min_8bit_size=integer(0),
    is_paged=flag(),
)


def no_overrides(arguments: Mapping[str, Any]) -> None:
    """bitsandbytes' refusals, a relation of ``@checked``: ``amsgrad=True`` and
    ``optim_bits`` other than 32 (its own checks); and ``args``, an object whose
    ``optim_bits``, ``min_8bit_size``, ``max_unorm`` and ``skip_zeros`` would replace the
    arguments, which these presets do not take (pass ``min_8bit_size`` instead).

    >>> import jopt.compat.bitsandbytes as jb
    >>> jb.AdamW8bit(amsgrad=True)
    Traceback (most recent call last):
    ...
    ValueError: jopt.compat.bitsandbytes.AdamW8bit: amsgrad=True is invalid; ...
    """
    if arguments["amsgrad"]:
        raise UnnamedValueError(
            "amsgrad=True is invalid; bitsandbytes' 8-bit Adam does not support amsgrad "
            "(amsgrad must be False)."
        )
    if arguments["optim_bits"] != 32:
        raise UnnamedValueError(
            f"optim_bits={arguments['optim_bits']!r} is invalid; bitsandbytes' 8-bit Adam "
            "only supports optim_bits=32 (the default, kept for compatibility: the state is "
            "8-bit regardless)."
        )
    if arguments["args"] is not None:
        raise UnnamedValueError(
            f"args={arguments['args']!r} is invalid; args must be None (an args object "
            "overrides optim_bits, min_8bit_size, max_unorm and skip_zeros, which these "
            "presets do not take from it: pass min_8bit_size instead)."
        )


def _step(
    lr: float,
    betas: Sequence[float],
    eps: float,
    weight_decay: float,
    min_8bit_size: int,
) -> optax.GradientTransformationExtraArgs:
    b1, b2 = betas
    return scale_by_bnb_adam(
        float(lr), float(b1), float(b2), float(eps), float(weight_decay), int(min_8bit_size)
    )


@checked(no_overrides, **RULES)
def Adam8bit(  # noqa: N802 (bitsandbytes' class name)
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0,
    amsgrad: bool = False,
    optim_bits: int = 32,
    args: Any | None = None,
    min_8bit_size: int = 4096,
    is_paged: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """``bitsandbytes.optim.Adam8bit`` (bitsandbytes 0.50), step for step as on CPU.

    A parameter of at least ``min_8bit_size`` elements keeps m and v as 8-bit codes of
    bitsandbytes' dynamic maps (signed for m, unsigned for v) with one float32 absmax per
    block of 256 elements; a smaller one keeps them in float32. Each step, in float32:

    m_t = β1 m_{t−1} + (1−β1) g,  v_t = β2 v_{t−1} + (1−β2) g²  (m, v decoded first);
    θ ← θ(1 − αλ) if λ > 0 (decoupled, as in :func:`AdamW8bit`: one kernel serves both);
    θ ← θ − α/(1−β1^t) · m_t / (sqrt(v_t)/sqrt(1−β2^t) + ε)   (8-bit state),
    θ ← θ − α·sqrt(1−β2^t)/(1−β1^t) · m_t / (sqrt(v_t) + ε·sqrt(1−β2^t))   (32-bit);
    then m_t and v_t are re-encoded, each code the one bitsandbytes' CPU
    ``quantize_blockwise`` picks. The state is a
    :class:`jopt._algorithms.adam.adam8bit_bnb.Adam8bitState` (``state1``, ``state2``,
    ``absmax1``, ``absmax2`` as in bitsandbytes' ``optimizer.state[p]``); the update needs
    the params and lands each one on bitsandbytes' value under ``optax.apply_updates``.

    Args:
      lr: α >= 0 (a number: bitsandbytes forms its step's scalars in float64).
      betas: (β1, β2), each in [0, 1).
      eps: ε >= 0.
      weight_decay: λ >= 0 (bitsandbytes' default for ``Adam8bit``: 0).
      amsgrad: refused when True, as bitsandbytes refuses it.
      optim_bits: 32 only, as in bitsandbytes (the state is 8-bit regardless).
      args: None only (bitsandbytes' override object is not taken).
      min_8bit_size: the fewest elements of a parameter with 8-bit state.
      is_paged: accepted and ignored (paging moves memory, not the numbers; on CPU
        bitsandbytes ignores it too).

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.bitsandbytes as jb
    >>> tx = jb.Adam8bit(lr=0.1)
    >>> params = jnp.zeros((64, 64))  # 4096 elements: 8-bit state
    >>> updates, state = tx.update(jnp.ones((64, 64)), tx.init(params), params)
    >>> float(updates[0, 0]), state.state1.dtype  # first step: −α·sign(g)
    (-0.1, dtype('uint8'))
    """
    del amsgrad, optim_bits, args, is_paged  # checked above
    return _step(lr, betas, eps, weight_decay, min_8bit_size)


@checked(no_overrides, **RULES)
def AdamW8bit(  # noqa: N802
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    amsgrad: bool = False,
    optim_bits: int = 32,
    args: Any | None = None,
    min_8bit_size: int = 4096,
    is_paged: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """``bitsandbytes.optim.AdamW8bit`` (bitsandbytes 0.50): :func:`Adam8bit` with
    bitsandbytes' AdamW default λ = 1e-2.

    θ ← θ(1 − αλ), then the step of :func:`Adam8bit` (the decay kept out of m and v).

    Args:
      lr: α >= 0.
      betas: (β1, β2), each in [0, 1).
      eps: ε >= 0.
      weight_decay: λ >= 0 (default 1e-2).
      amsgrad: refused when True.
      optim_bits: 32 only.
      args: None only.
      min_8bit_size: the fewest elements of a parameter with 8-bit state.
      is_paged: accepted and ignored.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.bitsandbytes as jb
    >>> tx = jb.AdamW8bit(lr=0.1, weight_decay=0.5)
    >>> params = jnp.full(3, 2.0)  # 3 elements: 32-bit state
    >>> tx.update(jnp.ones(3), tx.init(params), params)[0]  # 2·(1 − 0.05) − 0.1 − 2
    Array([-0.2, -0.2, -0.2], dtype=float32)
    """
    del amsgrad, optim_bits, args, is_paged
    return _step(lr, betas, eps, weight_decay, min_8bit_size)
