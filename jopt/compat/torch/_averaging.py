"""The averaging family of ``torch.optim``: ASGD.

The preset maps torch's arguments onto :func:`jopt.asgd`'s two parts: its step (the
learning rate inside η_t) inside :func:`torch_optimizer` (maximize, the weight decay,
complex parameters through their real view), and its average after it.
"""

from __future__ import annotations

import optax

from jopt._algorithms.averaging.asgd import ASGD_RULES, asgd_average, asgd_step
from jopt._core.checks import checked, flag
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt.compat.torch._common import LR, WEIGHT_DECAY, kernel_flags, torch_optimizer
from jopt.compat.torch._groups import torch_groups


@torch_groups
@checked(
    lr=LR,
    **ASGD_RULES,
    weight_decay=WEIGHT_DECAY,
    maximize=flag(),
    **kernel_flags("foreach", "differentiable", "capturable"),
)
def ASGD(  # noqa: N802 (PyTorch's class name)
    lr: ScalarOrSchedule = 1e-2,
    lambd: Scalar = 1e-4,
    alpha: Scalar = 0.75,
    t0: Scalar = 1e6,
    weight_decay: ScalarOrSchedule | None = None,
    foreach: bool | None = None,
    maximize: bool = False,
    differentiable: bool = False,
    capturable: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.ASGD``: :func:`jopt.asgd` after PyTorch's maximize and weight decay.

    g ← −g if maximize;  g ← g + λ_wd θ;
    θ ← θ(1 − λη_t) − η_t g,  η_1 = α,  η_{t+1} = α / (1 + λ α t)^a;
    ax ← θ if μ_t = 1 else ax + μ_t (θ − ax),  μ_1 = 1,  μ_{t+1} = 1 / max(1, t − t0).

    λ is ``lambd``, a ``alpha``, α ``lr``. The average ax (PyTorch's ``state["ax"]``) is
    read with :func:`jopt.averaged_params`. ``weight_decay``: PyTorch's default 0, off
    (``None`` here). η and μ are computed in JAX's default float
    (float64 with x64, as PyTorch with ``torch.set_default_dtype(torch.float64)``; PyTorch
    keeps them in its default dtype, float32 unless set). ``update`` needs ``params``.

    Args:
      lr: α >= 0, or a schedule ``count -> α``.
      lambd: λ >= 0, the decay of η.
      alpha: a >= 0, the power of η's decay.
      t0: the step after which averaging starts.
      weight_decay: λ_wd >= 0 or a schedule; PyTorch's default 0, off (``None`` here).
      foreach: accepted and ignored (a kernel choice in PyTorch).
      maximize: climb the objective.
      differentiable: accepted and ignored.
      capturable: accepted and ignored.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp, jopt
    >>> import jopt.compat.torch as jt
    >>> tx = jt.ASGD(lr=0.1, lambd=0.0)
    >>> params = jnp.array([1.0])
    >>> updates, state = tx.update(jnp.array([2.0]), tx.init(params), params)
    >>> updates, jopt.averaged_params(state)  # −0.1·2; ax = θ until averaging starts
    (Array([-0.2], dtype=float32), Array([0.8], dtype=float32))
    """
    # Complex parameters step through their real view; the average μ(θ − ax) is the same
    # on the complex numbers, so ax keeps the parameters' own dtype and shape.
    step = torch_optimizer(
        asgd_step(lr, lambd, alpha), None, maximize=maximize, weight_decay=weight_decay
    )
    return optax.chain(step, asgd_average(t0))
