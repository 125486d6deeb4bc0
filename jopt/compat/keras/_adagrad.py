"""``keras.optimizers.Adagrad``."""

from __future__ import annotations

from typing import Unpack

import optax

from jopt._adagrad import _scale_by_adagrad
from jopt._base import Scalar, ScalarOrSchedule
from jopt._base import _scale_by_learning_rate as lr_step
from jopt._validation import check_nonnegative
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
def Adagrad(  # noqa: N802
    learning_rate: ScalarOrSchedule = 1e-3,
    initial_accumulator_value: Scalar = 0.1,
    epsilon: Scalar = 1e-7,
    weight_decay: ScalarOrSchedule | None = None,
    **options: Unpack[KerasOptions],
) -> optax.GradientTransformationExtraArgs:
    """``keras.optimizers.Adagrad``:

    θ ← θ − θλα_t;  s_t = s_{t−1} + g² (s_0 = 0.1);  θ ← θ − α_t g / sqrt(s_t + ε)  (ε inside).

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.Adagrad(learning_rate=0.1, initial_accumulator_value=0.0, epsilon=0.0)
    >>> tx.update(jnp.array([3.0, -4.0]), tx.init(jnp.zeros(2)))[0]
    Array([-0.1,  0.1], dtype=float32)
    """
    call = "jopt.compat.keras.Adagrad"
    lr = keras_learning_rate(call, learning_rate)
    check_nonnegative(call, "initial_accumulator_value", initial_accumulator_value)
    check_nonnegative(call, "epsilon", epsilon)
    check_weight_decay(call, weight_decay)
    steps = [
        _scale_by_adagrad(call, initial_accumulator_value, epsilon, True, None),
        lr_step(call, lr),
    ]
    return keras_optimizer(call, steps, lr, weight_decay, dict(options))
