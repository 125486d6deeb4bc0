"""dadaptation 3.2's classes (``dadaptation/dadapt_*.py``) on jopt's D-Adaptation steps."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import optax

from jopt._algorithms.dadapt.common import GROWTH_RATE
from jopt._algorithms.dadapt.dadapt_adagrad import dadapt_adagrad_step
from jopt._algorithms.dadapt.dadapt_adam import dadapt_adam_step
from jopt._algorithms.dadapt.dadapt_adan import dadapt_adan_step
from jopt._algorithms.dadapt.dadapt_lion import dadapt_lion_step
from jopt._algorithms.dadapt.dadapt_sgd import dadapt_sgd_step
from jopt._core.checks import (
    Real,
    Rule,
    UnnamedTypeError,
    checked,
    flag,
    integer,
    nonnegative,
    pair,
)
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


@dataclass(frozen=True)
class Betas3(Rule):
    """DAdaptAdan's (β1, β2, β3): three numbers, each checked with dadaptation's words."""

    kind: ClassVar[str] = "triple"

    def __call__(self, name: str, value: Any) -> Any:
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 3:
            raise UnnamedTypeError(f"{name} must be a triple (beta1, beta2, beta3), got {value!r}.")
        return tuple(_beta(i)(f"{name}[{i}]", v) for i, v in enumerate(value))

    def bad(self) -> dict[str, Any]:
        return {"two": (0.9, 0.9), "none": None, "above": (0.9, 0.9, 1.0)}


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


@checked(
    lr=LR,
    momentum=nonnegative(),
    weight_decay=nonnegative(),
    log_every=LOG_EVERY,
    d0=D0,
    growth_rate=GROWTH_RATE,
    fsdp_in_use=flag(),
)
def DAdaptSGD(  # noqa: N802
    lr: ScalarOrSchedule = 1.0,
    momentum: Scalar = 0.0,
    weight_decay: Scalar = 0,
    log_every: int = 0,
    d0: Scalar = 1e-6,
    growth_rate: Scalar = math.inf,
    fsdp_in_use: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """``dadaptation.DAdaptSGD``: dual averaging with D-Adaptation's estimate d.

    ||g0|| is the first gradient's norm (over every parameter, before the decay); then,
    with g ← g + λθ and dlr = d_k·γ/||g0||:

        r ← r + dlr·⟨g, s⟩,   s ← s + dlr·g,
        d_{k+1} = max(d_k, min(2r/||s||₂, growth_rate·d_k)),
        θ ← momentum·θ + (1 − momentum)(x0 − s).

    A step with ||s||₂ = 0 or γ = 0 changes neither θ nor d, r, k (where dadaptation
    itself fails: it divides by ||g0|| = 0, and reads an unset sum at γ = 0).

    Args:
      lr: γ > 0, or a schedule ``count -> γ``.
      momentum: in [0, 1] in practice (dadaptation does not check it; here >= 0).
      weight_decay: λ >= 0 (L2, on the gradient).
      log_every: accepted and ignored.
      d0: the initial estimate, > 0.
      growth_rate: the largest factor d grows by in a step.
      fsdp_in_use: accepted and ignored.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`DAdaptSGDState`; its ``update`` needs ``params``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.dadaptation as jd
    >>> tx = jd.DAdaptSGD()
    >>> params = jnp.array([1.0, 2.0])
    >>> tx.update(jnp.array([3.0, 4.0]), tx.init(params), params)[0]  # −d0·g/||g||
    Array([-6.e-07, -8.e-07], dtype=float32)
    """
    del log_every, fsdp_in_use
    return dadapt_sgd_step(lr, momentum, weight_decay, d0, growth_rate)


@checked(
    lr=Real(0.0, lo_open=True, schedule=True, message="Learning rate must be positive"),
    momentum=Real(0.0, message="Momentum must be non-negative"),
    log_every=LOG_EVERY,
    weight_decay=nonnegative(),
    eps=EPS,
    d0=D0,
    growth_rate=GROWTH_RATE,
)
def DAdaptAdaGrad(  # noqa: N802
    lr: ScalarOrSchedule = 1.0,
    momentum: Scalar = 0,
    log_every: int = 0,
    weight_decay: Scalar = 0.0,
    eps: Scalar = 1e-6,
    d0: Scalar = 1e-6,
    growth_rate: Scalar = math.inf,
) -> optax.GradientTransformationExtraArgs:
    """``dadaptation.DAdaptAdaGrad``: AdaGrad's dual averaging with D-Adaptation's d.

    With g ← g + λθ, dlr = d_k·γ, α starting at 1e-6, sums over every parameter:

        α ← α + g²,   s ← s + dlr·g,
        G ← G + dlr²·Σ g²/(sqrt(α) + ε),   Q = Σ s²/(sqrt(α) + ε),
        d_{k+1} = max(d_k, min((Q − G)/||s||₁, growth_rate·d_k)),
        θ ← momentum·θ + (1 − momentum)(x0 − s/(sqrt(α) + ε)).

    Q and ||s||₁ are kept as dadaptation keeps them, as running sums of each step's
    change. A step with ||s||₁ = 0 leaves θ, d and k (α and s are updated). Dense
    gradients only (dadaptation's sparse path has no counterpart).

    Args:
      lr: γ > 0, or a schedule ``count -> γ``.
      momentum: >= 0.
      log_every: accepted and ignored.
      weight_decay: λ >= 0 (L2).
      eps: ε > 0.
      d0: the initial estimate, > 0.
      growth_rate: the largest factor d grows by in a step.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`DAdaptAdaGradState`; its ``update`` needs ``params``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.dadaptation as jd
    >>> tx = jd.DAdaptAdaGrad()
    >>> params = jnp.array([1.0, 2.0])
    >>> u, state = tx.update(jnp.array([3.0, -4.0]), tx.init(params), params)
    >>> float(state.skl1)  # ||s||₁ = d0·||g||₁
    7e-06
    """
    del log_every
    return dadapt_adagrad_step(lr, momentum, weight_decay, eps, d0, growth_rate)


@checked(
    lr=Real(0.0, schedule=True, message="Invalid learning rate"),
    betas=BETAS,
    weight_decay=nonnegative(),
    log_every=LOG_EVERY,
    d0=Real(0.0, lo_open=True),
    fsdp_in_use=flag(),
)
def DAdaptLion(  # noqa: N802
    lr: ScalarOrSchedule = 1.0,
    betas: Sequence[Scalar] = (0.9, 0.99),
    weight_decay: Scalar = 0.0,
    log_every: int = 0,
    d0: Scalar = 1e-6,
    fsdp_in_use: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """``dadaptation.DAdaptLion``: Lion with D-Adaptation's estimate d.

    With dlr = d_k·γ and u = sign(β1 m + (1 − β1) g), sums over every parameter:

        θ ← θ(1 − dlr·λ) − dlr·u,   m ← β2 m + (1 − β2)·dlr·g,
        r ← sqrt(β2) r + (1 − sqrt(β2))·dlr·⟨u, s⟩,   s ← sqrt(β2) s + (1 − sqrt(β2))·dlr·u,
        d_{k+1} = max(d_k, r / ((1 − sqrt(β2))||s||₁)).

    As in dadaptation, m keeps dlr·g while the sign mixes it with the raw g, and θ moves
    before the estimate's check: a step with ||s||₁ = 0 still decays θ, and leaves d, r
    and k as they are.

    Args:
      lr: γ >= 0, or a schedule ``count -> γ``.
      betas: (β1, β2), each in [0, 1).
      weight_decay: λ >= 0 (decoupled).
      log_every: accepted and ignored.
      d0: the initial estimate, > 0 (dadaptation does not check it).
      fsdp_in_use: accepted and ignored.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`DAdaptLionState`; its ``update`` needs ``params``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.dadaptation as jd
    >>> tx = jd.DAdaptLion()
    >>> params = jnp.array([1.0, 2.0])
    >>> tx.update(jnp.array([3.0, -4.0]), tx.init(params), params)[0]  # −d0·sign(g)
    Array([-1.e-06,  1.e-06], dtype=float32)
    """
    del log_every, fsdp_in_use
    return dadapt_lion_step(lr, (betas[0], betas[1]), weight_decay, d0)


@checked(
    lr=LR,
    betas=Betas3(),
    eps=EPS,
    weight_decay=nonnegative(),
    no_prox=flag(),
    log_every=LOG_EVERY,
    d0=D0,
    growth_rate=GROWTH_RATE,
)
def DAdaptAdan(  # noqa: N802
    lr: ScalarOrSchedule = 1.0,
    betas: tuple[Scalar, Scalar, Scalar] = (0.98, 0.92, 0.99),
    eps: Scalar = 1e-8,
    weight_decay: Scalar = 0.02,
    no_prox: bool = False,
    log_every: int = 0,
    d0: Scalar = 1e-6,
    growth_rate: Scalar = math.inf,
) -> optax.GradientTransformationExtraArgs:
    """``dadaptation.DAdaptAdan``: Adan with D-Adaptation's estimate d.

    With dlr = d_k·γ, δ = g − g_prev (0 at the first step), u = g + β2δ, sums over every
    parameter:

        m ← β1 m + dlr(1 − β1) g,   n ← β2 n + dlr(1 − β2) δ,   v ← β3 v + (1 − β3) u²,
        s ← β3 s + dlr(1 − β3) g,   G ← β3 G + (1 − β3)·dlr²·Σ g²/(sqrt(v) + ε),
        d_{k+1} = max(d_k, min((Σ s²/(sqrt(v) + ε)/(1 − β3) − G)/||s||₁, growth_rate·d_k)),
        θ ← (θ − (m + β2 n)/(sqrt(v) + ε)) / (1 + dlr·λ),
        or with ``no_prox``: θ ← θ(1 − dlr·λ) − (m + β2 n)/(sqrt(v) + ε).

    A step with ||s||₁ = 0 leaves θ, d, G, g_prev and k as they are.

    Args:
      lr: γ > 0, or a schedule ``count -> γ``.
      betas: (β1, β2, β3), each in [0, 1).
      eps: ε > 0.
      weight_decay: λ >= 0 (dadaptation's default 0.02).
      no_prox: decay by θ(1 − dlr·λ) instead of the proximal division.
      log_every: accepted and ignored.
      d0: the initial estimate, > 0.
      growth_rate: the largest factor d grows by in a step.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`DAdaptAdanState`; its ``update`` needs ``params``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.dadaptation as jd
    >>> tx = jd.DAdaptAdan(weight_decay=0.0)
    >>> params = jnp.array([1.0, 2.0])
    >>> u, state = tx.update(jnp.array([3.0, -4.0]), tx.init(params), params)
    >>> int(state.steps), float(state.estim_lr)
    (1, 1e-06)
    """
    del log_every
    return dadapt_adan_step(
        lr, (betas[0], betas[1], betas[2]), eps, weight_decay, no_prox, d0, growth_rate
    )
