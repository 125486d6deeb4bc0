"""The adaptive family of ``keras.optimizers``: Adagrad, RMSprop, Adadelta.

Each preset maps Keras' arguments onto one jopt primitive (``epsilon → eps``, ε inside
the square root) and the learning-rate step, inside :func:`keras_optimizer` (Keras' base
options and its decoupled decay); RMSprop's momentum buffer holds the learning rate, as
Keras' does.
"""

from __future__ import annotations

from typing import Unpack

import optax

from jopt._algorithms.adaptive.adadelta import scale_by_adadelta
from jopt._algorithms.adaptive.adagrad import scale_by_adagrad
from jopt._algorithms.adaptive.rmsprop import rmsprop_steps
from jopt._core.checks import closed_unit_interval, flag, nonnegative, optional, unit_interval
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.learning_rate import scale_by_learning_rate
from jopt.compat.keras._common import (
    LEARNING_RATE,
    WEIGHT_DECAY,
    KerasOptions,
    keras_optimizer,
    keras_preset,
)
from jopt.compat.keras._sgd import lr_inside_momentum


@keras_preset(
    learning_rate=LEARNING_RATE,
    initial_accumulator_value=nonnegative(),
    epsilon=nonnegative(),
    weight_decay=WEIGHT_DECAY,
)
def Adagrad(  # noqa: N802 (Keras' class name)
    learning_rate: ScalarOrSchedule = 1e-3,
    initial_accumulator_value: Scalar = 0.1,
    epsilon: Scalar = 1e-7,
    weight_decay: ScalarOrSchedule | None = None,
    **options: Unpack[KerasOptions],
) -> optax.GradientTransformationExtraArgs:
    """``keras.optimizers.Adagrad``:

    θ ← θ − θλα_t;  s_t = s_{t−1} + g² (s_0 = 0.1);  θ ← θ − α_t g / sqrt(s_t + ε)  (ε inside).

    :func:`jopt.scale_by_adagrad` with ``eps_in_sqrt=True``.

    Args:
      learning_rate: α >= 0, a schedule ``count -> α`` (Keras' ``iterations``), or a
        function of no arguments called at every step.
      initial_accumulator_value: s_0 >= 0.
      epsilon: ε >= 0, inside the square root.
      weight_decay: Keras' decoupled decay λ >= 0 (or a schedule), None for none.
      **options: Keras' base options (:class:`KerasOptions`).

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.Adagrad(learning_rate=0.1, initial_accumulator_value=0.0, epsilon=0.0)
    >>> tx.update(jnp.array([3.0, -4.0]), tx.init(jnp.zeros(2)))[0]
    Array([-0.1,  0.1], dtype=float32)
    """
    direction = scale_by_adagrad(initial_accumulator_value, epsilon, eps_in_sqrt=True)
    steps = [direction, scale_by_learning_rate(learning_rate)]
    return keras_optimizer(steps, learning_rate, weight_decay, options)


@keras_preset(
    learning_rate=LEARNING_RATE,
    rho=unit_interval(),
    momentum=optional(nonnegative()),
    epsilon=nonnegative(),
    centered=flag(),
    weight_decay=WEIGHT_DECAY,
)
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

    :func:`jopt.scale_by_rms` (:func:`jopt.scale_by_stddev` if centered), the
    learning-rate step, then :func:`jopt.scale_by_trace`.
    ``momentum``: Keras' default 0, off (``None`` here).

    Args:
      learning_rate: α >= 0, a schedule, or a function of no arguments.
      rho: ρ in [0, 1).
      momentum: μ >= 0; Keras' default 0, off (``None`` here).
      epsilon: ε >= 0, inside the square root.
      centered: divide by the centered second moment.
      weight_decay: Keras' decoupled decay λ >= 0 (or a schedule), None for none.
      **options: Keras' base options (:class:`KerasOptions`).

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.RMSprop(learning_rate=0.1, rho=0.75, epsilon=0.0)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # −0.1·2/sqrt(0.25·4)
    Array([-0.2], dtype=float32)
    """
    steps = [
        *rmsprop_steps(rho, epsilon, eps_in_sqrt=True, centered=centered),
        *lr_inside_momentum(learning_rate, momentum),
    ]
    return keras_optimizer(steps, learning_rate, weight_decay, options)


@keras_preset(
    learning_rate=LEARNING_RATE,
    rho=closed_unit_interval(),
    epsilon=nonnegative(),
    weight_decay=WEIGHT_DECAY,
)
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

    Args:
      learning_rate: α >= 0, a schedule, or a function of no arguments.
      rho: ρ in [0, 1].
      epsilon: ε >= 0.
      weight_decay: Keras' decoupled decay λ >= 0 (or a schedule), None for none.
      **options: Keras' base options (:class:`KerasOptions`).

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.Adadelta(learning_rate=0.5, rho=0.75, epsilon=1.0)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # −0.5·sqrt(1)/sqrt(0.25·4 + 1)·2
    Array([-0.70710677], dtype=float32)
    """
    steps = [scale_by_adadelta(rho, epsilon), scale_by_learning_rate(learning_rate)]
    return keras_optimizer(steps, learning_rate, weight_decay, options)
