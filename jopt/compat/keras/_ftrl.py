"""``keras.optimizers.Ftrl``."""

from __future__ import annotations

import math
from typing import Any, Unpack

import optax

from jopt._base import Scalar, ScalarOrSchedule
from jopt._ftrl import _scale_by_ftrl, check_ftrl_rate
from jopt._validation import check_nonnegative, check_real, concrete_values
from jopt.compat.keras._common import (
    KerasOptions,
    check_weight_decay,
    keras_optimizer,
    with_options,
)
from jopt.compat.keras._common import (
    learning_rate as keras_learning_rate,
)


def _check_keras(call: str, name: str, value: Any, sign: str) -> None:
    """Keras' check (its words) that ``value`` is >= 0 (``sign="positive"``) or <= 0."""
    check_real(call, name, value)
    x = concrete_values(value)
    if x is None:
        return
    if not math.isfinite(float(x)):
        raise ValueError(f"{call}: {name}={value!r} is invalid; {name} must be a finite number.")
    bad = not float(x) >= 0.0 if sign == "positive" else not float(x) <= 0.0  # NaN is bad
    if bad:
        raise ValueError(f"{call}: `{name}` needs to be {sign} or zero. Received: {name}={value}.")


@with_options
def Ftrl(  # noqa: N802
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

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.Ftrl(learning_rate=0.5, initial_accumulator_value=0.0)
    >>> params = jnp.array([0.0])
    >>> tx.update(jnp.array([2.0]), tx.init(params), params)[0]  # −z/(sqrt(n)/α) = −2/4
    Array([-0.5], dtype=float32)
    """
    call = "jopt.compat.keras.Ftrl"
    lr = keras_learning_rate(call, learning_rate)
    check_ftrl_rate(call, learning_rate)
    _check_keras(call, "initial_accumulator_value", initial_accumulator_value, "positive")
    _check_keras(call, "learning_rate_power", learning_rate_power, "negative")
    _check_keras(call, "l1_regularization_strength", l1_regularization_strength, "positive")
    _check_keras(call, "l2_regularization_strength", l2_regularization_strength, "positive")
    _check_keras(
        call,
        "l2_shrinkage_regularization_strength",
        l2_shrinkage_regularization_strength,
        "positive",
    )
    check_nonnegative(call, "beta", beta)
    check_weight_decay(call, weight_decay)
    step = _scale_by_ftrl(
        call,
        lr,
        learning_rate_power,
        initial_accumulator_value,
        l1_regularization_strength,
        l2_regularization_strength,
        l2_shrinkage_regularization_strength,
        beta,
    )
    return keras_optimizer(call, [step], lr, weight_decay, dict(options))
