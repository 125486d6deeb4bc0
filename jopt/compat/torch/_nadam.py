"""``torch.optim.NAdam``."""

from __future__ import annotations

from collections.abc import Sequence

import optax

from jopt._base import Scalar, ScalarOrSchedule
from jopt._nadam import _scale_by_nadam
from jopt.compat._common import check
from jopt.compat.torch._common import check_adam_family, torch_optimizer


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
    capturable: bool = False,
    differentiable: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.NAdam``:

    g ← −g if maximize;  g ← g + λθ (coupled; θ ← θ(1 − αλ) with ``decoupled_weight_decay``);
    μ_t = β1(1 − 0.5·0.96^(tψ)),  Π_t = μ_1 ⋯ μ_t  (ψ = ``momentum_decay``);
    m_t = β1 m_{t−1} + (1−β1) g,  v_t = β2 v_{t−1} + (1−β2) g²;
    θ ← θ − α [(1−μ_t)/(1−Π_t)·g + μ_{t+1}/(1−Π_t μ_{t+1})·m_t] / (sqrt(v_t/(1−β2^t)) + ε).

    The math is :func:`jopt.scale_by_nadam`'s.
    ``weight_decay``: PyTorch's default 0, off (``None`` here). ``betas[0]`` and
    ``weight_decay`` may be schedules. PyTorch keeps Π_t in its default dtype (float32
    unless ``torch.set_default_dtype(torch.float64)``); jopt keeps it in float64 under x64,
    so float64 runs match PyTorch run with float64 as its default dtype (to 1e-15; with a
    float32 Π_t PyTorch's own float64 trajectory is off by about 1e-9).

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torch as jt
    >>> tx = jt.NAdam(lr=0.1, betas=(0.0, 0.999))  # β1 = 0: μ = 0, the step is Adam's
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]
    Array([-0.1,  0.1], dtype=float32)
    """
    call = "jopt.compat.torch.NAdam"
    flags = dict(foreach=foreach, capturable=capturable, differentiable=differentiable)
    b1, b2 = check_adam_family(call, lr, betas, eps, weight_decay, **flags)
    check(call, "Invalid momentum_decay value", "momentum_decay", momentum_decay)
    return torch_optimizer(
        call,
        [_scale_by_nadam(call, b1, b2, eps, momentum_decay)],
        lr,
        maximize=maximize,
        weight_decay=weight_decay,
        decoupled_weight_decay=decoupled_weight_decay,
    )
