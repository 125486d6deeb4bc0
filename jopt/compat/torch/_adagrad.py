"""``torch.optim.Adagrad``."""

from __future__ import annotations

import optax

from jopt._adagrad import _scale_by_adagrad
from jopt._base import Scalar, ScalarOrSchedule, requested
from jopt.compat._common import check
from jopt.compat.torch._common import check_flags, check_lr, check_weight_decay, torch_optimizer
from jopt.schedules._step import inverse_time


def Adagrad(  # noqa: N802
    lr: ScalarOrSchedule = 1e-2,
    lr_decay: Scalar | None = None,
    weight_decay: ScalarOrSchedule | None = None,
    initial_accumulator_value: Scalar = 0.0,
    eps: Scalar = 1e-10,
    foreach: bool | None = None,
    *,
    maximize: bool = False,
    differentiable: bool = False,
    fused: bool | None = None,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.Adagrad``:

    g ← −g if maximize;  g ← g + λθ;  α_t = α / (1 + (t−1)·lr_decay);
    s_t = s_{t−1} + g² (s_0 = initial_accumulator_value);  θ ← θ − α_t g / (sqrt(s_t) + ε).

    With a schedule, α is the schedule's value at t − 1 and lr_decay multiplies it.
    ``lr_decay``, ``weight_decay``: PyTorch's default 0, off (``None`` here).

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torch as jt
    >>> tx = jt.Adagrad(lr=0.1, lr_decay=1.0, eps=0.0)
    >>> state = tx.init(jnp.zeros(1))
    >>> u1, state = tx.update(jnp.array([3.0]), state)  # −0.1·3/3
    >>> u2, state = tx.update(jnp.array([4.0]), state)  # −(0.1/2)·4/5
    >>> u1, u2
    (Array([-0.1], dtype=float32), Array([-0.04], dtype=float32))
    """
    call = "jopt.compat.torch.Adagrad"
    check_lr(call, lr)
    if lr_decay is not None:
        check(call, "Invalid lr_decay value", "lr_decay", lr_decay)
    check_weight_decay(call, weight_decay)
    check(
        call,
        "Invalid initial_accumulator_value value",
        "initial_accumulator_value",
        initial_accumulator_value,
    )
    check(call, "Invalid epsilon value", "eps", eps)
    check_flags(call, foreach=foreach, differentiable=differentiable, fused=fused)
    rate = inverse_time(lr, lr_decay) if requested(lr_decay) else lr
    direction = _scale_by_adagrad(call, initial_accumulator_value, eps, False, None)
    return torch_optimizer(call, [direction], rate, maximize=maximize, weight_decay=weight_decay)
