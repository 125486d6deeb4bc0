"""The matrix family of ``torch.optim``: Adafactor, Muon.

Each preset maps torch's arguments onto one jopt factory (``eps → (eps1, eps2)``,
``d → clip_threshold``) inside :func:`torch_optimizer`; both refuse complex parameters,
as PyTorch does.
"""

from __future__ import annotations

import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import jax.numpy as jnp
import optax

from jopt._algorithms.matrix.adafactor import adafactor
from jopt._algorithms.matrix.muon import NS_COEFFICIENTS, Coefficients, scale_by_muon
from jopt._core.checks import (
    Integer,
    Real,
    Rule,
    UnnamedValueError,
    checked,
    flag,
    learning_rate,
    nonnegative,
    optional,
    pair,
)
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt.compat.torch._common import kernel_flags, refuse_complex, torch_optimizer
from jopt.compat.torch._groups import torch_groups


@torch_groups
@checked(
    lr=learning_rate(message="Learning rate should be >= 0 but is"),
    beta2_decay=Real(hi=0.0, message="beta2_decay should be <= 0 but is"),
    eps=pair(
        optional(nonnegative(message="epsilon1 should be >= 0 but is")),
        nonnegative(message="epsilon2 should be >= 0 but is"),
    ),
    d=Real(1.0, message="Clipping threshold d should be >= 1 but is"),
    weight_decay=optional(nonnegative(schedule=True, message="weight_decay should be >= 0 but is")),
    **kernel_flags("foreach"),
    maximize=flag(),
)
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

    :func:`jopt.adafactor` with ``eps_clamp=True`` (PyTorch's ε1, which leaves the moments
    of g² alone; ``eps=(None, …)``: the machine epsilon of the parameter's dtype) and the
    relative step ρ_t, which :func:`jopt.get_learning_rate` reads. Parameters with two or
    more axes keep factored moments over their last two axes. ``weight_decay``: PyTorch's
    default 0, off (``None`` here). Complex parameters are refused, as PyTorch does.

    Args:
      lr: α >= 0, or a schedule ``count -> α``: the cap of the relative step.
      beta2_decay: τ <= 0 of the decay β̂2_t = 1 − t^τ.
      eps: (ε1, ε2): ε1 >= 0 or ``None`` (the machine epsilon), ε2 >= 0.
      d: the clipping threshold, >= 1.
      weight_decay: λ >= 0 or a schedule; PyTorch's default 0, off (``None`` here).
      foreach: accepted and ignored (a kernel choice in PyTorch).
      maximize: climb the objective.

    Returns:
      An ``optax.GradientTransformationExtraArgs``; ``update`` needs ``params``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torch as jt
    >>> tx = jt.Adafactor(lr=0.5)
    >>> params = jnp.full((2, 2), 2.0)  # RMS(θ) = 2; first step: ρ = min(0.5, 1)
    >>> g = jnp.array([[1.0, -1.0], [2.0, -2.0]])  # rank 1: U = sign(g)
    >>> tx.update(g, tx.init(params), params)[0]
    Array([[-1.,  1.],
           [-1.,  1.]], dtype=float32)
    """
    eps1, eps2 = eps[0], typing.cast(Scalar, eps[1])  # eps[1] is a number (the rule's)
    direction = adafactor(  # its own rate ρ_t and the decay θ(1 − αλ), with α not ρ_t
        lr, beta2_decay, eps1, eps2, d, weight_decay=weight_decay, eps_clamp=True
    )
    return refuse_complex(torch_optimizer(direction, None, maximize=maximize), "Adafactor")


@dataclass(frozen=True)
class _NsSteps(Rule):
    """torch's Muon refuses ``ns_steps >= 100`` with its own message; then an integer in
    [0, 99]."""

    kind: ClassVar[str] = "int"

    def __call__(self, name: str, value: Any) -> Any:
        if not isinstance(value, bool) and isinstance(value, int) and value >= 100:
            raise UnnamedValueError(
                f"Number of steps must be less than 100 for computational efficiency "
                f"(got {name}={value})."
            )
        return Integer(0, 99, why="each step is unrolled into the program")(name, value)

    def bad(self) -> dict[str, Any]:
        return Integer(0, 99).bad()


@dataclass(frozen=True)
class _AdjustLrFn(Rule):
    """``None``, ``"original"`` or ``"match_rms_adamw"``, refused in torch's words."""

    kind: ClassVar[str] = "choice"

    def __call__(self, name: str, value: Any) -> Any:
        if value not in (None, "original", "match_rms_adamw"):
            raise UnnamedValueError(
                f"Adjust learning rate function {value} is not supported; "
                f"{name} must be None, 'original' or 'match_rms_adamw'."
            )
        return value

    def bad(self) -> dict[str, Any]:
        return {"unknown": "other", "int": 1}


@torch_groups
@checked(
    lr=learning_rate(message="Learning rate should be >= 0 but is"),
    weight_decay=optional(nonnegative(schedule=True, message="weight decay should be >= 0 but is")),
    momentum=nonnegative(schedule=True, message="momentum should be >= 0 but is"),
    nesterov=flag(),
    ns_coefficients=Coefficients("Coefficients must be a tuple of exactly 3 values"),
    eps=nonnegative(message="Invalid epsilon value"),
    ns_steps=_NsSteps(),
    adjust_lr_fn=_AdjustLrFn(),
    maximize=flag(),
)
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

    :func:`jopt.scale_by_muon` with PyTorch's switches (``eps_clamp=True``,
    ``ns_dtype=jnp.bfloat16``: like PyTorch, the iteration runs in bfloat16 with float32
    accumulation whatever the parameters' dtype). Every parameter must be a real matrix:
    ``init`` raises ValueError otherwise, as PyTorch's constructor does (put the other
    parameters under another optimizer, e.g. ``optax.multi_transform``, as PyTorch's
    documentation does with two optimizers). PyTorch's Muon has no kernel flags.

    Args:
      lr: α >= 0, or a schedule ``count -> α``.
      weight_decay: λ >= 0, or a schedule (decoupled: θ ← θ(1 − αλ)); ``None``: off.
      momentum: μ in [0, 1], or a schedule.
      nesterov: Nesterov's D_t (the default) or the buffer itself.
      ns_coefficients: the Newton–Schulz coefficients (a, b, c).
      eps: ε >= 0.
      ns_steps: the number of Newton–Schulz steps, < 100.
      adjust_lr_fn: the shape factor s for an m×n parameter: sqrt(max(1, m/n)) (``None``
        or ``"original"``) or 0.2·sqrt(max(m, n)) (``"match_rms_adamw"``).
      maximize: climb the objective (jopt's: PyTorch's Muon has none; keyword-only).

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torch as jt
    >>> tx = jt.Muon(lr=0.1, weight_decay=None)
    >>> w = jnp.zeros((2, 2))
    >>> u = tx.update(jnp.array([[3.0, 0.0], [0.0, 0.5]]), tx.init(w), w)[0]
    >>> jnp.diag(u)  # as jopt.muon's example, rounded to bfloat16 on the way
    Array([-0.07304688, -0.1046875 ], dtype=float32)
    """
    direction = scale_by_muon(
        momentum,
        nesterov=nesterov,
        ns_coefficients=ns_coefficients,
        ns_steps=ns_steps,
        eps=eps,
        eps_clamp=True,
        adjust_lr="match_rms_adamw" if adjust_lr_fn == "match_rms_adamw" else "original",
        rms_rate=0.2,
        ns_dtype=jnp.bfloat16,
    )
    tx = torch_optimizer(  # θ(1 − αλ): λθ joins the step, outside the buffer
        direction, lr, maximize=maximize, weight_decay=weight_decay, decoupled_weight_decay=True
    )
    return refuse_complex(tx, "Muon")
