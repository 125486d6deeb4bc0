"""prodigyopt 1.1.2's ``Prodigy`` (``prodigyopt/prodigy.py``) on :func:`jopt.scale_by_prodigy`."""

from __future__ import annotations

import math
from collections.abc import Sequence

import optax

from jopt._algorithms.dadapt.common import GROWTH_RATE
from jopt._algorithms.dadapt.prodigy import scale_by_prodigy
from jopt._core.chain import chain
from jopt._core.checks import Integer, Real, checked, flag, nonnegative, optional, pair
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.learning_rate import scale_by_learning_rate

# prodigyopt's own checks and wording (Prodigy.__init__); it checks neither the weight
# decay (here >= 0), beta3, d_coef nor growth_rate (here > 0).
_BETAS = pair(
    Real(0.0, 1.0, hi_open=True, message="Invalid beta parameter at index 0"),
    Real(0.0, 1.0, hi_open=True, message="Invalid beta parameter at index 1"),
    what="a pair (beta1, beta2)",
)


@checked(
    lr=Real(0.0, lo_open=True, schedule=True, message="Invalid learning rate"),
    betas=_BETAS,
    beta3=optional(Real(0.0, 1.0, hi_open=True)),
    eps=Real(0.0, lo_open=True, message="Invalid epsilon value"),
    weight_decay=nonnegative(),
    decouple=flag(),
    use_bias_correction=flag(),
    safeguard_warmup=flag(),
    d0=Real(0.0, lo_open=True, message="Invalid d0 value"),
    d_coef=Real(0.0, lo_open=True),
    growth_rate=GROWTH_RATE,
    fsdp_in_use=flag(),
    slice_p=Integer(1, why="it fixes the shape of the state"),
)
def Prodigy(  # noqa: N802 (prodigyopt's class name)
    lr: ScalarOrSchedule = 1.0,
    betas: Sequence[Scalar] = (0.9, 0.999),
    beta3: Scalar | None = None,
    eps: Scalar = 1e-8,
    weight_decay: Scalar = 0,
    decouple: bool = True,
    use_bias_correction: bool = False,
    safeguard_warmup: bool = False,
    d0: Scalar = 1e-6,
    d_coef: Scalar = 1.0,
    growth_rate: Scalar = math.inf,
    fsdp_in_use: bool = False,
    slice_p: int = 1,
) -> optax.GradientTransformationExtraArgs:
    """``prodigyopt.Prodigy``: Adam with Prodigy's step-size estimate d.

    Each step, with dlr = d_k·γ·bc (bc = sqrt(1 − β2^{k+1})/(1 − β1^{k+1}) if
    ``use_bias_correction``, else 1), β3 = sqrt(β2) unless given, g ← g + λθ first unless
    ``decouple``, sums over every parameter:

        m ← β1 m + d_k(1 − β1) g,   v ← β2 v + d_k²(1 − β2) g²,
        r ← β3 r + (d_k/d0)·dlr·⟨g, θ0 − θ⟩,   s ← β3 s + (d_k/d0)·dlr·g
            (``safeguard_warmup``: (d_k/d0)·d_k·g),
        d̂ = d_coef·r / ||s||₁,  d_max ← max(d_max, d̂),
        d_{k+1} = min(d_max, growth_rate·(max(d_k, d̂) if d_k = d0 else d_k)),
        θ ← θ − dlr·λθ (``decouple``) − dlr·m / (sqrt(v) + d_{k+1}ε)

    (β1 = 0: d_{k+1}·g in place of m). A step with ||s||₁ = 0 or γ = 0 changes neither θ
    nor d, r, k, as prodigyopt's early return. ``slice_p`` keeps s and θ0 for every
    ``slice_p``-th entry. d is one estimate for the whole tree (prodigyopt's one
    parameter group); the all-reduce of ``fsdp_in_use`` is what a sharded jopt step
    computes anyway (sums over sharded leaves), so the flag is accepted and ignored.

    Args:
      lr: γ > 0, or a schedule ``count -> γ`` (a torch scheduler's ``group['lr']``).
      betas: (β1, β2), each in [0, 1).
      beta3: β3 in [0, 1); None: sqrt(β2).
      eps: ε > 0.
      weight_decay: λ >= 0.
      decouple: AdamW's decoupled decay (else L2 on the gradient).
      use_bias_correction: Adam's bias correction in dlr.
      safeguard_warmup: γ left out of s.
      d0: the initial estimate, > 0.
      d_coef: scales d̂, > 0.
      growth_rate: the largest factor d grows by in a step (inf: no limit).
      fsdp_in_use: accepted and ignored (see above).
      slice_p: every ``slice_p``-th entry in the estimate.

    Returns:
      An ``optax.GradientTransformationExtraArgs``; its ``update`` needs ``params``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.prodigyopt as jp
    >>> tx = jp.Prodigy()
    >>> params = jnp.array([1.0, 2.0])
    >>> updates, state = tx.update(jnp.array([1.0, 1.0]), tx.init(params), params)
    >>> updates  # −dlr·m/(sqrt(v) + dε) = −1e-6·0.1/(sqrt(1e-3) + 1e-8)
    Array([-3.1622e-06, -3.1622e-06], dtype=float32)
    """
    del fsdp_in_use
    return chain(
        scale_by_prodigy(
            lr,
            (betas[0], betas[1]),
            beta3,
            eps,
            d0,
            d_coef,
            weight_decay,
            safeguard_warmup,
            bias_correction=use_bias_correction,
            growth_rate=growth_rate,
            decouple=decouple,
            slice_p=slice_p,
        ),
        scale_by_learning_rate(lr),
    )
