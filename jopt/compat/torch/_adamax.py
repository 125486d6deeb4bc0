"""``torch.optim.Adamax``."""

from __future__ import annotations

from collections.abc import Sequence

import optax

from jopt._adamax import _scale_by_adamax
from jopt._base import Scalar, ScalarOrSchedule
from jopt.compat.torch._common import check_adam_family, torch_optimizer


def Adamax(  # noqa: N802
    lr: ScalarOrSchedule = 2e-3,
    betas: Sequence[ScalarOrSchedule] = (0.9, 0.999),
    eps: Scalar = 1e-8,
    weight_decay: ScalarOrSchedule | None = None,
    foreach: bool | None = None,
    *,
    maximize: bool = False,
    differentiable: bool = False,
    capturable: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.Adamax``:

    g ← −g if maximize;  g ← g + λθ;  m_t = β1 m_{t−1} + (1−β1) g;
    u_t = max(β2 u_{t−1}, |g| + ε);  θ ← θ − α/(1−β1^t) · m_t/u_t.

    The math is :func:`jopt.scale_by_adamax`'s (ε inside the max). ``weight_decay``:
    PyTorch's default 0, off (``None`` here). ``betas[0]`` and ``weight_decay`` may be
    schedules.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torch as jt
    >>> tx = jt.Adamax(lr=0.1)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # first step: −α·sign(g)
    Array([-0.1,  0.1], dtype=float32)
    """
    call = "jopt.compat.torch.Adamax"
    flags = dict(foreach=foreach, capturable=capturable, differentiable=differentiable)
    b1, b2 = check_adam_family(call, lr, betas, eps, weight_decay, **flags)
    steps = [_scale_by_adamax(call, b1, b2, eps)]
    return torch_optimizer(call, steps, lr, maximize=maximize, weight_decay=weight_decay)
