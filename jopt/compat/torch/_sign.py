"""The sign family of ``torch.optim``: Rprop.

The preset maps torch's arguments onto :func:`jopt.rprop` (``etas → (eta_minus,
eta_plus)``, ``step_sizes → (min_step_size, max_step_size)``) inside
:func:`torch_optimizer`; Rprop steps by its own step sizes, so no learning rate follows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import optax

from jopt._algorithms.sign.rprop import (
    MAX_STEP_SIZE,
    MIN_STEP_SIZE,
    check_step_sizes,
    initial_step_size,
    rprop,
)
from jopt._core.checks import UnnamedValueError, checked, concrete_values, flag, pair, real
from jopt._core.hyperparams import Scalar
from jopt.compat.torch._common import kernel_flags, torch_optimizer
from jopt.compat.torch._groups import torch_groups


def etas_in_order(arguments: Mapping[str, Any]) -> None:
    """torch's rule, a relation of ``@checked``: 0 < etas[0] < 1 < etas[1] (concrete
    values only), refused with torch's "Invalid eta values".

    >>> import jopt.compat.torch as jt
    >>> jt.Rprop(etas=(1.5, 1.2))
    Traceback (most recent call last):
    ...
    ValueError: jopt.compat.torch.Rprop: Invalid eta values: 1.5, 1.2; ...
    """
    eta_minus, eta_plus = arguments["etas"]
    lo, hi = concrete_values(eta_minus), concrete_values(eta_plus)
    if lo is not None and hi is not None and not 0.0 < lo < 1.0 < hi:
        raise UnnamedValueError(
            f"Invalid eta values: {eta_minus}, {eta_plus}; "
            "etas must satisfy 0 < etas[0] < 1 < etas[1]."
        )


def step_sizes_in_order(arguments: Mapping[str, Any]) -> None:
    """A relation of ``@checked``: step_sizes[0] <= step_sizes[1]."""
    low, high = arguments["step_sizes"]
    check_step_sizes(("step_sizes[0]", "step_sizes[1]"), low, high)


@torch_groups
@checked(
    etas_in_order,
    step_sizes_in_order,
    lr=initial_step_size(message="Invalid learning rate"),
    etas=pair(real(), real()),
    step_sizes=pair(MIN_STEP_SIZE, MAX_STEP_SIZE),
    **kernel_flags("capturable", "foreach", "differentiable"),
    maximize=flag(),
)
def Rprop(  # noqa: N802 (torch's class name)
    lr: Scalar = 1e-2,
    etas: Sequence[Scalar] = (0.5, 1.2),
    step_sizes: Sequence[Scalar] = (1e-6, 50),
    *,
    capturable: bool | None = False,
    foreach: bool | None = None,
    maximize: bool = False,
    differentiable: bool | None = False,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.Rprop``: :func:`jopt.rprop` with PyTorch's defaults.

    g ← −g if maximize;  s = sign(g · g_prev);
    Δ ← clip(Δ·η+ if s > 0, Δ·η− if s < 0 (and g ← 0), else Δ;  Δmin, Δmax);
    θ ← θ − Δ·sign(g),  g_prev ← g;  Δ starts at ``lr``.

    ``lr`` is only the initial step size: PyTorch reads it once, when the state is
    created, so an LR scheduler has no effect on Rprop; here ``lr`` is a number (a
    schedule raises TypeError instead of being ignored). Complex parameters: real and
    imaginary parts are stepped separately, as in PyTorch.

    Args:
      lr: Δ_0 >= 0, a number.
      etas: (η−, η+) with 0 < η− < 1 < η+.
      step_sizes: (Δmin, Δmax), 0 <= Δmin <= Δmax (Δmax may be ``inf``).
      capturable: accepted and ignored (a kernel choice in PyTorch).
      foreach: accepted and ignored.
      maximize: climb the objective.
      differentiable: accepted and ignored.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torch as jt
    >>> tx = jt.Rprop(lr=0.1)
    >>> state = tx.init(jnp.zeros(2))
    >>> u1, state = tx.update(jnp.array([3.0, -1.0]), state)  # −Δ_0·sign(g)
    >>> u2, state = tx.update(jnp.array([2.0, 1.0]), state)  # kept sign: ×1.2; flipped: 0
    >>> u1, u2
    (Array([-0.1,  0.1], dtype=float32), Array([-0.12,  0.  ], dtype=float32))
    """
    direction = rprop(lr, etas[0], etas[1], step_sizes[0], step_sizes[1])  # it descends
    return torch_optimizer(direction, None, maximize=maximize)
