"""What every ``jopt.compat.torch`` preset shares: torch's argument rules (with torch's
wording), its order of operations and complex parameters.

A preset is a declaration: its signature (torch's names and defaults), its rules, and one
call of :func:`torch_optimizer` that maps the arguments onto jopt primitives::

    g ← −g                  (maximize)
    g ← g + λθ              (weight_decay, coupled; decoupled_weight_decay: θ ← θ(1 − αλ))
    the direction           (a jopt scale_by_* primitive, the arguments renamed)
    θ ← θ − α·(that)        (jopt.scale_by_learning_rate)
"""

from __future__ import annotations

import typing
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import optax

from jopt._algorithms.regularization.weight_decay import add_decayed_weights
from jopt._core.chain import chain
from jopt._core.checks import Rule, flag, learning_rate, nonnegative, optional, pair, unit_interval
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.state import check_real_params, requested

LR = learning_rate(message="Invalid learning rate")
EPS = nonnegative(message="Invalid epsilon value")
WEIGHT_DECAY = optional(nonnegative(schedule=True, message="Invalid weight_decay value"))
MOMENTUM = optional(nonnegative(schedule=True, message="Invalid momentum value"))
BETAS = pair(
    unit_interval(schedule=True, message="Invalid beta parameter at index 0"),
    unit_interval(message="Invalid beta parameter at index 1"),
    what="a pair (beta1, beta2)",
)
# torch's implementation switches: None or a bool, accepted and ignored. They pick a
# kernel in PyTorch, never the numbers; XLA fuses every jopt step anyway.
KERNEL_FLAG = flag(optional=True)
KERNEL_FLAGS: dict[str, Rule] = dict(
    foreach=KERNEL_FLAG, fused=KERNEL_FLAG, capturable=KERNEL_FLAG, differentiable=KERNEL_FLAG
)
# The rules of the Adam family (Adam, AdamW, Adamax, NAdam, RAdam).
ADAM_FAMILY: dict[str, Rule] = dict(
    lr=LR, betas=BETAS, eps=EPS, weight_decay=WEIGHT_DECAY, maximize=flag()
)


def split_betas(betas: Sequence[ScalarOrSchedule]) -> tuple[ScalarOrSchedule, Scalar]:
    """(β1, β2) from ``betas`` as checked by :data:`BETAS` (β2 is never a schedule)."""
    return betas[0], typing.cast(Scalar, betas[1])


def kernel_flags(*names: str) -> dict[str, Rule]:
    """The rules of the kernel switches a torch class takes."""
    return {name: KERNEL_FLAGS[name] for name in names}


def torch_optimizer(
    direction: optax.GradientTransformation | Sequence[optax.GradientTransformation],
    lr: ScalarOrSchedule | None,
    *,
    maximize: bool = False,
    weight_decay: ScalarOrSchedule | None = None,
    decoupled_weight_decay: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """g ← −g if maximize; g ← g + λθ (coupled, if asked); ``direction``; θ ← θ − α·(that).

    With ``decoupled_weight_decay=True`` the decay is θ ← θ(1 − αλ) instead (AdamW's):
    λθ joins the step after ``direction``, kept out of its buffers. Complex parameters are
    updated as PyTorch does, through their real view (``torch.view_as_real``): each of the
    real and imaginary parts is its own coordinate, with moments of its own.

    ``lr=None`` is for a ``direction`` that applies its learning rate itself (ASGD's
    decaying η_t): then no :func:`jopt.scale_by_learning_rate` follows it.
    """
    single = isinstance(direction, optax.GradientTransformation)
    steps = [direction] if single else list(direction)
    first: list[optax.GradientTransformation] = [optax.scale(-1.0)] if maximize else []
    if requested(weight_decay):
        if decoupled_weight_decay:
            steps.append(add_decayed_weights(weight_decay))
        else:
            first.append(add_decayed_weights(weight_decay))
    if lr is not None:
        steps.append(scale_by_learning_rate(lr))
    return real_view(chain(*first, *steps))


def refuse_complex(
    tx: optax.GradientTransformation, name: str
) -> optax.GradientTransformationExtraArgs:
    """``tx``, whose ``init`` refuses complex parameters as ``torch.optim.<name>`` does."""
    tx = optax.with_extra_args_support(tx)

    def init_fn(params):
        check_real_params(params, f"{name} does not support complex parameters.")
        return tx.init(params)

    return optax.GradientTransformationExtraArgs(init_fn, tx.update)


def _as_real(x: jax.Array) -> jax.Array:
    return jnp.stack([x.real, x.imag], axis=-1) if jnp.iscomplexobj(x) else x


def _from_real(u: jax.Array, like: jax.Array) -> jax.Array:
    if not jnp.iscomplexobj(like):
        return u
    return jax.lax.complex(u[..., 0], u[..., 1]).astype(like.dtype)


def real_view(tx: optax.GradientTransformation) -> optax.GradientTransformationExtraArgs:
    """``tx`` run on the real view of complex leaves (a trailing axis of 2)."""
    tx = optax.with_extra_args_support(tx)

    def init_fn(params):
        return tx.init(jax.tree.map(_as_real, params))

    def update_fn(updates, state, params=None, **extra_args):
        real_params = None if params is None else jax.tree.map(_as_real, params)
        out, state = tx.update(jax.tree.map(_as_real, updates), state, real_params, **extra_args)
        return jax.tree.map(_from_real, out, updates), state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
