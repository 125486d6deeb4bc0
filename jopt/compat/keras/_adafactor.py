"""``keras.optimizers.Adafactor``."""

from __future__ import annotations

from typing import Unpack

import optax

from jopt._adafactor import check_adafactor, relative_step_size, scale_by_adafactor_moments
from jopt._base import Scalar, ScalarOrSchedule
from jopt._base import _scale_by_learning_rate as lr_step
from jopt._validation import check_flag, check_real
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
def Adafactor(  # noqa: N802 (Keras' class name)
    learning_rate: ScalarOrSchedule = 0.001,
    beta_2_decay: Scalar = -0.8,
    epsilon_1: Scalar = 1e-30,
    epsilon_2: Scalar = 1e-3,
    clip_threshold: Scalar = 1.0,
    relative_step: bool = True,
    weight_decay: ScalarOrSchedule | None = None,
    **options: Unpack[KerasOptions],
) -> optax.GradientTransformationExtraArgs:
    """``keras.optimizers.Adafactor``, the paper's algorithm:

    θ ← θ − θλα_t  (Keras decays first: RMS(θ) below reads this θ);
    ρ_t = min(α_t, 1/sqrt(t)),  a_t = max(ε2, RMS(θ)) ρ_t;
    R_t, C_t (or v_t) = β̂2_t (…) + (1 − β̂2_t) mean(g² + ε1),  β̂2_t = 1 − t^τ;
    V̂_t = R_t C_tᵀ / mean(R_t);  U_t = g / sqrt(V̂_t);
    θ ← θ − a_t U_t / max(1, RMS(U_t)/d).

    :func:`jopt.scale_by_adafactor` at its defaults (ε1 added to g²) with the relative step
    ρ_t, which :func:`jopt.get_learning_rate` reads. ``relative_step`` is accepted and does
    nothing, as in Keras 3.15 (which applies the min(α_t, 1/sqrt(t)) cap either way).

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.Adafactor(learning_rate=0.5)
    >>> params = jnp.full((2, 2), 2.0)  # RMS(θ) = 2; first step: ρ = min(0.5, 1)
    >>> g = jnp.array([[1.0, -1.0], [2.0, -2.0]])  # rank 1: U = sign(g)
    >>> tx.update(g, tx.init(params), params)[0]
    Array([[-1.,  1.],
           [-1.,  1.]], dtype=float32)
    """
    call = "jopt.compat.keras.Adafactor"
    lr = keras_learning_rate(call, learning_rate)
    check_real(call, "epsilon_1", epsilon_1)  # no None (PyTorch's machine epsilon) here
    names = ("beta_2_decay", "epsilon_1", "epsilon_2", "clip_threshold")
    check_adafactor(call, beta_2_decay, epsilon_1, epsilon_2, clip_threshold, names=names)
    check_flag(call, "relative_step", relative_step)
    check_weight_decay(call, weight_decay)
    moments = scale_by_adafactor_moments(
        call, b2_decay=beta_2_decay, eps1=epsilon_1, eps2=epsilon_2, clip_threshold=clip_threshold
    )
    steps = [moments, lr_step(call, relative_step_size(lr))]
    return keras_optimizer(call, steps, lr, weight_decay, dict(options))
