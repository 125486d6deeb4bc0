"""``torch.optim.Adafactor``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import optax

from jopt._adafactor import relative_step_size, scale_by_adafactor_moments
from jopt._base import Scalar, ScalarOrSchedule, chain, requested
from jopt._base import _scale_by_learning_rate as lr_step
from jopt._validation import check_flag
from jopt._weight_decay import _decoupled_weight_decay, maximize_and_decay
from jopt.compat._common import check
from jopt.compat.torch._common import check_flags, check_pair, refuse_complex


def _check_eps(call: str, eps: Any) -> tuple[Any, Any]:
    eps1, eps2 = check_pair(call, "eps", eps)
    if eps1 is not None:
        check(call, "epsilon1 should be >= 0 but is", "eps[0]", eps1)
    check(call, "epsilon2 should be >= 0 but is", "eps[1]", eps2)
    return eps1, eps2


def Adafactor(  # noqa: N802 (torch's class name)
    lr: ScalarOrSchedule = 1e-2,
    beta2_decay: Scalar = -0.8,
    eps: Sequence[Scalar | None] = (None, 1e-3),
    d: Scalar = 1.0,
    weight_decay: ScalarOrSchedule | None = None,
    *,
    foreach: bool | None = None,
    maximize: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.Adafactor``:

    g ← −g if maximize;  ρ_t = min(α, 1/sqrt(t));  α_t = max(ε2, RMS(θ_{t−1})) ρ_t;
    θ ← θ(1 − αλ);  R_t, C_t (or v_t) = lerp(…, mean(g²), t^τ);
    V̂_t = R_t C_tᵀ / max(mean(R_t), ε1);  U_t = g / max(sqrt(V̂_t), ε1);
    θ ← θ − α_t U_t / max(1, RMS(U_t)/d).

    This is :func:`jopt.scale_by_adafactor` with ``eps_clamp=True`` (PyTorch's ε1, which
    leaves the moments of g² alone; ``eps=(None, …)``: the machine epsilon of the
    parameter's dtype) and the relative step ρ_t, which :func:`jopt.get_learning_rate`
    reads. Parameters with two or more axes keep factored moments over their last two axes.
    ``weight_decay``: PyTorch's default 0, off (``None`` here); it may be a schedule.
    Complex parameters are refused, as PyTorch does.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torch as jt
    >>> tx = jt.Adafactor(lr=0.5)
    >>> params = jnp.full((2, 2), 2.0)  # RMS(θ) = 2; first step: ρ = min(0.5, 1)
    >>> g = jnp.array([[1.0, -1.0], [2.0, -2.0]])  # rank 1: U = sign(g)
    >>> tx.update(g, tx.init(params), params)[0]
    Array([[-1.,  1.],
           [-1.,  1.]], dtype=float32)
    """
    call = "jopt.compat.torch.Adafactor"
    check(call, "Learning rate should be >= 0 but is", "lr", lr, schedule=True)
    check(call, "beta2_decay should be <= 0 but is", "beta2_decay", beta2_decay, -math.inf, 0.0)
    eps1, eps2 = _check_eps(call, eps)
    check(call, "Clipping threshold d should be >= 1 but is", "d", d, 1.0)
    if weight_decay is not None:
        message = "weight_decay should be >= 0 but is"
        check(call, message, "weight_decay", weight_decay, schedule=True)
    check_flags(call, foreach=foreach)
    check_flag(call, "maximize", maximize)
    moments = scale_by_adafactor_moments(
        call, b2_decay=beta2_decay, eps1=eps1, eps2=eps2, clip_threshold=d, eps_clamp=True
    )
    steps = [*maximize_and_decay(call, maximize, None), moments]
    steps.append(lr_step(call, relative_step_size(lr)))
    if requested(weight_decay):  # θ(1 − αλ) with PyTorch's α, not ρ_t
        steps.append(_decoupled_weight_decay(call, lr, weight_decay))
    return refuse_complex(call, "Adafactor", chain(*steps))
