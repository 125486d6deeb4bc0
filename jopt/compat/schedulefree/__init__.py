"""schedulefree 1.4.1 (Defazio et al.'s package, ``facebookresearch/schedule_free``): the
same names, defaults and arithmetic.

:func:`SGDScheduleFree`, :func:`AdamWScheduleFree`, :func:`RAdamScheduleFree` and
:func:`ScheduleFreeWrapper` step the parameters in lockstep with the package in float64
and float32 (tests/compat/schedulefree), and :func:`eval_params` gives what the package's
``optimizer.eval()`` writes into the parameters. Neither torch nor schedulefree is
imported.

**Train and eval modes.** The package keeps the model's parameters at y (the point the
gradient is taken at) in train mode and moves them to x (the average) by ``.eval()``,
back by ``.train()``. jopt's parameters are always y, the package's train-mode
parameters: step them with ``optax.apply_updates`` and evaluate the model at
``eval_params(state, params)``, which computes x = (y − (1 − β1) z)/β1 without touching
``params``, so there is no mode to switch and nothing to switch back (call the package's
``.train()`` before its first step; its ``.eval()`` before saving a checkpoint is
``eval_params``). z, the sequence the optimizer steps, lives in the state
(:class:`jopt.ScheduleFreeState`).

Notation: α the learning rate, λ the weight decay, β1 the momentum (the interpolation),
g the gradient, t = 1, 2, … the step.
"""

from __future__ import annotations

from collections.abc import Sequence

import optax

from jopt._algorithms.averaging.schedule_free import (
    B1,
    build_schedule_free,
    schedule_free_adamw,
    schedule_free_eval_params,
    schedule_free_radam,
    schedule_free_sgd,
)
from jopt._core.checks import (
    Real,
    checked,
    flag,
    integer,
    nonnegative,
    optional,
    pair,
    real,
    transformation,
)
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt.compat.torch._common import LR

_WD = nonnegative(schedule=True)
_BETAS = pair(B1, Real(0.0, 1.0, hi_open=True), what="a pair (beta1, beta2)")
_COMMON = dict(
    lr=LR,
    weight_decay=_WD,
    r=real(),
    weight_lr_power=real(),
    foreach=flag(optional=True),
)

eval_params = schedule_free_eval_params


@checked(
    **_COMMON,
    momentum=Real(
        0.0,
        1.0,
        lo_open=True,
        hi_open=True,
        message="Momentum must be between 0 and 1 exclusive",
    ),
    warmup_steps=integer(0, traced=True),
)
def SGDScheduleFree(  # noqa: N802 (schedulefree's class name)
    lr: ScalarOrSchedule = 1.0,
    momentum: Scalar = 0.9,
    weight_decay: ScalarOrSchedule = 0,
    warmup_steps: int = 0,
    r: Scalar = 0.0,
    weight_lr_power: Scalar = 2,
    foreach: bool | None = True,
) -> optax.GradientTransformationExtraArgs:
    """``schedulefree.SGDScheduleFree``: :func:`jopt.schedule_free_sgd`.

    α_t = α·min(t/warmup_steps, 1);  d = g + λy;  z ← z − α_t d;
    c = t^r α_max^p / Σ t^r α_max^p (p = ``weight_lr_power``);
    y ← (1 − c) y + c z_old + α_t(β1(1 − c) − 1) d (the package's in-place form of
    x ← (1 − c)x + cz, y = (1 − β1)z + β1x).

    Args:
      lr: α >= 0 (or a schedule ``count -> α``).
      momentum: β1 in (0, 1).
      weight_decay: λ >= 0 (or a schedule ``count -> λ``), computed at y.
      warmup_steps: the linear warmup's length (0: none).
      r: the power of t in the averaging weights.
      weight_lr_power: the power of the largest rate in the averaging weights.
      foreach: accepted for the package's signature; jopt's step is the same either way.

    Returns:
      An ``optax.GradientTransformationExtraArgs``; ``update`` needs ``params`` (y).

    >>> import jax.numpy as jnp
    >>> import jopt.compat.schedulefree as sf
    >>> tx = sf.SGDScheduleFree(lr=0.5, momentum=0.5)
    >>> params = jnp.array([1.0])
    >>> updates, state = tx.update(jnp.array([1.0]), tx.init(params), params)
    >>> params + updates, sf.eval_params(state, params + updates)
    (Array([0.5], dtype=float32), Array([0.5], dtype=float32))
    """
    del foreach
    return schedule_free_sgd(
        lr, warmup_steps, momentum, weight_decay, weight_lr_power, r=r, form="schedulefree"
    )


@checked(**_COMMON, betas=_BETAS, eps=nonnegative(), warmup_steps=integer(0, traced=True))
def AdamWScheduleFree(  # noqa: N802 (schedulefree's class name)
    lr: ScalarOrSchedule = 0.0025,
    betas: Sequence[Scalar] = (0.9, 0.999),
    eps: Scalar = 1e-8,
    weight_decay: ScalarOrSchedule = 0,
    warmup_steps: int = 0,
    r: Scalar = 0.0,
    weight_lr_power: Scalar = 2.0,
    foreach: bool | None = True,
) -> optax.GradientTransformationExtraArgs:
    """``schedulefree.AdamWScheduleFree``: :func:`jopt.schedule_free_adamw`.

    α_t = α·min(t/warmup_steps, 1);  v ← β2 v + (1 − β2) g²;
    d = g/(sqrt(v/(1 − β2^t)) + ε) + λy;  z ← z − α_t d;
    c = t^r α_max^p / Σ t^r α_max^p;  y ← (1 − c) y + c z_old + α_t(β1(1 − c) − 1) d.

    Args:
      lr: α >= 0 (or a schedule ``count -> α``).
      betas: (β1, β2): β1 in (0, 1] the interpolation, β2 in [0, 1).
      eps: ε >= 0, outside the square root.
      weight_decay: λ >= 0 (or a schedule ``count -> λ``), computed at y.
      warmup_steps: the linear warmup's length (0: none).
      r: the power of t in the averaging weights.
      weight_lr_power: the power of the largest rate in the averaging weights.
      foreach: accepted for the package's signature; jopt's step is the same either way.

    Returns:
      An ``optax.GradientTransformationExtraArgs``; ``update`` needs ``params`` (y).

    >>> import jax.numpy as jnp
    >>> import jopt.compat.schedulefree as sf
    >>> tx = sf.AdamWScheduleFree(lr=0.1, eps=0.0)
    >>> params = jnp.array([1.0])
    >>> updates, state = tx.update(jnp.array([3.0]), tx.init(params), params)
    >>> params + updates  # z: 1 − α, and x = y = z after one step
    Array([0.9], dtype=float32)
    """
    del foreach
    return schedule_free_adamw(
        lr,
        warmup_steps,
        betas[0],
        betas[1],
        eps,
        weight_decay,
        weight_lr_power,
        r=r,
        form="schedulefree",
    )


@checked(**_COMMON, betas=_BETAS, eps=nonnegative(), silent_sgd_phase=flag())
def RAdamScheduleFree(  # noqa: N802 (schedulefree's class name)
    lr: ScalarOrSchedule = 0.0025,
    betas: Sequence[Scalar] = (0.9, 0.999),
    eps: Scalar = 1e-8,
    weight_decay: ScalarOrSchedule = 0,
    r: Scalar = 0.0,
    weight_lr_power: Scalar = 2.0,
    foreach: bool | None = True,
    silent_sgd_phase: bool = True,
) -> optax.GradientTransformationExtraArgs:
    """``schedulefree.RAdamScheduleFree``: :func:`jopt.schedule_free_radam`.

    ρ_t as RAdam's; once ρ_t > 4: α_t = α r_t, d = g/(sqrt(v/(1 − β2^t)) + ε) + λy;
    before: d = g + λy, α_t = 0 (``silent_sgd_phase``) or α; then as
    :func:`AdamWScheduleFree`.

    Args:
      lr: α >= 0 (or a schedule ``count -> α``).
      betas: (β1, β2): β1 in (0, 1] the interpolation, β2 in [0, 1).
      eps: ε >= 0, outside the square root.
      weight_decay: λ >= 0 (or a schedule ``count -> λ``), computed at y.
      r: the power of t in the averaging weights.
      weight_lr_power: the power of the largest rate in the averaging weights.
      foreach: accepted for the package's signature; jopt's step is the same either way.
      silent_sgd_phase: no step while ρ_t <= 4 (else SGD steps).

    Returns:
      An ``optax.GradientTransformationExtraArgs``; ``update`` needs ``params`` (y).

    >>> import jax.numpy as jnp
    >>> import jopt.compat.schedulefree as sf
    >>> tx = sf.RAdamScheduleFree(lr=0.1, silent_sgd_phase=False)
    >>> params = jnp.array([1.0])
    >>> updates, state = tx.update(jnp.array([3.0]), tx.init(params), params)
    >>> params + updates  # ρ_1 <= 4: an SGD step, z = 1 − 0.1·3
    Array([0.7], dtype=float32)
    """
    del foreach
    return schedule_free_radam(
        lr,
        betas[0],
        betas[1],
        eps,
        weight_decay,
        weight_lr_power,
        r=r,
        silent_sgd_phase=silent_sgd_phase,
    )


@checked(
    base=transformation("jopt.compat.torch.Adam(lr=1e-3, betas=(0.0, 0.999))"),
    weight_decay_at_y=nonnegative(schedule=True),
    momentum=B1,
    weight_lr_power=real(),
    r=real(),
    lr=optional(LR),
)
def ScheduleFreeWrapper(  # noqa: N802 (schedulefree's class name)
    base: optax.GradientTransformation,
    weight_decay_at_y: ScalarOrSchedule = 0.0,
    momentum: Scalar = 0.9,
    weight_lr_power: Scalar = 2,
    r: Scalar = 0,
    *,
    lr: ScalarOrSchedule | None = None,
) -> optax.GradientTransformationExtraArgs:
    """``schedulefree.ScheduleFreeWrapper``: any base optimizer made schedule-free
    (:func:`jopt.schedule_free` with ``form="schedulefree"``).

    Per step, with α the base optimizer's rate: z ← z − αλy (``weight_decay_at_y``);
    the base optimizer steps z (it gets z as its ``params``, so its own weight decay
    acts at z) with the gradient taken at y; c = t^r α_max^p / Σ t^r α_max^p;
    x ← (1 − c) x + c z;  y = (1 − β1) z + β1 x.

    Args:
      base: the base optimizer, a jopt/optax transformation (the package's ``base``, a
        ``torch.optim.Optimizer``), e.g. ``jopt.compat.torch.Adam(lr, betas=(0.0, 0.999))``.
      weight_decay_at_y: λ >= 0.
      momentum: β1 in (0, 1].
      weight_lr_power: the power of the largest rate in the averaging weights.
      r: the power of t in the averaging weights.
      lr: the base optimizer's rate α (a number or a schedule ``count -> α``), which
        the package reads from ``group['lr']``; None (the default) reads it from the base
        optimizer's state (:func:`jopt.get_learning_rate`: exact for a constant rate; with
        a schedule pass it here, as the decay at y would take the previous step's rate).

    Returns:
      An ``optax.GradientTransformationExtraArgs``; ``update`` needs ``params`` (y).

    >>> import jax.numpy as jnp, jopt
    >>> import jopt.compat.schedulefree as sf
    >>> tx = sf.ScheduleFreeWrapper(jopt.sgd(0.5), momentum=0.5)
    >>> params = jnp.array([1.0])
    >>> updates, state = tx.update(jnp.array([1.0]), tx.init(params), params)
    >>> params + updates  # z = x = 0.5 after one step
    Array([0.5], dtype=float32)
    """
    return build_schedule_free(
        base,
        lr,
        momentum,
        weight_lr_power,
        r,
        weight_decay_at_y,
        None,
        base_at_z=True,
        lr_ahead=False,
    )


__all__ = [
    "AdamWScheduleFree",
    "RAdamScheduleFree",
    "SGDScheduleFree",
    "ScheduleFreeWrapper",
    "eval_params",
]
