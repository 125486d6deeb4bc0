"""The Adam family of ``keras.optimizers``: Adam, AdamW, Adamax, Nadam.

Each preset maps Keras' arguments onto one jopt primitive (``beta_1 → b1``,
``beta_2 → b2``, ``epsilon → eps``) and the learning-rate step, inside
:func:`keras_optimizer` (Keras' base options and its decoupled decay).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Unpack

import optax

from jopt._algorithms.adam.adam import adam_direction
from jopt._algorithms.adam.adamax import scale_by_adamax
from jopt._algorithms.adam.nadam import scale_by_nadam
from jopt._core.checks import Rule, UnnamedValueError, flag, nonnegative, unit_interval
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.learning_rate import scale_by_learning_rate
from jopt.compat.keras._common import (
    LEARNING_RATE,
    WEIGHT_DECAY,
    KerasOptions,
    keras_optimizer,
    keras_preset,
)

# The rules the family shares (Keras' names).
FAMILY: dict[str, Rule] = dict(
    learning_rate=LEARNING_RATE,
    beta_1=unit_interval(schedule=True),
    beta_2=unit_interval(),
    epsilon=nonnegative(),
)
KERAS_MOMENTUM_DECAY = 1.0  # Keras' μ_t = β1(1 − 0.5·0.96^t): ψ = 1


def _adam(
    learning_rate: ScalarOrSchedule,
    beta_1: ScalarOrSchedule,
    beta_2: Scalar,
    epsilon: Scalar,
    amsgrad: bool,
    weight_decay: Any,
    options: Mapping[str, Any],
) -> optax.GradientTransformationExtraArgs:
    direction = adam_direction(beta_1, beta_2, epsilon, amsgrad=amsgrad, eps_hat=True)
    steps = [direction, scale_by_learning_rate(learning_rate)]
    return keras_optimizer(steps, learning_rate, weight_decay, options)


@keras_preset(**FAMILY, amsgrad=flag(), weight_decay=WEIGHT_DECAY)
def Adam(  # noqa: N802 (Keras' class name)
    learning_rate: ScalarOrSchedule = 1e-3,
    beta_1: ScalarOrSchedule = 0.9,
    beta_2: Scalar = 0.999,
    epsilon: Scalar = 1e-7,
    amsgrad: bool = False,
    weight_decay: ScalarOrSchedule | None = None,
    **options: Unpack[KerasOptions],
) -> optax.GradientTransformationExtraArgs:
    """``keras.optimizers.Adam`` with Keras' "epsilon hat":

    θ ← θ − θλα_t;  m_t = β1 m_{t−1} + (1−β1) g,  v_t = β2 v_{t−1} + (1−β2) g²,
    v̄_t = max(v̄_{t−1}, v_t) if amsgrad else v_t;
    θ ← θ − α_t·sqrt(1−β2^t)/(1−β1^t) · m_t / (sqrt(v̄_t) + ε),
    i.e. PyTorch's Adam with ε replaced by ε/sqrt(1−β2^t): :func:`jopt.scale_by_adam`
    (:func:`jopt.scale_by_amsgrad`) with ``eps_hat=True``.

    Args:
      learning_rate: α >= 0, a schedule ``count -> α`` (Keras' ``iterations``), or a
        function of no arguments called at every step.
      beta_1: β1 in [0, 1), or a schedule.
      beta_2: β2 in [0, 1).
      epsilon: ε >= 0.
      amsgrad: use the running max of v.
      weight_decay: Keras' decoupled decay λ >= 0 (or a schedule), None for none.
      **options: Keras' base options (:class:`KerasOptions`).

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.Adam(learning_rate=0.1, beta_2=0.75, epsilon=1.0)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # −0.1·sqrt(0.25)/0.1·0.2/(1 + 1)
    Array([-0.05], dtype=float32)
    """
    return _adam(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, options)


def _required(arguments: Mapping[str, Any]) -> None:
    if arguments["weight_decay"] is None:
        raise UnnamedValueError(
            "Argument `weight_decay` must be a float. Received: weight_decay=None; "
            "use jopt.compat.keras.Adam for no decay."
        )


@keras_preset(_required, **FAMILY, amsgrad=flag(), weight_decay=WEIGHT_DECAY)
def AdamW(  # noqa: N802
    learning_rate: ScalarOrSchedule = 1e-3,
    weight_decay: ScalarOrSchedule = 0.004,
    beta_1: ScalarOrSchedule = 0.9,
    beta_2: Scalar = 0.999,
    epsilon: Scalar = 1e-7,
    amsgrad: bool = False,
    **options: Unpack[KerasOptions],
) -> optax.GradientTransformationExtraArgs:
    """``keras.optimizers.AdamW``: :func:`Adam` with ``weight_decay`` (θ ← θ − θλα_t) required.

    Args:
      learning_rate: α >= 0, a schedule, or a function of no arguments.
      weight_decay: λ >= 0 (or a schedule); Keras' default 0.004.
      beta_1: β1 in [0, 1), or a schedule.
      beta_2: β2 in [0, 1).
      epsilon: ε >= 0.
      amsgrad: use the running max of v.
      **options: Keras' base options (:class:`KerasOptions`).

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.AdamW(learning_rate=0.1, weight_decay=0.5)
    >>> params = jnp.array([2.0])
    >>> tx.update(jnp.array([1.0]), tx.init(params), params)[0]  # −0.1·1 − 0.1·0.5·2
    Array([-0.2], dtype=float32)
    """
    return _adam(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, options)


@keras_preset(**FAMILY, weight_decay=WEIGHT_DECAY)
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

    Args:
      learning_rate: α >= 0, a schedule, or a function of no arguments.
      beta_1: β1 in [0, 1), or a schedule.
      beta_2: β2 in [0, 1).
      epsilon: ε >= 0.
      weight_decay: Keras' decoupled decay λ >= 0 (or a schedule), None for none.
      **options: Keras' base options (:class:`KerasOptions`).

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.Adamax(learning_rate=0.1, epsilon=1.0)
    >>> tx.update(jnp.array([3.0]), tx.init(jnp.zeros(1)))[0]  # −0.1·3/(3 + 1)
    Array([-0.075], dtype=float32)
    """
    direction = scale_by_adamax(beta_1, beta_2, epsilon, eps_in_max=False)
    steps = [direction, scale_by_learning_rate(learning_rate)]
    return keras_optimizer(steps, learning_rate, weight_decay, options)


@keras_preset(**FAMILY, weight_decay=WEIGHT_DECAY)
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

    Args:
      learning_rate: α >= 0, a schedule, or a function of no arguments.
      beta_1: β1 in [0, 1), or a schedule.
      beta_2: β2 in [0, 1).
      epsilon: ε >= 0.
      weight_decay: Keras' decoupled decay λ >= 0 (or a schedule), None for none.
      **options: Keras' base options (:class:`KerasOptions`).

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.Nadam(learning_rate=0.1, beta_1=0.0, epsilon=0.0)  # β1 = 0: Adam's step
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]
    Array([-0.1,  0.1], dtype=float32)
    """
    direction = scale_by_nadam(beta_1, beta_2, epsilon, KERAS_MOMENTUM_DECAY)
    steps = [direction, scale_by_learning_rate(learning_rate)]
    return keras_optimizer(steps, learning_rate, weight_decay, options)
