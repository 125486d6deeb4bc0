"""``torch.optim.Adadelta``."""

from __future__ import annotations

import optax

from jopt._adadelta import _scale_by_adadelta
from jopt._base import Scalar, ScalarOrSchedule
from jopt.compat._common import check
from jopt.compat.torch._common import check_flags, check_lr, check_weight_decay, torch_optimizer


def Adadelta(  # noqa: N802
    lr: ScalarOrSchedule = 1.0,
    rho: Scalar = 0.9,
    eps: Scalar = 1e-6,
    weight_decay: ScalarOrSchedule | None = None,
    foreach: bool | None = None,
    *,
    capturable: bool = False,
    maximize: bool = False,
    differentiable: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.Adadelta``:

    g ← −g if maximize;  g ← g + λθ;  v_t = ρ v_{t−1} + (1−ρ) g²;
    δ_t = sqrt(u_{t−1} + ε)/sqrt(v_t + ε) · g,  u_t = ρ u_{t−1} + (1−ρ) δ_t²;
    θ ← θ − α δ_t.

    The math is :func:`jopt.scale_by_adadelta`'s.
    ``weight_decay``: PyTorch's default 0, off (``None`` here); it may be a schedule.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torch as jt
    >>> tx = jt.Adadelta(rho=0.75, eps=1.0)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # −sqrt(1)/sqrt(0.25·4 + 1)·2
    Array([-1.4142135], dtype=float32)
    """
    call = "jopt.compat.torch.Adadelta"
    check_lr(call, lr)
    check(call, "Invalid rho value", "rho", rho, 0.0, 1.0)
    check(call, "Invalid epsilon value", "eps", eps)
    check_weight_decay(call, weight_decay)
    check_flags(call, foreach=foreach, capturable=capturable, differentiable=differentiable)
    steps = [_scale_by_adadelta(call, rho, eps)]
    return torch_optimizer(call, steps, lr, maximize=maximize, weight_decay=weight_decay)
