"""The adaptive family of ``torch.optim``: Adagrad, RMSprop, Adadelta.

Each preset maps torch's arguments onto jopt primitives (``alpha → rho``) inside
:func:`torch_optimizer` (maximize, the weight decay, the learning rate).
"""

from __future__ import annotations

import optax

from jopt._algorithms.adaptive.adadelta import scale_by_adadelta
from jopt._algorithms.adaptive.adagrad import scale_by_adagrad
from jopt._algorithms.adaptive.rmsprop import rmsprop_steps
from jopt._core.checks import (
    checked,
    closed_unit_interval,
    flag,
    nonnegative,
    optional,
    unit_interval,
)
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.state import requested
from jopt.compat.torch._common import EPS, LR, MOMENTUM, WEIGHT_DECAY, kernel_flags, torch_optimizer
from jopt.compat.torch._groups import torch_groups
from jopt.schedules._step import inverse_time


@torch_groups
@checked(
    lr=LR,
    lr_decay=optional(nonnegative(message="Invalid lr_decay value")),
    weight_decay=WEIGHT_DECAY,
    initial_accumulator_value=nonnegative(message="Invalid initial_accumulator_value value"),
    eps=EPS,
    maximize=flag(),
    **kernel_flags("foreach", "differentiable", "fused"),
)
def Adagrad(  # noqa: N802 (PyTorch's class name)
    lr: ScalarOrSchedule = 1e-2,
    lr_decay: Scalar | None = None,
    weight_decay: ScalarOrSchedule | None = None,
    initial_accumulator_value: Scalar = 0.0,
    eps: Scalar = 1e-10,
    foreach: bool | None = None,
    *,
    maximize: bool = False,
    differentiable: bool | None = False,
    fused: bool | None = None,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.Adagrad``:

    g ← −g if maximize;  g ← g + λθ;  α_t = α / (1 + (t−1)·lr_decay);
    s_t = s_{t−1} + g² (s_0 = initial_accumulator_value);  θ ← θ − α_t g / (sqrt(s_t) + ε).

    :func:`jopt.scale_by_adagrad`, the learning rate an inverse-time schedule of ``lr``.
    With a schedule, α is the schedule's value at t − 1 and lr_decay multiplies it.
    ``lr_decay``, ``weight_decay``: PyTorch's default 0, off (``None`` here).

    Args:
      lr: α >= 0, or a schedule ``count -> α``.
      lr_decay: >= 0; PyTorch's default 0, off (``None`` here).
      weight_decay: λ >= 0 or a schedule; PyTorch's default 0, off (``None`` here).
      initial_accumulator_value: s_0 >= 0.
      eps: ε >= 0, added to sqrt(s_t).
      foreach: accepted and ignored (a kernel choice in PyTorch).
      maximize: climb the objective.
      differentiable: accepted and ignored.
      fused: accepted and ignored.

    Returns:
      An ``optax.GradientTransformationExtraArgs``; the learning rate it records
      (:func:`jopt.get_learning_rate`) is the decayed α_t.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torch as jt
    >>> tx = jt.Adagrad(lr=0.1, lr_decay=1.0, eps=0.0)
    >>> state = tx.init(jnp.zeros(1))
    >>> u1, state = tx.update(jnp.array([3.0]), state)  # −0.1·3/3
    >>> u2, state = tx.update(jnp.array([4.0]), state)  # −(0.1/2)·4/5
    >>> u1, u2
    (Array([-0.1], dtype=float32), Array([-0.04], dtype=float32))
    """
    rate = inverse_time(lr, lr_decay) if requested(lr_decay) else lr
    direction = scale_by_adagrad(initial_accumulator_value, eps)
    return torch_optimizer(direction, rate, maximize=maximize, weight_decay=weight_decay)


@torch_groups
@checked(
    lr=LR,
    alpha=unit_interval(message="Invalid alpha value"),
    eps=EPS,
    weight_decay=WEIGHT_DECAY,
    momentum=MOMENTUM,
    centered=flag(),
    maximize=flag(),
    **kernel_flags("capturable", "foreach", "differentiable"),
)
def RMSprop(  # noqa: N802
    lr: ScalarOrSchedule = 1e-2,
    alpha: Scalar = 0.99,
    eps: Scalar = 1e-8,
    weight_decay: ScalarOrSchedule | None = None,
    momentum: ScalarOrSchedule | None = None,
    centered: bool = False,
    capturable: bool | None = False,
    foreach: bool | None = None,
    maximize: bool = False,
    differentiable: bool | None = False,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.RMSprop``:

    g ← −g if maximize;  g ← g + λθ;  v_t = a v_{t−1} + (1−a) g²;
    d = sqrt(v_t − ḡ_t²) + ε with ḡ_t = a ḡ_{t−1} + (1−a) g (centered), else sqrt(v_t) + ε;
    with momentum μ: b_t = μ b_{t−1} + g/d, θ ← θ − α b_t;  else θ ← θ − α g/d.

    :func:`jopt.scale_by_rms` (:func:`jopt.scale_by_stddev` if centered) with ρ = ``alpha``
    and ε outside the square root (Keras and the deck put it inside), then
    :func:`jopt.scale_by_trace` with μ = ``momentum``. ``weight_decay``,
    ``momentum``: PyTorch's default 0, off (``None`` here); ``momentum`` may be a schedule.
    Stricter than PyTorch: ``alpha`` must be < 1 (at 1 the average never forgets).

    Args:
      lr: α >= 0, or a schedule ``count -> α``.
      alpha: a in [0, 1), the averages' decay.
      eps: ε >= 0.
      weight_decay: λ >= 0 or a schedule; PyTorch's default 0, off (``None`` here).
      momentum: μ >= 0 or a schedule; PyTorch's default 0, off (``None`` here).
      centered: divide by the centered second moment.
      capturable: accepted and ignored (a kernel choice in PyTorch).
      foreach: accepted and ignored.
      maximize: climb the objective.
      differentiable: accepted and ignored.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torch as jt
    >>> tx = jt.RMSprop(lr=0.1, alpha=0.75, eps=0.0)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # −0.1·2/sqrt(0.25·4)
    Array([-0.2], dtype=float32)
    """
    steps = rmsprop_steps(alpha, eps, eps_in_sqrt=False, centered=centered, momentum=momentum)
    return torch_optimizer(steps, lr, maximize=maximize, weight_decay=weight_decay)


@torch_groups
@checked(
    lr=LR,
    rho=closed_unit_interval(message="Invalid rho value"),
    eps=EPS,
    weight_decay=WEIGHT_DECAY,
    maximize=flag(),
    **kernel_flags("foreach", "capturable", "differentiable"),
)
def Adadelta(  # noqa: N802
    lr: ScalarOrSchedule = 1.0,
    rho: Scalar = 0.9,
    eps: Scalar = 1e-6,
    weight_decay: ScalarOrSchedule | None = None,
    foreach: bool | None = None,
    *,
    capturable: bool | None = False,
    maximize: bool = False,
    differentiable: bool | None = False,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.Adadelta``:

    g ← −g if maximize;  g ← g + λθ;  v_t = ρ v_{t−1} + (1−ρ) g²;
    δ_t = sqrt(u_{t−1} + ε)/sqrt(v_t + ε) · g,  u_t = ρ u_{t−1} + (1−ρ) δ_t²;
    θ ← θ − α δ_t.

    The math is :func:`jopt.scale_by_adadelta`'s.
    ``weight_decay``: PyTorch's default 0, off (``None`` here); it may be a schedule.

    Args:
      lr: α >= 0, or a schedule ``count -> α``.
      rho: ρ in [0, 1].
      eps: ε >= 0.
      weight_decay: λ >= 0 or a schedule; PyTorch's default 0, off (``None`` here).
      foreach: accepted and ignored (a kernel choice in PyTorch).
      capturable: accepted and ignored.
      maximize: climb the objective.
      differentiable: accepted and ignored.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torch as jt
    >>> tx = jt.Adadelta(rho=0.75, eps=1.0)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # −sqrt(1)/sqrt(0.25·4 + 1)·2
    Array([-1.4142135], dtype=float32)
    """
    return torch_optimizer(
        scale_by_adadelta(rho, eps), lr, maximize=maximize, weight_decay=weight_decay
    )
