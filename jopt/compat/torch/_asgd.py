"""``torch.optim.ASGD``."""

from __future__ import annotations

import optax

from jopt._asgd import asgd_steps, check_asgd
from jopt._base import Scalar, ScalarOrSchedule, chain
from jopt._validation import check_flag
from jopt._weight_decay import maximize_and_decay
from jopt.compat.torch._common import _real_view, check_flags, check_lr, check_weight_decay


def ASGD(  # noqa: N802
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
    (``None`` here). η and μ are computed in JAX's default float (float64 with x64, as
    PyTorch with ``torch.set_default_dtype(torch.float64)``; PyTorch keeps them in its
    default dtype, float32 unless set). ``update`` needs ``params``.

    >>> import jax.numpy as jnp, jopt
    >>> import jopt.compat.torch as jt
    >>> tx = jt.ASGD(lr=0.1, lambd=0.0)
    >>> params = jnp.array([1.0])
    >>> updates, state = tx.update(jnp.array([2.0]), tx.init(params), params)
    >>> updates, jopt.averaged_params(state)  # −0.1·2; ax = θ until averaging starts
    (Array([-0.2], dtype=float32), Array([0.8], dtype=float32))
    """
    call = "jopt.compat.torch.ASGD"
    check_lr(call, lr)
    check_weight_decay(call, weight_decay)
    check_asgd(call, lambd, alpha, t0)
    check_flag(call, "maximize", maximize)
    check_flags(call, foreach=foreach, differentiable=differentiable, capturable=capturable)
    step, average = asgd_steps(call, lr, lambd, alpha, t0)
    # Complex parameters step through their real view; the average μ(θ − ax) is the same
    # on the complex numbers, so ax keeps the parameters' own dtype and shape.
    steps = maximize_and_decay(call, maximize, weight_decay)
    return optax.chain(_real_view(chain(*steps, step)), average)
