"""``keras.optimizers.SGD``."""

from __future__ import annotations

from typing import Any, Unpack

import optax

from jopt._base import Scalar, ScalarOrSchedule, requested
from jopt._base import _scale_by_learning_rate as lr_step
from jopt._sgd import _scale_by_trace
from jopt._validation import check_flag, check_optional, check_real, concrete_values
from jopt.compat.keras._common import (
    KerasOptions,
    check_weight_decay,
    keras_optimizer,
    with_options,
)
from jopt.compat.keras._common import (
    learning_rate as keras_learning_rate,
)
from jopt.schedules._step import inverse_time


def lr_inside_momentum(
    call: str, learning_rate: ScalarOrSchedule, momentum: Any, nesterov: bool = False
) -> list[optax.GradientTransformation]:
    """−α_t·(direction), then Keras' lr-inside momentum buffer b_t = μ b_{t−1} − α_t d_t
    (a heavy-ball trace after the learning-rate step); Nesterov outputs μ b_t − α_t d_t."""
    steps: list[optax.GradientTransformation] = [lr_step(call, learning_rate)]
    if requested(momentum):
        steps.append(_scale_by_trace(call, momentum, nesterov=nesterov))
    return steps


@with_options
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

    ``momentum``: Keras' default 0, off (``None`` here). With a constant α this is
    PyTorch's SGD with dampening 0; with a schedule it is not (the buffer keeps each
    gradient at its own α_t). Keras' nesterov flag does nothing without momentum.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.SGD(learning_rate=lambda count: 0.1 * 0.5**count, momentum=0.5)
    >>> state = tx.init(jnp.zeros(1))
    >>> u1, state = tx.update(jnp.array([1.0]), state)  # v = −0.1
    >>> u2, state = tx.update(jnp.array([1.0]), state)  # v = 0.5·(−0.1) − 0.05
    >>> u1, u2
    (Array([-0.1], dtype=float32), Array([-0.1], dtype=float32))
    """
    call = "jopt.compat.keras.SGD"
    lr = keras_learning_rate(call, learning_rate)
    if momentum is not None:
        check_real(call, "momentum", momentum)
        m = concrete_values(momentum)
        if m is not None and not 0 <= float(m) <= 1:
            raise ValueError(
                f"{call}: `momentum` must be a float between [0, 1]. "
                f"Received: momentum={momentum!r}"
            )
    check_flag(call, "nesterov", nesterov)
    check_optional(call, "decay", decay)
    check_weight_decay(call, weight_decay)
    if requested(decay):
        lr = inverse_time(lr, decay)
    steps = lr_inside_momentum(call, lr, momentum, nesterov)
    return keras_optimizer(call, steps, lr, weight_decay, dict(options))
