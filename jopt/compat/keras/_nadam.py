"""``keras.optimizers.Nadam``."""

from __future__ import annotations

from typing import Unpack

import optax

from jopt._base import Scalar, ScalarOrSchedule
from jopt._base import _scale_by_learning_rate as lr_step
from jopt._nadam import _scale_by_nadam, check_nadam
from jopt.compat.keras._common import (
    KerasOptions,
    check_weight_decay,
    keras_optimizer,
    with_options,
)
from jopt.compat.keras._common import (
    learning_rate as keras_learning_rate,
)

KERAS_MOMENTUM_DECAY = 1.0  # Keras' μ_t = β1(1 − 0.5·0.96^t): ψ = 1


@with_options
def Nadam(  # noqa: N802
    learning_rate: ScalarOrSchedule = 1e-3,
    beta_1: ScalarOrSchedule = 0.9,
    beta_2: Scalar = 0.999,
    epsilon: Scalar = 1e-7,
    weight_decay: ScalarOrSchedule | None = None,
    **options: Unpack[KerasOptions],
) -> optax.GradientTransformationExtraArgs:
    """``keras.optimizers.Nadam``, with Keras' momentum cache u_t = β1(1 − 0.5·0.96^t):

    θ ← θ − θλα_t;  Π_t = u_1 ⋯ u_t;
    m_t = β1 m_{t−1} + (1−β1) g,  v_t = β2 v_{t−1} + (1−β2) g²;
    m̂_t = u_{t+1} m_t/(1 − Π_t u_{t+1}) + (1−u_t) g/(1 − Π_t),  v̂_t = v_t/(1−β2^t);
    θ ← θ − α_t m̂_t/(sqrt(v̂_t) + ε).

    This is PyTorch's ``NAdam`` formula with ``momentum_decay`` ψ = 1 instead of 0.004:
    Keras' u_t decays 0.96^t, PyTorch's 0.96^(0.004t), so Keras' momentum reaches β1 within
    a few dozen steps and PyTorch's over thousands. Despite Keras' docstring, ε is added to
    sqrt(v̂_t), the bias-corrected moment, as in PyTorch. One primitive serves both:
    :func:`jopt.scale_by_nadam` with ``momentum_decay=1``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.Nadam(learning_rate=0.1, beta_1=0.0, epsilon=0.0)  # β1 = 0: Adam's step
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]
    Array([-0.1,  0.1], dtype=float32)
    """
    call = "jopt.compat.keras.Nadam"
    lr = keras_learning_rate(call, learning_rate)
    names = dict(b1_name="beta_1", b2_name="beta_2", eps_name="epsilon")
    check_nadam(call, beta_1, beta_2, epsilon, KERAS_MOMENTUM_DECAY, **names)
    check_weight_decay(call, weight_decay)
    moments = _scale_by_nadam(call, beta_1, beta_2, epsilon, KERAS_MOMENTUM_DECAY)
    return keras_optimizer(call, [moments, lr_step(call, lr)], lr, weight_decay, dict(options))
