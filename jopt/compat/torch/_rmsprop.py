"""``torch.optim.RMSprop``."""

from __future__ import annotations

import optax

from jopt._base import Scalar, ScalarOrSchedule, requested
from jopt._rmsprop import _scale_by_rms
from jopt._sgd import _scale_by_trace
from jopt._validation import check_flag
from jopt.compat._common import check
from jopt.compat.torch._common import check_flags, check_lr, check_weight_decay, torch_optimizer


def RMSprop(  # noqa: N802
    lr: ScalarOrSchedule = 1e-2,
    alpha: Scalar = 0.99,
    eps: Scalar = 1e-8,
    weight_decay: ScalarOrSchedule | None = None,
    momentum: ScalarOrSchedule | None = None,
    centered: bool = False,
    capturable: bool = False,
    foreach: bool | None = None,
    maximize: bool = False,
    differentiable: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.RMSprop``:

    g ← −g if maximize;  g ← g + λθ;  v_t = a v_{t−1} + (1−a) g²;
    d = sqrt(v_t − ḡ_t²) + ε with ḡ_t = a ḡ_{t−1} + (1−a) g (centered), else sqrt(v_t) + ε;
    with momentum μ: b_t = μ b_{t−1} + g/d, θ ← θ − α b_t;  else θ ← θ − α g/d.

    ε is outside the square root (Keras and the deck put it inside). ``weight_decay``,
    ``momentum``: PyTorch's default 0, off (``None`` here); ``momentum`` may be a schedule.
    Stricter than PyTorch: ``alpha`` must be < 1 (at 1 the average never forgets).

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torch as jt
    >>> tx = jt.RMSprop(lr=0.1, alpha=0.75, eps=0.0)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # −0.1·2/sqrt(0.25·4)
    Array([-0.2], dtype=float32)
    """
    call = "jopt.compat.torch.RMSprop"
    check_lr(call, lr)
    check(call, "Invalid epsilon value", "eps", eps)
    if momentum is not None:
        check(call, "Invalid momentum value", "momentum", momentum, schedule=True)
    check_weight_decay(call, weight_decay)
    check(call, "Invalid alpha value", "alpha", alpha, 0.0, 1.0, hi_open=True)
    check_flag(call, "centered", centered)
    check_flags(call, capturable=capturable, foreach=foreach, differentiable=differentiable)
    steps = [_scale_by_rms(call, alpha, eps, False, centered)]
    if requested(momentum):
        steps.append(_scale_by_trace(call, momentum))
    return torch_optimizer(call, steps, lr, maximize=maximize, weight_decay=weight_decay)
