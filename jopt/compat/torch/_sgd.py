"""``torch.optim.SGD``: :func:`jopt.scale_by_trace` inside :func:`torch_optimizer`."""

from __future__ import annotations

import optax

from jopt._algorithms.sgd.sgd import nesterov_needs_momentum, scale_by_trace
from jopt._core.checks import checked, closed_unit_interval, flag, optional
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.state import requested
from jopt.compat.torch._common import LR, MOMENTUM, WEIGHT_DECAY, kernel_flags, torch_optimizer
from jopt.compat.torch._groups import torch_groups


@torch_groups
@checked(
    nesterov_needs_momentum,
    lr=LR,
    momentum=MOMENTUM,
    dampening=optional(closed_unit_interval()),
    weight_decay=WEIGHT_DECAY,
    nesterov=flag(),
    maximize=flag(),
    **kernel_flags("foreach", "differentiable", "fused"),
)
def SGD(  # noqa: N802 (PyTorch's class name)
    lr: ScalarOrSchedule = 1e-3,
    momentum: ScalarOrSchedule | None = None,
    dampening: Scalar | None = None,
    weight_decay: ScalarOrSchedule | None = None,
    nesterov: bool = False,
    *,
    maximize: bool = False,
    foreach: bool | None = None,
    differentiable: bool | None = False,
    fused: bool | None = None,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.SGD``:

    g ← −g if maximize;  g ← g + λθ;
    with momentum μ: b_1 = g_1 (undampened), b_t = μ b_{t−1} + (1−d) g_t,
    g ← g + μ b_t (nesterov) or b_t;  θ ← θ − α g.

    :func:`jopt.scale_by_trace` with μ = ``momentum``, d = ``dampening``.
    ``momentum``, ``dampening``, ``weight_decay``: PyTorch's default 0, off; ``None``
    here, so that ``optax.inject_hyperparams`` (which turns numeric defaults into arrays)
    keeps no buffer the caller did not ask for. ``momentum`` and ``weight_decay`` may be
    schedules ``count -> value`` (``OneCycleLR(cycle_momentum=True)``).

    Args:
      lr: α >= 0, or a schedule ``count -> α`` (the rate of ``opt.step();
        scheduler.step()``).
      momentum: μ >= 0 or a schedule; PyTorch's default 0, off (``None`` here).
      dampening: d in [0, 1]; PyTorch's default 0, off (``None`` here).
      weight_decay: λ >= 0 or a schedule; PyTorch's default 0, off (``None`` here).
      nesterov: Nesterov momentum (needs a momentum and zero dampening, as PyTorch).
      maximize: climb the objective.
      foreach: accepted and ignored (a kernel choice in PyTorch).
      differentiable: accepted and ignored.
      fused: accepted and ignored.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

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
    steps: list[optax.GradientTransformation] = []
    if requested(momentum):
        steps.append(scale_by_trace(momentum, dampening, nesterov=nesterov))
    return torch_optimizer(steps, lr, maximize=maximize, weight_decay=weight_decay)
