"""What every ``jopt.compat.torch`` preset shares: torch's checks, its first two lines
(maximize, coupled weight decay), the learning-rate step and complex parameters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jopt._base import ScalarOrSchedule, chain, check_real_params, requested
from jopt._base import _scale_by_learning_rate as lr_step
from jopt._validation import check_flag
from jopt._weight_decay import _add_decayed_weights, maximize_and_decay
from jopt.compat._common import check


def check_lr(call: str, lr: Any) -> None:
    check(call, "Invalid learning rate", "lr", lr, schedule=True)


def check_weight_decay(call: str, weight_decay: Any) -> None:
    if weight_decay is not None:
        check(call, "Invalid weight_decay value", "weight_decay", weight_decay, schedule=True)


def check_betas(call: str, betas: Any) -> tuple[Any, Any]:
    """A pair (β1, β2) in [0, 1); β1 may be a schedule ``count -> β1``."""
    if isinstance(betas, (str, bytes)) or not isinstance(betas, Sequence) or len(betas) != 2:
        raise TypeError(f"{call}: betas must be a pair (beta1, beta2), got {betas!r}.")
    for i, b in enumerate(betas):
        message = f"Invalid beta parameter at index {i}"
        check(call, message, f"betas[{i}]", b, 0.0, 1.0, hi_open=True, schedule=i == 0)
    return betas[0], betas[1]


def check_adam_family(
    call: str, lr: Any, betas: Any, eps: Any, weight_decay: Any, **flags: Any
) -> tuple[Any, Any]:
    """torch's checks of Adam, Adamax, NAdam and RAdam (lr, eps, betas, weight_decay) and
    the kernel flags; returns (β1, β2)."""
    check_lr(call, lr)
    check(call, "Invalid epsilon value", "eps", eps)
    b1, b2 = check_betas(call, betas)
    check_weight_decay(call, weight_decay)
    check_flags(call, **flags)
    return b1, b2


def check_pair(call: str, name: str, value: Any) -> tuple[Any, Any]:
    """A pair of numbers given as a tuple or list, e.g. Rprop's ``etas``."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        raise TypeError(f"{call}: {name} must be a pair of numbers, got {value!r}.")
    return value[0], value[1]


def check_flags(call: str, **flags: Any) -> None:
    """torch's implementation switches (foreach, fused, capturable, differentiable): None
    or a bool, accepted and ignored. They pick a kernel in PyTorch, never the numbers;
    XLA fuses every jopt step anyway."""
    for name, value in flags.items():
        if value is not None:
            check_flag(call, name, value)


def torch_optimizer(
    call: str,
    steps: Sequence[optax.GradientTransformation],
    lr: ScalarOrSchedule,
    *,
    maximize: bool = False,
    weight_decay: Any = None,
    decoupled_weight_decay: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """g ← −g if maximize; g ← g + λθ (coupled, if asked); ``steps``; θ ← θ − α·(that).

    With ``decoupled_weight_decay=True`` the decay is θ ← θ(1 − αλ) instead (AdamW's):
    λθ joins the step after ``steps``, kept out of their buffers.
    Complex parameters are updated as PyTorch does, through their real view
    (``torch.view_as_real``): each of the real and imaginary parts is its own
    coordinate, with moments of its own.
    """
    check_flag(call, "maximize", maximize)
    check_flag(call, "decoupled_weight_decay", decoupled_weight_decay)
    if decoupled_weight_decay:
        if requested(weight_decay):
            steps = [*steps, _add_decayed_weights(call, weight_decay)]
        weight_decay = None
    return _real_view(
        chain(*maximize_and_decay(call, maximize, weight_decay), *steps, lr_step(call, lr))
    )


def refuse_complex(call: str, name: str, tx: optax.GradientTransformation):
    """``tx``, whose ``init`` refuses complex parameters as torch.optim.``name`` does."""

    def init_fn(params):
        check_real_params(call, params, f"{name} does not support complex parameters.")
        return tx.init(params)

    return optax.GradientTransformationExtraArgs(init_fn, tx.update)


def _as_real(x: jax.Array) -> jax.Array:
    return jnp.stack([x.real, x.imag], axis=-1) if jnp.iscomplexobj(x) else x


def _from_real(u: jax.Array, like: jax.Array) -> jax.Array:
    if not jnp.iscomplexobj(like):
        return u
    return jax.lax.complex(u[..., 0], u[..., 1]).astype(like.dtype)


def _real_view(tx: optax.GradientTransformation) -> optax.GradientTransformationExtraArgs:
    def init_fn(params):
        return tx.init(jax.tree.map(_as_real, params))

    def update_fn(updates, state, params=None, **extra_args):
        real_params = None if params is None else jax.tree.map(_as_real, params)
        out, state = tx.update(jax.tree.map(_as_real, updates), state, real_params, **extra_args)
        return jax.tree.map(_from_real, out, updates), state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
