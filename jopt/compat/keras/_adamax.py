"""``keras.optimizers.Adamax``."""

from __future__ import annotations

from typing import Unpack

import optax

from jopt._adamax import _scale_by_adamax, check_adamax
from jopt._base import Scalar, ScalarOrSchedule
from jopt._base import _scale_by_learning_rate as lr_step
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
def Adamax(  # noqa: N802
    learning_rate: ScalarOrSchedule = 1e-3,
    beta_1: ScalarOrSchedule = 0.9,
    beta_2: Scalar = 0.999,
    epsilon: Scalar = 1e-7,
    weight_decay: ScalarOrSchedule | None = None,
    **options: Unpack[KerasOptions],
) -> optax.GradientTransformationExtraArgs:
    """``keras.optimizers.Adamax``:

    θ ← θ − θλα_t;  m_t = β1 m_{t−1} + (1−β1) g,  u_t = max(β2 u_{t−1}, |g|);
    θ ← θ − α_t/(1−β1^t) · m_t/(u_t + ε).

    ε is added to u_t after the max (PyTorch adds it to |g| inside the max):
    :func:`jopt.scale_by_adamax` with ``eps_in_max=False``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.Adamax(learning_rate=0.1, epsilon=1.0)
    >>> tx.update(jnp.array([3.0]), tx.init(jnp.zeros(1)))[0]  # −0.1·3/(3 + 1)
    Array([-0.075], dtype=float32)
    """
    call = "jopt.compat.keras.Adamax"
    lr = keras_learning_rate(call, learning_rate)
    check_adamax(
        call, beta_1, beta_2, epsilon, b1_name="beta_1", b2_name="beta_2", eps_name="epsilon"
    )
    check_weight_decay(call, weight_decay)
    steps = [_scale_by_adamax(call, beta_1, beta_2, epsilon, eps_in_max=False), lr_step(call, lr)]
    return keras_optimizer(call, steps, lr, weight_decay, dict(options))
