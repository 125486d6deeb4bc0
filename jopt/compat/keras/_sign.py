"""The sign family of ``keras.optimizers``: Lion.

The preset maps Keras' arguments onto :func:`jopt.scale_by_lion` (``beta_1 → b1``,
``beta_2 → b2``) and the learning-rate step, inside :func:`keras_optimizer` (Keras' base
options and its decoupled decay).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Unpack

import optax

from jopt._algorithms.sign.lion import scale_by_lion
from jopt._core.checks import Rule, UnnamedValueError, closed_unit_interval, concrete_values, real
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.learning_rate import scale_by_learning_rate
from jopt.compat.keras._common import (
    LEARNING_RATE,
    WEIGHT_DECAY,
    KerasOptions,
    keras_optimizer,
    keras_preset,
)


@dataclass(frozen=True)
class _Beta1(Rule):
    """Keras' rule for Lion's β1: a real number in (0, 1], refused in Keras' words."""

    kind: ClassVar[str] = "number"

    def __call__(self, name: str, value: Any) -> Any:
        real()(name, value)
        b1 = concrete_values(value)
        if b1 is not None and not 0 < float(b1) <= 1:
            raise UnnamedValueError(
                f"Argument `beta_1` must be in the [0, 1] range. Otherwise, the "
                f"optimizer degenerates to SignSGD. Received: {name}={value}."
            )
        return value

    def bad(self) -> dict[str, Any]:
        return real().bad() | {"zero": 0.0, "above": 1.5}


@keras_preset(
    learning_rate=LEARNING_RATE,
    beta_1=_Beta1(),
    beta_2=closed_unit_interval(),
    weight_decay=WEIGHT_DECAY,
)
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

    Args:
      learning_rate: α >= 0, a schedule ``count -> α`` (Keras' ``iterations``), or a
        function of no arguments called at every step.
      beta_1: β1 in (0, 1] (Keras' check: β1 = 0 would be SignSGD).
      beta_2: β2 in [0, 1].
      weight_decay: Keras' decoupled decay λ >= 0 (or a schedule), None for none.
      **options: Keras' base options (:class:`KerasOptions`).

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.Lion(learning_rate=0.1)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]
    Array([-0.1,  0.1], dtype=float32)
    """
    steps = [scale_by_lion(beta_1, beta_2), scale_by_learning_rate(learning_rate)]
    return keras_optimizer(steps, learning_rate, weight_decay, options)
