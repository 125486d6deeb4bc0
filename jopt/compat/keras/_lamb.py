"""``keras.optimizers.Lamb``."""

from __future__ import annotations

from typing import Any, Unpack

import optax

from jopt._adam import check_adam, scale_by_adam_moments
from jopt._base import Scalar, ScalarOrSchedule
from jopt._base import _scale_by_learning_rate as lr_step
from jopt._lamb import _scale_by_trust_ratio
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
def Lamb(  # noqa: N802 (Keras' class name)
    learning_rate: ScalarOrSchedule = 0.001,
    beta_1: ScalarOrSchedule = 0.9,
    beta_2: Scalar = 0.999,
    epsilon: Scalar = 1e-7,
    weight_decay: ScalarOrSchedule | None = None,
    **options: Unpack[KerasOptions],
) -> optax.GradientTransformationExtraArgs:
    """``keras.optimizers.Lamb``:

    θ ← θ − θλα_t  (Keras decays first; the trust ratio reads this θ);
    r_t = m̂_t / (sqrt(v̂_t) + ε)  (Adam's moments, ε outside, no "epsilon hat");
    θ ← θ − α_t (‖θ‖/‖r_t‖) r_t  (per variable; the ratio is 1 where a norm is 0).

    Unlike the paper (:func:`jopt.lamb`), the decay is not part of r_t, so it is not
    rescaled by the trust ratio.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.Lamb(learning_rate=0.1)
    >>> params = jnp.array([3.0, 4.0])
    >>> tx.update(jnp.array([1.0, -1.0]), tx.init(params), params)[0]  # −α·5·sign(g)/sqrt(2)
    Array([-0.35355338,  0.35355338], dtype=float32)
    """
    call = "jopt.compat.keras.Lamb"
    lr = keras_learning_rate(call, learning_rate)
    names: dict[str, Any] = dict(b1_name="beta_1", b2_name="beta_2", eps_name="epsilon")
    check_adam(call, beta_1, beta_2, epsilon, **names)
    check_weight_decay(call, weight_decay)
    steps = [
        scale_by_adam_moments(call, b1=beta_1, b2=beta_2, eps=epsilon),
        _scale_by_trust_ratio(call),
        lr_step(call, lr),
    ]
    return keras_optimizer(call, steps, lr, weight_decay, dict(options))
