"""``keras.optimizers.Adam`` and ``keras.optimizers.AdamW``."""

from __future__ import annotations

from typing import Any, Unpack

import optax

from jopt._adam import check_adam, scale_by_adam_moments
from jopt._base import Scalar, ScalarOrSchedule
from jopt._base import _scale_by_learning_rate as lr_step
from jopt._validation import check_flag
from jopt.compat.keras._common import (
    KerasOptions,
    check_weight_decay,
    keras_optimizer,
    with_options,
)
from jopt.compat.keras._common import (
    learning_rate as keras_learning_rate,
)


def _adam(call, learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, options):
    lr = keras_learning_rate(call, learning_rate)
    names: dict[str, Any] = dict(b1_name="beta_1", b2_name="beta_2", eps_name="epsilon")
    check_adam(call, beta_1, beta_2, epsilon, **names)
    check_flag(call, "amsgrad", amsgrad)
    check_weight_decay(call, weight_decay)
    moments = scale_by_adam_moments(
        call, b1=beta_1, b2=beta_2, eps=epsilon, amsgrad=amsgrad, eps_hat=True
    )
    return keras_optimizer(call, [moments, lr_step(call, lr)], lr, weight_decay, dict(options))


@with_options
def Adam(  # noqa: N802
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
    i.e. PyTorch's Adam with ε replaced by ε/sqrt(1−β2^t).

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.Adam(learning_rate=0.1, beta_2=0.75, epsilon=1.0)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # −0.1·sqrt(0.25)/0.1·0.2/(1 + 1)
    Array([-0.05], dtype=float32)
    """
    call = "jopt.compat.keras.Adam"
    return _adam(call, learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, options)


@with_options
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

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.AdamW(learning_rate=0.1, weight_decay=0.5)
    >>> params = jnp.array([2.0])
    >>> tx.update(jnp.array([1.0]), tx.init(params), params)[0]  # −0.1·1 − 0.1·0.5·2
    Array([-0.2], dtype=float32)
    """
    call = "jopt.compat.keras.AdamW"
    wd: Any = weight_decay
    if wd is None:
        raise ValueError(
            f"{call}: Argument `weight_decay` must be a float. Received: weight_decay=None; "
            "use jopt.compat.keras.Adam for no decay."
        )
    return _adam(call, learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, options)
