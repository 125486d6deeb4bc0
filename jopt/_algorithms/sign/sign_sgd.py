"""signSGD and Signum (Bernstein et al. 2018): the sign of the gradient, or of its EMA."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from jopt._algorithms.regularization.weight_decay import MASK, optional_decay
from jopt._algorithms.sign.lion import scale_by_lion
from jopt._core.chain import chain
from jopt._core.checks import (
    checked,
    closed_unit_interval,
    flag,
    learning_rate,
    nonnegative,
    optional,
)
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.moments import state_format

DECAY_RULES = dict(
    weight_decay=optional(nonnegative(schedule=True)), mask=MASK, weight_decouple=flag()
)


@checked()
def scale_by_sign() -> optax.GradientTransformationExtraArgs:
    """The elementwise sign of the updates: u ← sign(u) (optax's ``scale_by_sign``).

    ±1 per coordinate, 0 where u is 0, u/|u| for complex leaves (``jnp.sign``'s rule).
    Stateless.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with an empty state.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_sign()
    >>> tx.update(jnp.array([0.5, -2.0, 0.0]), tx.init(jnp.zeros(3)))[0]
    Array([ 1., -1.,  0.], dtype=float32)
    """

    def init_fn(params):
        del params
        return optax.EmptyState()

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        return jax.tree.map(jnp.sign, updates), state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def _with_decay(
    direction: optax.GradientTransformation,
    learning_rate: ScalarOrSchedule,
    weight_decay: ScalarOrSchedule | None,
    mask: Any | None,
    weight_decouple: bool,
) -> optax.GradientTransformationExtraArgs:
    """``direction`` chained with the learning rate and an optional decay: decoupled
    (after the sign, scaled by the rate: θ ← θ(1 − αλ) − α·sign) or coupled (g + λθ
    before the sign), as pytorch_optimizer's ``weight_decouple``."""
    decay = optional_decay(weight_decay, mask)
    if weight_decouple:
        return chain(direction, *decay, scale_by_learning_rate(learning_rate))
    return chain(*decay, direction, scale_by_learning_rate(learning_rate))


@checked(learning_rate=learning_rate(), **DECAY_RULES)
def sign_sgd(
    learning_rate: ScalarOrSchedule = 1e-3,
    weight_decay: ScalarOrSchedule | None = None,
    *,
    mask: Any | None = None,
    weight_decouple: bool = True,
) -> optax.GradientTransformationExtraArgs:
    """signSGD (Bernstein et al. 2018, "signSGD: Compressed Optimisation for Non-Convex
    Problems"): Δθ = −α (sign(g_t) + λθ).

    ``chain(scale_by_sign(), add_decayed_weights(λ, mask),
    scale_by_learning_rate(learning_rate))``: optax.sign_sgd when λ is off (the default),
    pytorch_optimizer's ``SignSGD(momentum=0)`` (whose α = 1e-3 is the default here) with
    its decay. ``weight_decouple=False`` adds λθ to the gradient before the sign instead
    (pytorch_optimizer's coupled decay).

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.
      weight_decay: λ >= 0, or a schedule; ``None`` (the default): off.
      mask: a pytree of bools, or a function ``params -> pytree``, picking the leaves
        that decay.
      weight_decouple: decay the weights directly (the default) or through the gradient.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.sign_sgd(0.1)
    >>> tx.update(jnp.array([0.5, -2.0, 0.0]), tx.init(jnp.zeros(3)))[0]
    Array([-0.1,  0.1,  0. ], dtype=float32)
    """
    return _with_decay(scale_by_sign(), learning_rate, weight_decay, mask, weight_decouple)


@checked(
    learning_rate=learning_rate(),
    beta=closed_unit_interval(),
    accumulator_dtype=state_format(),
    **DECAY_RULES,
)
def signum(
    learning_rate: ScalarOrSchedule = 1e-3,
    beta: Scalar = 0.9,
    accumulator_dtype: Any | None = None,
    weight_decay: ScalarOrSchedule | None = None,
    *,
    mask: Any | None = None,
    weight_decouple: bool = True,
) -> optax.GradientTransformationExtraArgs:
    """Signum (Bernstein et al. 2018): the sign of a gradient EMA.

    m_t = β m_{t−1} + (1−β) g_t,   Δθ = −α (sign(m_t) + λθ).

    The direction is :func:`jopt.scale_by_lion` with β1 = β2 = β (Lion's interpolation
    is then the new momentum itself), so the state is a :class:`jopt.ScaleByLionState`.
    optax.signum when λ is off (the default), pytorch_optimizer's ``SignSGD(momentum=β)``
    (defaults α = 1e-3, β = 0.9) with its decay; ``weight_decouple=False`` adds λθ to the
    gradient before the EMA (its coupled decay).

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.
      beta: β in [0, 1], the EMA's decay (0: signSGD).
      accumulator_dtype: the dtype m is stored in (None: the dtype rule of :mod:`jopt`).
      weight_decay: λ >= 0, or a schedule; ``None`` (the default): off.
      mask: a pytree of bools, or a function ``params -> pytree``, picking the leaves
        that decay.
      weight_decouple: decay the weights directly (the default) or through the gradient.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.signum(0.1)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]
    Array([-0.1,  0.1], dtype=float32)
    """
    direction = scale_by_lion(beta, beta, mu_dtype=accumulator_dtype)
    return _with_decay(direction, learning_rate, weight_decay, mask, weight_decouple)
