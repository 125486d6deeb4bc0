"""``torch.optim.SGD``."""

from __future__ import annotations

from typing import Any

import optax

from jopt._base import Scalar, ScalarOrSchedule, requested
from jopt._sgd import _check_trace, _scale_by_trace
from jopt.compat._common import check
from jopt.compat.torch._common import check_flags, check_lr, check_weight_decay, torch_optimizer


def SGD(  # noqa: N802 (PyTorch's class name)
    lr: ScalarOrSchedule = 1e-3,
    momentum: ScalarOrSchedule | None = None,
    dampening: Scalar | None = None,
    weight_decay: ScalarOrSchedule | None = None,
    nesterov: bool = False,
    *,
    maximize: bool = False,
    foreach: bool | None = None,
    differentiable: bool = False,
    fused: bool | None = None,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.SGD``:

    g ← −g if maximize;  g ← g + λθ;
    with momentum μ: b_1 = g_1 (undampened), b_t = μ b_{t−1} + (1−d) g_t,
    g ← g + μ b_t (nesterov) or b_t;  θ ← θ − α g.

    ``momentum``, ``dampening``, ``weight_decay``: PyTorch's default 0, off; ``None``
    here, so that ``optax.inject_hyperparams`` (which turns numeric defaults into arrays)
    keeps no buffer the caller did not ask for. ``momentum`` and ``weight_decay`` may be
    schedules ``count -> value`` (``OneCycleLR(cycle_momentum=True)``).

    >>> import jax.numpy as jnp, optax
    >>> import jopt.compat.torch as jt
    >>> tx = jt.SGD(lr=0.1, momentum=0.9, dampening=0.5)
    >>> params = jnp.array([1.0])
    >>> state = tx.init(params)
    >>> for _ in range(2):
    ...     updates, state = tx.update(jnp.array([1.0]), state, params)
    ...     params = optax.apply_updates(params, updates)
    >>> params  # 1 − 0.1·1 − 0.1·(0.9·1 + 0.5·1)
    Array([0.76], dtype=float32)
    """
    call = "jopt.compat.torch.SGD"
    check_lr(call, lr)
    if momentum is not None:
        check(call, "Invalid momentum value", "momentum", momentum, schedule=True)
    check_weight_decay(call, weight_decay)
    check_flags(call, foreach=foreach, differentiable=differentiable, fused=fused)
    _check_trace(call, momentum, dampening, nesterov, None)
    steps: list[Any] = []
    if requested(momentum):
        steps.append(_scale_by_trace(call, momentum, dampening, nesterov))
    return torch_optimizer(call, steps, lr, maximize=maximize, weight_decay=weight_decay)
