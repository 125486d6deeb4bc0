"""``torch.optim.Muon``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp
import optax

from jopt._base import Scalar, ScalarOrSchedule
from jopt._muon import NS_COEFFICIENTS, _scale_by_muon, check_coefficients
from jopt._validation import check_flag, check_int
from jopt.compat._common import check
from jopt.compat.torch._common import refuse_complex, torch_optimizer


def Muon(  # noqa: N802 (torch's class name)
    lr: ScalarOrSchedule = 1e-3,
    weight_decay: ScalarOrSchedule | None = 0.1,
    momentum: ScalarOrSchedule = 0.95,
    nesterov: bool = True,
    ns_coefficients: Sequence[Scalar] = NS_COEFFICIENTS,
    eps: Scalar = 1e-7,
    ns_steps: int = 5,
    adjust_lr_fn: str | None = None,
    *,
    maximize: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.Muon``:

    B_t = lerp(B_{t−1}, g, 1−μ),  D_t = lerp(g, B_t, μ) (nesterov) or B_t;
    O_t = NS(D_t) in bfloat16, X_0 = D_t / max(‖D_t‖_F, ε);
    θ ← θ(1 − αλ) − α s O_t.

    For an m×n parameter s = sqrt(max(1, m/n)) (``adjust_lr_fn=None`` or ``"original"``)
    or 0.2·sqrt(max(m, n)) (``"match_rms_adamw"``). This is :func:`jopt.scale_by_muon`
    with PyTorch's switches (``eps_clamp=True``, ``ns_dtype=jnp.bfloat16``: like PyTorch,
    the iteration runs in bfloat16 with float32 accumulation whatever the parameters'
    dtype). Every parameter must be a real matrix:
    ``init`` raises ValueError otherwise, as PyTorch's constructor does (put the other
    parameters under another optimizer, e.g. ``optax.multi_transform``, as PyTorch's
    documentation does with two optimizers). ``maximize`` (keyword-only) is jopt's:
    PyTorch's Muon has none; it has no kernel flags either. ``momentum`` and
    ``weight_decay`` may be schedules; ``weight_decay=None`` turns the decay off.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torch as jt
    >>> tx = jt.Muon(lr=0.1, weight_decay=None)
    >>> w = jnp.zeros((2, 2))
    >>> u = tx.update(jnp.array([[3.0, 0.0], [0.0, 0.5]]), tx.init(w), w)[0]
    >>> jnp.diag(u)  # as jopt.muon's example, rounded to bfloat16 on the way
    Array([-0.07304688, -0.1046875 ], dtype=float32)
    """
    call = "jopt.compat.torch.Muon"
    check(call, "Learning rate should be >= 0 but is", "lr", lr, schedule=True)
    check(call, "momentum should be >= 0 but is", "momentum", momentum, schedule=True)
    if weight_decay is not None:
        message = "weight decay should be >= 0 but is"
        check(call, message, "weight_decay", weight_decay, schedule=True)
    check_flag(call, "nesterov", nesterov)
    coefficients = check_coefficients(
        call, ns_coefficients, "Coefficients must be a tuple of exactly 3 values"
    )
    check(call, "Invalid epsilon value", "eps", eps)
    if not isinstance(ns_steps, bool) and isinstance(ns_steps, int) and ns_steps >= 100:
        raise ValueError(
            f"{call}: Number of steps must be less than 100 for computational efficiency "
            f"(got ns_steps={ns_steps})."
        )
    check_int(call, "ns_steps", ns_steps, 0, 99)
    if adjust_lr_fn not in (None, "original", "match_rms_adamw"):
        raise ValueError(
            f"{call}: Adjust learning rate function {adjust_lr_fn} is not supported; "
            "adjust_lr_fn must be None, 'original' or 'match_rms_adamw'."
        )
    adjust: Any = "match_rms_adamw" if adjust_lr_fn == "match_rms_adamw" else "original"
    steps = [
        _scale_by_muon(
            call,
            momentum,
            coefficients,
            ns_steps,
            eps,
            nesterov=nesterov,
            ema=True,
            eps_clamp=True,
            adjust_lr=adjust,
            rms_rate=0.2,
            ns_dtype=jnp.bfloat16,
        )
    ]
    tx = torch_optimizer(  # θ(1 − αλ): λθ joins the step, outside the buffer
        call, steps, lr, maximize=maximize, weight_decay=weight_decay, decoupled_weight_decay=True
    )
    return refuse_complex(call, "Muon", tx)
