"""``torch.optim.RAdam``."""

from __future__ import annotations

from collections.abc import Sequence

import optax

from jopt._base import Scalar, ScalarOrSchedule
from jopt._radam import _scale_by_radam
from jopt.compat.torch._common import check_adam_family, torch_optimizer


def RAdam(  # noqa: N802
    lr: ScalarOrSchedule = 1e-3,
    betas: Sequence[ScalarOrSchedule] = (0.9, 0.999),
    eps: Scalar = 1e-8,
    weight_decay: ScalarOrSchedule | None = None,
    decoupled_weight_decay: bool = False,
    *,
    foreach: bool | None = None,
    maximize: bool = False,
    capturable: bool = False,
    differentiable: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.RAdam``:

    g ← −g if maximize;  g ← g + λθ (coupled; θ ← θ(1 − αλ) with ``decoupled_weight_decay``);
    m_t = β1 m_{t−1} + (1−β1) g,  v_t = β2 v_{t−1} + (1−β2) g²,  m̂_t = m_t/(1−β1^t);
    ρ_∞ = 2/(1−β2) − 1,  ρ_t = ρ_∞ − 2tβ2^t/(1−β2^t);
    θ ← θ − α r_t m̂_t sqrt(1−β2^t)/(sqrt(v_t) + ε) if ρ_t > 5,  else θ ← θ − α m̂_t.

    r_t = sqrt((ρ_t−4)(ρ_t−2)ρ_∞ / ((ρ_∞−4)(ρ_∞−2)ρ_t)); the math is
    :func:`jopt.scale_by_radam`'s, ρ_t computed in float64 (x64) as PyTorch does.
    ``weight_decay``: PyTorch's default 0, off (``None`` here). ``betas[0]`` and
    ``weight_decay`` may be schedules.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torch as jt
    >>> tx = jt.RAdam(lr=0.1)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # ρ_1 = 1 <= 5: −α m̂_1
    Array([-0.05,  0.2 ], dtype=float32)
    """
    call = "jopt.compat.torch.RAdam"
    flags = dict(foreach=foreach, capturable=capturable, differentiable=differentiable)
    b1, b2 = check_adam_family(call, lr, betas, eps, weight_decay, **flags)
    return torch_optimizer(
        call,
        [_scale_by_radam(call, b1, b2, eps)],
        lr,
        maximize=maximize,
        weight_decay=weight_decay,
        decoupled_weight_decay=decoupled_weight_decay,
    )
