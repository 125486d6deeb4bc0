"""dadaptation 3.2's classes (``dadaptation/dadapt_*.py``) on jopt's D-Adaptation steps."""

from __future__ import annotations

import math
from collections.abc import Sequence

import optax

from jopt._algorithms.dadapt.common import GROWTH_RATE
from jopt._algorithms.dadapt.dadapt_adam import dadapt_adam_step
from jopt._core.checks import Real, checked, flag, integer, nonnegative, pair
from jopt._core.hyperparams import Scalar, ScalarOrSchedule

# dadaptation's own checks and wording; it checks neither the weight decay (here >= 0)
# nor growth_rate (here > 0). log_every (logging) and fsdp_in_use (a sharded jopt step
# sums over its shards anyway) are accepted and ignored.
LR = Real(0.0, lo_open=True, schedule=True, message="Invalid learning rate")
EPS = Real(0.0, lo_open=True, message="Invalid epsilon value")
D0 = Real(0.0, lo_open=True, message="Invalid d0 value")
LOG_EVERY = integer(0)


def _beta(index: int) -> Real:
    return Real(0.0, 1.0, hi_open=True, message=f"Invalid beta parameter at index {index}")


BETAS = pair(_beta(0), _beta(1), what="a pair (beta1, beta2)")


@checked(
    lr=LR,
    betas=BETAS,
    eps=EPS,
    weight_decay=nonnegative(),
    log_every=LOG_EVERY,
    decouple=flag(),
    use_bias_correction=flag(),
    d0=D0,
    growth_rate=GROWTH_RATE,
    fsdp_in_use=flag(),
)
def DAdaptAdam(  # noqa: N802 (dadaptation's class name)
    lr: ScalarOrSchedule = 1.0,
    betas: Sequence[Scalar] = (0.9, 0.999),
    eps: Scalar = 1e-8,
    weight_decay: Scalar = 0,
    log_every: int = 0,
    decouple: bool = False,
    use_bias_correction: bool = False,
    d0: Scalar = 1e-6,
    growth_rate: Scalar = math.inf,
    fsdp_in_use: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """``dadaptation.DAdaptAdam``: Adam with D-Adaptation's step-size estimate d.

    Each step, dlr = d_k·γ·bc (bc = sqrt(1 − β2^{k+1})/(1 − β1^{k+1}) with
    ``use_bias_correction``, else 1), g ← g + λθ first unless ``decouple``, sums over
    every parameter:

        r ← sqrt(β2) r + (1 − sqrt(β2))·dlr·⟨g, s/(sqrt(v) + ε)⟩,
        m ← β1 m + dlr(1 − β1) g,   v ← β2 v + (1 − β2) g²,   s ← sqrt(β2) s + dlr(1 − sqrt(β2)) g,
        d_{k+1} = max(d_k, min(r / ((1 − sqrt(β2))||s||₁), growth_rate·d_k)),
        θ ← θ − dlr·λθ (``decouple``) − m / (sqrt(v) + ε).

    A step with ||s||₁ = 0 or γ = 0 leaves θ, d, r and k as they are (dadaptation's early
    return). This is :func:`jopt.dadapt_adamw` with dadaptation's names and defaults
    (an L2 decay unless ``decouple``).

    Args:
      lr: γ > 0, or a schedule ``count -> γ`` (a torch scheduler's ``group['lr']``).
      betas: (β1, β2), each in [0, 1).
      eps: ε > 0.
      weight_decay: λ >= 0.
      log_every: accepted and ignored (dadaptation logs d every so many steps).
      decouple: AdamW's decoupled decay (else L2).
      use_bias_correction: Adam's bias correction in dlr.
      d0: the initial estimate, > 0.
      growth_rate: the largest factor d grows by in a step.
      fsdp_in_use: accepted and ignored.

    Returns:
      An ``optax.GradientTransformationExtraArgs``; its ``update`` needs ``params``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.dadaptation as jd
    >>> tx = jd.DAdaptAdam()
    >>> params = jnp.array([1.0, 2.0])
    >>> tx.update(jnp.array([1.0, -1.0]), tx.init(params), params)[0]
    Array([-3.1622976e-06,  3.1622976e-06], dtype=float32)
    """
    del log_every, fsdp_in_use
    return dadapt_adam_step(
        lr,
        (betas[0], betas[1]),
        eps,
        d0,
        weight_decay,
        bias_correction=use_bias_correction,
        growth_rate=growth_rate,
        decouple=decouple,
    )
