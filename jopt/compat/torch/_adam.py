"""``torch.optim.Adam`` and ``torch.optim.AdamW``."""

from __future__ import annotations

from collections.abc import Sequence

import optax

from jopt._adam import scale_by_adam_moments
from jopt._base import Scalar, ScalarOrSchedule
from jopt._validation import check_flag
from jopt.compat.torch._common import check_adam_family, torch_optimizer


def _adam(call, lr, betas, eps, weight_decay, amsgrad, maximize, decoupled, flags):
    b1, b2 = check_adam_family(call, lr, betas, eps, weight_decay, **flags)
    check_flag(call, "amsgrad", amsgrad)
    steps = [scale_by_adam_moments(call, b1=b1, b2=b2, eps=eps, amsgrad=amsgrad)]
    return torch_optimizer(
        call,
        steps,
        lr,
        maximize=maximize,
        weight_decay=weight_decay,
        decoupled_weight_decay=decoupled,
    )


def Adam(  # noqa: N802
    lr: ScalarOrSchedule = 1e-3,
    betas: Sequence[ScalarOrSchedule] = (0.9, 0.999),
    eps: Scalar = 1e-8,
    weight_decay: ScalarOrSchedule | None = None,
    amsgrad: bool = False,
    *,
    foreach: bool | None = None,
    maximize: bool = False,
    capturable: bool = False,
    differentiable: bool = False,
    fused: bool | None = None,
    decoupled_weight_decay: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.Adam``:

    g ← −g if maximize;  g ← g + λθ (coupled; with ``decoupled_weight_decay=True``
    θ ← θ(1 − αλ) instead, which is :func:`AdamW`);
    m_t = β1 m_{t−1} + (1−β1) g,  v_t = β2 v_{t−1} + (1−β2) g²,
    v̄_t = max(v̄_{t−1}, v_t) if amsgrad else v_t;
    θ ← θ − α/(1−β1^t) · m_t / (sqrt(v̄_t)/sqrt(1−β2^t) + ε).

    ``weight_decay``: PyTorch's default 0, off (``None`` here). ``betas[0]`` and
    ``weight_decay`` may be schedules (``OneCycleLR(cycle_momentum=True)`` cycles β1).

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torch as jt
    >>> tx = jt.Adam(lr=0.1)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # first step: −α·sign(g)
    Array([-0.1,  0.1], dtype=float32)
    """
    flags = dict(foreach=foreach, capturable=capturable, differentiable=differentiable, fused=fused)
    call = "jopt.compat.torch.Adam"
    return _adam(
        call, lr, betas, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay, flags
    )


def AdamW(  # noqa: N802
    lr: ScalarOrSchedule = 1e-3,
    betas: Sequence[ScalarOrSchedule] = (0.9, 0.999),
    eps: Scalar = 1e-8,
    weight_decay: ScalarOrSchedule = 1e-2,
    amsgrad: bool = False,
    *,
    maximize: bool = False,
    foreach: bool | None = None,
    capturable: bool = False,
    differentiable: bool = False,
    fused: bool | None = None,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.AdamW``: :func:`Adam` with decoupled decay, θ ← θ(1 − αλ) first.

    Δθ = −α (m̂_t / (sqrt(v̂_t) + ε) + λθ), the decay kept out of m and v.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torch as jt
    >>> tx = jt.AdamW(lr=0.1, weight_decay=0.5)
    >>> params = jnp.array([2.0])
    >>> tx.update(jnp.array([1.0]), tx.init(params), params)[0]  # −0.1·(1 + 0.5·2)
    Array([-0.2], dtype=float32)
    """
    flags = dict(foreach=foreach, capturable=capturable, differentiable=differentiable, fused=fused)
    call = "jopt.compat.torch.AdamW"
    return _adam(call, lr, betas, eps, weight_decay, amsgrad, maximize, True, flags)
