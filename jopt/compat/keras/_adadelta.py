"""``keras.optimizers.Adadelta``."""

from __future__ import annotations

from typing import Unpack

import optax

from jopt._adadelta import _scale_by_adadelta, check_adadelta
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
def Adadelta(  # noqa: N802
    learning_rate: ScalarOrSchedule = 1e-3,
    rho: Scalar = 0.95,
    epsilon: Scalar = 1e-7,
    weight_decay: ScalarOrSchedule | None = None,
    **options: Unpack[KerasOptions],
) -> optax.GradientTransformationExtraArgs:
    """``keras.optimizers.Adadelta``:

    θ ← θ − θλα_t;  v_t = ρ v_{t−1} + (1−ρ) g²;
    δ_t = sqrt(u_{t−1} + ε)/sqrt(v_t + ε) · g,  u_t = ρ u_{t−1} + (1−ρ) δ_t²;
    θ ← θ − α_t δ_t.

    The math is :func:`jopt.scale_by_adadelta`'s, PyTorch's too; only the defaults differ
    (Keras: α = 1e-3, ρ = 0.95, ε = 1e-7).

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.Adadelta(learning_rate=0.5, rho=0.75, epsilon=1.0)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # −0.5·sqrt(1)/sqrt(0.25·4 + 1)·2
    Array([-0.70710677], dtype=float32)
    """
    call = "jopt.compat.keras.Adadelta"
    lr = keras_learning_rate(call, learning_rate)
    check_adadelta(call, rho, epsilon, eps_name="epsilon")
    check_weight_decay(call, weight_decay)
    steps = [_scale_by_adadelta(call, rho, epsilon), lr_step(call, lr)]
    return keras_optimizer(call, steps, lr, weight_decay, dict(options))
