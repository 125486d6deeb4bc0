"""The layer-wise family of ``keras.optimizers``: Lamb.

The preset maps Keras' arguments onto :func:`jopt.scale_by_adam` (``beta_1 → b1``,
``beta_2 → b2``, ``epsilon → eps``), :func:`jopt.scale_by_trust_ratio` and the
learning-rate step, inside :func:`keras_optimizer` (Keras' base options and its decoupled
decay, applied before the step, so the trust ratio reads the decayed θ).
"""

from __future__ import annotations

from typing import Unpack

import optax

from jopt._algorithms.adam.adam import scale_by_adam
from jopt._algorithms.layerwise.lamb import scale_by_trust_ratio
from jopt._core.checks import nonnegative, unit_interval
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.learning_rate import scale_by_learning_rate
from jopt.compat.keras._common import (
    LEARNING_RATE,
    WEIGHT_DECAY,
    KerasOptions,
    keras_optimizer,
    keras_preset,
)


@keras_preset(
    learning_rate=LEARNING_RATE,
    beta_1=unit_interval(schedule=True),
    beta_2=unit_interval(),
    epsilon=nonnegative(),
    weight_decay=WEIGHT_DECAY,
)
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

    Args:
      learning_rate: α >= 0, a schedule ``count -> α`` (Keras' ``iterations``), or a
        function of no arguments called at every step.
      beta_1: β1 in [0, 1), or a schedule.
      beta_2: β2 in [0, 1).
      epsilon: ε >= 0.
      weight_decay: Keras' decoupled decay λ >= 0 (or a schedule), None for none.
      **options: Keras' base options (:class:`KerasOptions`).

    Returns:
      An ``optax.GradientTransformationExtraArgs``; ``update`` needs ``params``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.Lamb(learning_rate=0.1)
    >>> params = jnp.array([3.0, 4.0])
    >>> tx.update(jnp.array([1.0, -1.0]), tx.init(params), params)[0]  # −α·5·sign(g)/sqrt(2)
    Array([-0.35355338,  0.35355338], dtype=float32)
    """
    steps = [
        scale_by_adam(beta_1, beta_2, epsilon),
        scale_by_trust_ratio(),
        scale_by_learning_rate(learning_rate),
    ]
    return keras_optimizer(steps, learning_rate, weight_decay, options)
