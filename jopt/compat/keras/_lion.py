"""``keras.optimizers.Lion``."""

from __future__ import annotations

from typing import Unpack

import optax

from jopt._base import Scalar, ScalarOrSchedule
from jopt._base import _scale_by_learning_rate as lr_step
from jopt._lion import _scale_by_lion, check_lion
from jopt._validation import check_real, concrete_values
from jopt.compat.keras._common import (
    KerasOptions,
    check_weight_decay,
    keras_optimizer,
    with_options,
)
from jopt.compat.keras._common import (
    learning_rate as keras_learning_rate,
)


@with_options
def Lion(  # noqa: N802 (Keras' class name)
    learning_rate: ScalarOrSchedule = 0.001,
    beta_1: Scalar = 0.9,
    beta_2: Scalar = 0.99,
    weight_decay: ScalarOrSchedule | None = None,
    **options: Unpack[KerasOptions],
) -> optax.GradientTransformationExtraArgs:
    """``keras.optimizers.Lion``: :func:`jopt.scale_by_lion` at Keras' defaults.

    θ ← θ − θλα_t;  θ ← θ − α_t sign(β1 m_{t−1} + (1−β1) g);
    m_t = β2 m_{t−1} + (1−β2) g.

    ``beta_1`` must be in (0, 1] (Keras' check); ``beta_2`` in [0, 1].

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.Lion(learning_rate=0.1)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]
    Array([-0.1,  0.1], dtype=float32)
    """
    call = "jopt.compat.keras.Lion"
    lr = keras_learning_rate(call, learning_rate)
    check_real(call, "beta_1", beta_1)
    b1 = concrete_values(beta_1)
    if b1 is not None and not 0 < float(b1) <= 1:
        raise ValueError(
            f"{call}: Argument `beta_1` must be in the [0, 1] range. Otherwise, the optimizer "
            f"degenerates to SignSGD. Received: beta_1={beta_1}."
        )
    check_lion(call, beta_1, beta_2, None, b1_name="beta_1", b2_name="beta_2")
    check_weight_decay(call, weight_decay)
    steps = [_scale_by_lion(call, beta_1, beta_2), lr_step(call, lr)]
    return keras_optimizer(call, steps, lr, weight_decay, dict(options))
