"""``keras.optimizers.SGD``, whose learning rate sits inside the momentum buffer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Unpack

import optax

from jopt._algorithms.sgd.sgd import scale_by_trace
from jopt._core.checks import UnnamedValueError, concrete_values, flag, nonnegative, optional, real
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.state import requested
from jopt.compat.keras._common import (
    LEARNING_RATE,
    WEIGHT_DECAY,
    KerasOptions,
    keras_optimizer,
    keras_preset,
)
from jopt.schedules._step import inverse_time


def lr_inside_momentum(
    learning_rate: ScalarOrSchedule, momentum: Scalar | None, nesterov: bool = False
) -> list[optax.GradientTransformation]:
    """−α_t·(direction), then Keras' lr-inside momentum buffer b_t = μ b_{t−1} − α_t d_t
    (:func:`jopt.scale_by_trace` after the learning-rate step); Nesterov outputs
    μ b_t − α_t d_t. No buffer without a momentum (``None`` or a Python/NumPy 0). From
    checked arguments; Keras' nesterov flag does nothing at μ = 0 (then g + 0·b = b)."""
    steps: list[optax.GradientTransformation] = [scale_by_learning_rate(learning_rate)]
    if requested(momentum):
        mu = concrete_values(momentum)
        nesterov = nesterov and (mu is None or float(mu) > 0)
        steps.append(scale_by_trace(momentum, nesterov=nesterov))
    return steps


def _momentum_in_unit_interval(arguments: Mapping[str, Any]) -> None:
    """Keras' rule and wording: ``momentum`` in [0, 1]."""
    momentum = arguments["momentum"]
    mu = None if momentum is None else concrete_values(momentum)
    if mu is not None and not 0.0 <= float(mu) <= 1.0:
        raise UnnamedValueError(
            f"`momentum` must be a float between [0, 1]. Received: momentum={momentum!r}"
        )


@keras_preset(
    _momentum_in_unit_interval,
    learning_rate=LEARNING_RATE,
    momentum=optional(real()),
    nesterov=flag(),
    decay=optional(nonnegative()),
    weight_decay=WEIGHT_DECAY,
)
def SGD(  # noqa: N802 (Keras' class name)
    learning_rate: ScalarOrSchedule = 0.01,
    momentum: Scalar | None = None,
    nesterov: bool = False,
    decay: Scalar | None = None,
    weight_decay: ScalarOrSchedule | None = None,
    **options: Unpack[KerasOptions],
) -> optax.GradientTransformationExtraArgs:
    """``keras.optimizers.SGD``:

    α_t = α / (1 + decay·(t−1))  (tf.keras 2's legacy ``decay``; Keras 3 dropped it);
    θ ← θ − θλα_t (weight_decay);
    v_t = μ v_{t−1} − α_t g;  θ ← θ + μ v_t − α_t g (nesterov) or θ + v_t.

    The learning-rate step, then :func:`jopt.scale_by_trace` (the buffer holds −α_t g).
    ``momentum``: Keras' default 0, off (``None`` here). With a constant α this is
    PyTorch's SGD with dampening 0; with a schedule it is not (the buffer keeps each
    gradient at its own α_t). Keras' nesterov flag does nothing without momentum.

    Args:
      learning_rate: α >= 0, a schedule ``count -> α`` (Keras' ``iterations``), or a
        function of no arguments called at every step.
      momentum: μ in [0, 1]; Keras' default 0, off (``None`` here).
      nesterov: Nesterov momentum.
      decay: tf.keras 2's inverse-time decay of α, >= 0 (``None``: off).
      weight_decay: Keras' decoupled decay λ >= 0 (or a schedule), None for none.
      **options: Keras' base options (:class:`KerasOptions`).

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.SGD(learning_rate=lambda count: 0.1 * 0.5**count, momentum=0.5)
    >>> state = tx.init(jnp.zeros(1))
    >>> u1, state = tx.update(jnp.array([1.0]), state)  # v = −0.1
    >>> u2, state = tx.update(jnp.array([1.0]), state)  # v = 0.5·(−0.1) − 0.05
    >>> u1, u2
    (Array([-0.1], dtype=float32), Array([-0.1], dtype=float32))
    """
    lr = inverse_time(learning_rate, decay) if requested(decay) else learning_rate
    steps = lr_inside_momentum(lr, momentum, nesterov)
    return keras_optimizer(steps, lr, weight_decay, options)
