"""The Adam family of ``torch.optim``: Adam, AdamW, Adamax, NAdam, RAdam.

Each preset maps torch's arguments onto one jopt primitive (``betas → (b1, b2)``) inside
:func:`torch_optimizer` (maximize, the weight decay, the learning rate).
"""

from __future__ import annotations

from collections.abc import Sequence

import optax

from jopt._algorithms.adam.adam import adam_direction
from jopt._algorithms.adam.adamax import scale_by_adamax
from jopt._algorithms.adam.nadam import scale_by_nadam
from jopt._algorithms.adam.radam import scale_by_radam
from jopt._core.checks import checked, flag, nonnegative
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt.compat.torch._common import (
    ADAM_FAMILY,
    KERNEL_FLAGS,
    kernel_flags,
    split_betas,
    torch_optimizer,
)
from jopt.compat.torch._groups import torch_groups


@torch_groups
@checked(**ADAM_FAMILY, amsgrad=flag(), decoupled_weight_decay=flag(), **KERNEL_FLAGS)
def Adam(  # noqa: N802 (PyTorch's class name)
    lr: ScalarOrSchedule = 1e-3,
    betas: Sequence[ScalarOrSchedule] = (0.9, 0.999),
    eps: Scalar = 1e-8,
    weight_decay: ScalarOrSchedule | None = None,
    amsgrad: bool = False,
    *,
    foreach: bool | None = None,
    maximize: bool = False,
    capturable: bool | None = False,
    differentiable: bool | None = False,
    fused: bool | None = None,
    decoupled_weight_decay: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.Adam``:

    g ← −g if maximize;  g ← g + λθ (coupled; with ``decoupled_weight_decay=True``
    θ ← θ(1 − αλ) instead, which is :func:`AdamW`);
    m_t = β1 m_{t−1} + (1−β1) g,  v_t = β2 v_{t−1} + (1−β2) g²,
    v̄_t = max(v̄_{t−1}, v_t) if amsgrad else v_t;
    θ ← θ − α/(1−β1^t) · m_t / (sqrt(v̄_t)/sqrt(1−β2^t) + ε).

    :func:`jopt.scale_by_adam` (:func:`jopt.scale_by_amsgrad`) with ``b1, b2 = betas``.

    Args:
      lr: α >= 0, or a schedule ``count -> α`` (the rate of ``opt.step();
        scheduler.step()``).
      betas: (β1, β2), each in [0, 1); β1 may be a schedule (``OneCycleLR`` cycles it).
      eps: ε >= 0.
      weight_decay: λ >= 0 or a schedule; PyTorch's default 0, off (``None`` here).
      amsgrad: use the running max of v.
      foreach: accepted and ignored (a kernel choice in PyTorch).
      maximize: climb the objective.
      capturable: accepted and ignored.
      differentiable: accepted and ignored.
      fused: accepted and ignored.
      decoupled_weight_decay: decay as AdamW does.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torch as jt
    >>> tx = jt.Adam(lr=0.1)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # first step: −α·sign(g)
    Array([-0.1,  0.1], dtype=float32)
    """
    direction = adam_direction(*split_betas(betas), eps, amsgrad=amsgrad)
    return torch_optimizer(
        direction,
        lr,
        maximize=maximize,
        weight_decay=weight_decay,
        decoupled_weight_decay=decoupled_weight_decay,
    )


@torch_groups
@checked(**ADAM_FAMILY, amsgrad=flag(), **KERNEL_FLAGS)
def AdamW(  # noqa: N802
    lr: ScalarOrSchedule = 1e-3,
    betas: Sequence[ScalarOrSchedule] = (0.9, 0.999),
    eps: Scalar = 1e-8,
    weight_decay: ScalarOrSchedule | None = 1e-2,
    amsgrad: bool = False,
    *,
    maximize: bool = False,
    foreach: bool | None = None,
    capturable: bool | None = False,
    differentiable: bool | None = False,
    fused: bool | None = None,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.AdamW``: :func:`Adam` with decoupled decay, θ ← θ(1 − αλ) first.

    Δθ = −α (m̂_t / (sqrt(v̂_t) + ε) + λθ), the decay kept out of m and v.

    Args:
      lr: α >= 0, or a schedule.
      betas: (β1, β2), each in [0, 1); β1 may be a schedule.
      eps: ε >= 0.
      weight_decay: λ >= 0 or a schedule (PyTorch's default 1e-2).
      amsgrad: use the running max of v.
      maximize: climb the objective.
      foreach: accepted and ignored.
      capturable: accepted and ignored.
      differentiable: accepted and ignored.
      fused: accepted and ignored.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torch as jt
    >>> tx = jt.AdamW(lr=0.1, weight_decay=0.5)
    >>> params = jnp.array([2.0])
    >>> tx.update(jnp.array([1.0]), tx.init(params), params)[0]  # −0.1·(1 + 0.5·2)
    Array([-0.2], dtype=float32)
    """
    direction = adam_direction(*split_betas(betas), eps, amsgrad=amsgrad)
    return torch_optimizer(
        direction, lr, maximize=maximize, weight_decay=weight_decay, decoupled_weight_decay=True
    )


@torch_groups
@checked(**ADAM_FAMILY, **kernel_flags("foreach", "differentiable", "capturable"))
def Adamax(  # noqa: N802
    lr: ScalarOrSchedule = 2e-3,
    betas: Sequence[ScalarOrSchedule] = (0.9, 0.999),
    eps: Scalar = 1e-8,
    weight_decay: ScalarOrSchedule | None = None,
    foreach: bool | None = None,
    *,
    maximize: bool = False,
    differentiable: bool | None = False,
    capturable: bool | None = False,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.Adamax``:

    g ← −g if maximize;  g ← g + λθ;  m_t = β1 m_{t−1} + (1−β1) g;
    u_t = max(β2 u_{t−1}, |g| + ε);  θ ← θ − α/(1−β1^t) · m_t/u_t.

    :func:`jopt.scale_by_adamax` with ``b1, b2 = betas``.

    Args:
      lr: α >= 0, or a schedule.
      betas: (β1, β2), each in [0, 1); β1 may be a schedule.
      eps: ε >= 0.
      weight_decay: λ >= 0 or a schedule; PyTorch's default 0, off (``None`` here).
      foreach: accepted and ignored.
      maximize: climb the objective.
      differentiable: accepted and ignored.
      capturable: accepted and ignored.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torch as jt
    >>> tx = jt.Adamax(lr=0.1)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # first step: −α·sign(g)
    Array([-0.1,  0.1], dtype=float32)
    """
    direction = scale_by_adamax(*split_betas(betas), eps)
    return torch_optimizer(direction, lr, maximize=maximize, weight_decay=weight_decay)


@torch_groups
@checked(
    **ADAM_FAMILY,
    momentum_decay=nonnegative(message="Invalid momentum_decay value"),
    decoupled_weight_decay=flag(),
    **kernel_flags("foreach", "capturable", "differentiable"),
)
def NAdam(  # noqa: N802
    lr: ScalarOrSchedule = 2e-3,
    betas: Sequence[ScalarOrSchedule] = (0.9, 0.999),
    eps: Scalar = 1e-8,
    weight_decay: ScalarOrSchedule | None = None,
    momentum_decay: Scalar = 4e-3,
    decoupled_weight_decay: bool = False,
    *,
    foreach: bool | None = None,
    maximize: bool = False,
    capturable: bool | None = False,
    differentiable: bool | None = False,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.NAdam``:

    g ← −g if maximize;  g ← g + λθ (coupled; θ ← θ(1 − αλ) with ``decoupled_weight_decay``);
    μ_t = β1(1 − 0.5·0.96^(tψ)),  Π_t = μ_1 ⋯ μ_t  (ψ = ``momentum_decay``);
    m_t = β1 m_{t−1} + (1−β1) g,  v_t = β2 v_{t−1} + (1−β2) g²;
    θ ← θ − α [(1−μ_t)/(1−Π_t)·g + μ_{t+1}/(1−Π_t μ_{t+1})·m_t] / (sqrt(v_t/(1−β2^t)) + ε).

    :func:`jopt.scale_by_nadam` with ``b1, b2 = betas``. PyTorch keeps Π_t in its default
    dtype (float32 unless ``torch.set_default_dtype(torch.float64)``); jopt keeps it in
    float64 under x64, so float64 runs match PyTorch run with float64 as its default dtype
    (to 1e-15; with a float32 Π_t PyTorch's own float64 trajectory is off by about 1e-9).

    Args:
      lr: α >= 0, or a schedule.
      betas: (β1, β2), each in [0, 1); β1 may be a schedule.
      eps: ε >= 0.
      weight_decay: λ >= 0 or a schedule; PyTorch's default 0, off (``None`` here).
      momentum_decay: ψ >= 0.
      decoupled_weight_decay: decay as AdamW does.
      foreach: accepted and ignored.
      maximize: climb the objective.
      capturable: accepted and ignored.
      differentiable: accepted and ignored.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torch as jt
    >>> tx = jt.NAdam(lr=0.1, betas=(0.0, 0.999))  # β1 = 0: μ = 0, the step is Adam's
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]
    Array([-0.1,  0.1], dtype=float32)
    """
    direction = scale_by_nadam(*split_betas(betas), eps, momentum_decay)
    return torch_optimizer(
        direction,
        lr,
        maximize=maximize,
        weight_decay=weight_decay,
        decoupled_weight_decay=decoupled_weight_decay,
    )


@torch_groups
@checked(
    **ADAM_FAMILY,
    decoupled_weight_decay=flag(),
    **kernel_flags("foreach", "capturable", "differentiable"),
)
def RAdam(  # noqa: N802
    lr: ScalarOrSchedule = 1e-3,
    betas: Sequence[ScalarOrSchedule] = (0.9, 0.999),
    eps: Scalar = 1e-8,
    weight_decay: ScalarOrSchedule | None = None,
    decoupled_weight_decay: bool = False,
    *,
    foreach: bool | None = None,
    maximize: bool = False,
    capturable: bool | None = False,
    differentiable: bool | None = False,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.RAdam``:

    g ← −g if maximize;  g ← g + λθ (coupled; θ ← θ(1 − αλ) with ``decoupled_weight_decay``);
    m_t = β1 m_{t−1} + (1−β1) g,  v_t = β2 v_{t−1} + (1−β2) g²,  m̂_t = m_t/(1−β1^t);
    ρ_∞ = 2/(1−β2) − 1,  ρ_t = ρ_∞ − 2tβ2^t/(1−β2^t);
    θ ← θ − α r_t m̂_t sqrt(1−β2^t)/(sqrt(v_t) + ε) if ρ_t > 5,  else θ ← θ − α m̂_t.

    :func:`jopt.scale_by_radam` with ``b1, b2 = betas`` (ρ_t in float64 under x64, as
    PyTorch computes it).

    Args:
      lr: α >= 0, or a schedule.
      betas: (β1, β2), each in [0, 1); β1 may be a schedule.
      eps: ε >= 0.
      weight_decay: λ >= 0 or a schedule; PyTorch's default 0, off (``None`` here).
      decoupled_weight_decay: decay as AdamW does.
      foreach: accepted and ignored.
      maximize: climb the objective.
      capturable: accepted and ignored.
      differentiable: accepted and ignored.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torch as jt
    >>> tx = jt.RAdam(lr=0.1)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # ρ_1 = 1 <= 5: −α m̂_1
    Array([-0.05,  0.2 ], dtype=float32)
    """
    return torch_optimizer(
        scale_by_radam(*split_betas(betas), eps),
        lr,
        maximize=maximize,
        weight_decay=weight_decay,
        decoupled_weight_decay=decoupled_weight_decay,
    )
