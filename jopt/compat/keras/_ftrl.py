"""``keras.optimizers.Ftrl``: :func:`jopt.scale_by_ftrl` with Keras' argument names
(``l1_regularization_strength → l1``, ...) and Keras' words for its refusals."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Unpack

import optax

from jopt._algorithms.proximal.ftrl import scale_by_ftrl
from jopt._core.checks import Rule, UnnamedValueError, concrete_values, nonnegative, positive, real
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt.compat.keras._common import (
    LEARNING_RATE,
    WEIGHT_DECAY,
    KerasOptions,
    keras_optimizer,
    keras_preset,
)


@dataclass(frozen=True)
class KerasSign(Rule):
    """A finite real number >= 0 (``sign="positive"``) or <= 0 (``"negative"``), refused
    in Keras' words ("`l1_regularization_strength` needs to be positive or zero")."""

    kind: ClassVar[str] = "number"

    sign: str

    def __call__(self, name: str, value: Any) -> Any:
        real()(name, value)  # a finite real number
        x = concrete_values(value)
        if x is None:
            return value
        if not (float(x) >= 0.0 if self.sign == "positive" else float(x) <= 0.0):
            raise UnnamedValueError(
                f"`{name}` needs to be {self.sign} or zero. Received: {name}={value}."
            )
        return value

    def bad(self) -> dict[str, Any]:
        return real().bad() | {"wrong-sign": -1.0 if self.sign == "positive" else 1.0}


def _rate_divides(arguments: Mapping[str, Any]) -> None:
    """FTRL divides by α: a constant rate must be > 0 (Keras' rule takes 0)."""
    positive(schedule=True)("learning_rate", arguments["learning_rate"])


@keras_preset(
    _rate_divides,
    learning_rate=LEARNING_RATE,
    learning_rate_power=KerasSign("negative"),
    initial_accumulator_value=KerasSign("positive"),
    l1_regularization_strength=KerasSign("positive"),
    l2_regularization_strength=KerasSign("positive"),
    l2_shrinkage_regularization_strength=KerasSign("positive"),
    beta=nonnegative(),
    weight_decay=WEIGHT_DECAY,
)
def Ftrl(  # noqa: N802 (Keras' class name)
    learning_rate: ScalarOrSchedule = 0.001,
    learning_rate_power: Scalar = -0.5,
    initial_accumulator_value: Scalar = 0.1,
    l1_regularization_strength: Scalar = 0.0,
    l2_regularization_strength: Scalar = 0.0,
    l2_shrinkage_regularization_strength: Scalar = 0.0,
    beta: Scalar = 0.0,
    weight_decay: ScalarOrSchedule | None = None,
    **options: Unpack[KerasOptions],
) -> optax.GradientTransformationExtraArgs:
    """``keras.optimizers.Ftrl``: :func:`jopt.scale_by_ftrl` with Keras' argument names.

    θ ← θ − θλα_t (weight_decay); then, with p = ``learning_rate_power``,
    λ1/λ2/λs the l1/l2/l2-shrinkage strengths and λ2' = λ2 + β/(2α_t):

    n_t = n_{t−1} + g²,  σ_t = (n_t^(−p) − n_{t−1}^(−p)) / α_t;
    z_t = z_{t−1} + g + 2λs θ − σ_t θ;
    θ ← (clip(z_t, −λ1, λ1) − z_t) / (n_t^(−p)/α_t + 2λ2').

    n starts at ``initial_accumulator_value``, z at 0. Real parameters only.

    Args:
      learning_rate: α > 0 (it divides), a schedule ``count -> α`` that stays above 0, or
        a function of no arguments.
      learning_rate_power: p <= 0.
      initial_accumulator_value: n_0 >= 0.
      l1_regularization_strength: λ1 >= 0.
      l2_regularization_strength: λ2 >= 0.
      l2_shrinkage_regularization_strength: λs >= 0.
      beta: β >= 0.
      weight_decay: Keras' decoupled decay λ >= 0 (or a schedule), None for none.
      **options: Keras' base options (:class:`KerasOptions`).

    Returns:
      An ``optax.GradientTransformationExtraArgs``; ``update`` needs ``params``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.Ftrl(learning_rate=0.5, initial_accumulator_value=0.0)
    >>> params = jnp.array([0.0])
    >>> tx.update(jnp.array([2.0]), tx.init(params), params)[0]  # −z/(sqrt(n)/α) = −2/4
    Array([-0.5], dtype=float32)
    """
    step = scale_by_ftrl(
        learning_rate,
        learning_rate_power=learning_rate_power,
        initial_accumulator_value=initial_accumulator_value,
        l1=l1_regularization_strength,
        l2=l2_regularization_strength,
        l2_shrinkage=l2_shrinkage_regularization_strength,
        beta=beta,
    )
    return keras_optimizer(step, learning_rate, weight_decay, options)
