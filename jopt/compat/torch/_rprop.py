"""``torch.optim.Rprop``."""

from __future__ import annotations

from collections.abc import Sequence

import optax

from jopt._base import Scalar, chain
from jopt._rprop import _scale_by_rprop, check_rprop
from jopt._validation import check_flag, check_real, concrete_values
from jopt._weight_decay import maximize_and_decay
from jopt.compat._common import check
from jopt.compat.torch._common import _real_view, check_flags, check_pair


def Rprop(  # noqa: N802
    lr: Scalar = 1e-2,
    etas: Sequence[Scalar] = (0.5, 1.2),
    step_sizes: Sequence[Scalar] = (1e-6, 50),
    *,
    capturable: bool = False,
    foreach: bool | None = None,
    maximize: bool = False,
    differentiable: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.Rprop``: :func:`jopt.rprop` with PyTorch's defaults.

    g ← −g if maximize;  s = sign(g · g_prev);
    Δ ← clip(Δ·η+ if s > 0, Δ·η− if s < 0 (and g ← 0), else Δ;  Δmin, Δmax);
    θ ← θ − Δ·sign(g),  g_prev ← g;  Δ starts at ``lr``.

    ``etas`` = (η−, η+), ``step_sizes`` = (Δmin, Δmax). ``lr`` is only the initial step
    size: PyTorch reads it once, when the state is created, so an LR scheduler has no effect
    on Rprop; here ``lr`` is a number (a schedule raises TypeError instead of being ignored).
    Complex parameters: real and imaginary parts are stepped separately, as in PyTorch.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torch as jt
    >>> tx = jt.Rprop(lr=0.1)
    >>> state = tx.init(jnp.zeros(2))
    >>> u1, state = tx.update(jnp.array([3.0, -1.0]), state)  # −Δ_0·sign(g)
    >>> u2, state = tx.update(jnp.array([2.0, 1.0]), state)  # kept sign: ×1.2; flipped: 0
    >>> u1, u2
    (Array([-0.1,  0.1], dtype=float32), Array([-0.12,  0.  ], dtype=float32))
    """
    call = "jopt.compat.torch.Rprop"
    if not callable(lr):
        check(call, "Invalid learning rate", "lr", lr)
    eta_minus, eta_plus = check_pair(call, "etas", etas)
    min_size, max_size = check_pair(call, "step_sizes", step_sizes)
    check_real(call, "etas[0]", eta_minus)
    check_real(call, "etas[1]", eta_plus)
    e0, e1 = concrete_values(eta_minus), concrete_values(eta_plus)
    if e0 is not None and e1 is not None and not 0.0 < e0 < 1.0 < e1:
        raise ValueError(
            f"{call}: Invalid eta values: {eta_minus}, {eta_plus}; "
            "etas must satisfy 0 < etas[0] < 1 < etas[1]."
        )
    check_rprop(
        call,
        lr,
        eta_minus,
        eta_plus,
        min_size,
        max_size,
        lr_name="lr",
        eta_names=("etas[0]", "etas[1]"),
        step_names=("step_sizes[0]", "step_sizes[1]"),
    )
    check_flag(call, "maximize", maximize)
    check_flags(call, capturable=capturable, foreach=foreach, differentiable=differentiable)
    steps = maximize_and_decay(call, maximize, None)
    direction = _scale_by_rprop(call, lr, eta_minus, eta_plus, min_size, max_size)
    return _real_view(chain(*steps, direction, optax.scale(-1.0)))
