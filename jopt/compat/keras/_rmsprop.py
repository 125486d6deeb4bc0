"""``keras.optimizers.RMSprop``."""

from __future__ import annotations

from typing import Unpack

import optax

from jopt._base import Scalar, ScalarOrSchedule
from jopt._rmsprop import _scale_by_rms
from jopt._validation import check_flag, check_nonnegative, check_optional, check_unit
from jopt.compat.keras._common import (
    KerasOptions,
    check_weight_decay,
    keras_optimizer,
    with_options,
)
from jopt.compat.keras._common import (
    learning_rate as keras_learning_rate,
)
from jopt.compat.keras._sgd import lr_inside_momentum


@with_options
def RMSprop(  # noqa: N802
    learning_rate: ScalarOrSchedule = 1e-3,
    rho: Scalar = 0.9,
    momentum: Scalar | None = None,
    epsilon: Scalar = 1e-7,
    centered: bool = False,
    weight_decay: ScalarOrSchedule | None = None,
    **options: Unpack[KerasOptions],
) -> optax.GradientTransformationExtraArgs:
    """``keras.optimizers.RMSprop``:

    θ ← θ − θλα_t;  v_t = ρ v_{t−1} + (1−ρ) g²;
    δ = α_t g / sqrt(v_t − ḡ_t² + ε) with ḡ_t = ρ ḡ_{t−1} + (1−ρ) g (centered),
    else α_t g / sqrt(v_t + ε)  (ε inside);
    with momentum μ: b_t = μ b_{t−1} + δ, θ ← θ − b_t (α inside the buffer);  else θ ← θ − δ.
    ``momentum``: Keras' default 0, off (``None`` here).

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.RMSprop(learning_rate=0.1, rho=0.75, epsilon=0.0)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # −0.1·2/sqrt(0.25·4)
    Array([-0.2], dtype=float32)
    """
    call = "jopt.compat.keras.RMSprop"
    lr = keras_learning_rate(call, learning_rate)
    check_unit(call, "rho", rho)
    check_optional(call, "momentum", momentum)
    check_nonnegative(call, "epsilon", epsilon)
    check_flag(call, "centered", centered)
    check_weight_decay(call, weight_decay)
    steps = [
        _scale_by_rms(call, rho, epsilon, True, centered),
        *lr_inside_momentum(call, lr, momentum),
    ]
    return keras_optimizer(call, steps, lr, weight_decay, dict(options))
