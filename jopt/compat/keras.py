"""``keras.optimizers`` presets: Keras 3's argument names, defaults and arithmetic.

Each factory returns an ``optax.GradientTransformationExtraArgs`` composed of jopt
primitives that reproduces ``keras.optimizers.<Name>`` step for step (Keras 3.15; see
docs/parity.md). ``learning_rate`` may be a number, a JAX scalar or a schedule
``count -> lr`` evaluated at the updates already applied (Keras' 0-based
``iterations``). ``weight_decay`` is Keras' decoupled decay, θ ← θ − θλα_t before the
step. Keras keeps the learning rate inside its momentum buffers: a past gradient
stays at the rate it was taken with (PyTorch rescales the whole buffer).
Notation: α the learning rate, g the gradient, θ the parameters, t = 1, 2, … the step.
"""

from __future__ import annotations

import numpy as np
import optax

from jopt._adagrad import scale_by_adagrad
from jopt._adam import scale_by_adam, scale_by_amsgrad
from jopt._base import Scalar, ScalarOrSchedule, scale_by_learning_rate
from jopt._rmsprop import scale_by_rms, scale_by_stddev
from jopt._sgd import _is_python_zero, scale_by_trace
from jopt._validation import (
    check_learning_rate,
    check_nonnegative,
    check_range,
    concrete_values,
)
from jopt._weight_decay import decoupled_weight_decay
from jopt.compat._common import inverse_time, is_zero

__all__ = ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW"]


def _check_weight_decay(call: str, weight_decay: Scalar | None) -> None:
    if weight_decay is not None:
        check_nonnegative(call, "weight_decay", weight_decay)


def _tail(
    learning_rate: ScalarOrSchedule,
    weight_decay: Scalar | None,
    momentum: Scalar = 0.0,
    nesterov: bool = False,
) -> list:
    """−α_t·(direction), an lr-inside momentum buffer, then the decoupled decay −α_t λθ.

    The buffer b_t = μ b_{t−1} − α_t d_t is a heavy-ball trace placed after the
    learning-rate step; Nesterov outputs μ b_t − α_t d_t. The decay comes after it so
    that it never enters the buffer.
    """
    steps = [scale_by_learning_rate(learning_rate)]
    if not _is_python_zero(momentum):
        steps.append(scale_by_trace(momentum, nesterov=nesterov and not is_zero(momentum)))
    if weight_decay is not None and not _is_python_zero(weight_decay):
        steps.append(decoupled_weight_decay(learning_rate, weight_decay))
    return steps


def SGD(  # noqa: N802 (Keras' class name)
    learning_rate: ScalarOrSchedule = 0.01,
    momentum: Scalar = 0.0,
    nesterov: bool = False,
    decay: Scalar = 0.0,
    weight_decay: Scalar | None = None,
) -> optax.GradientTransformationExtraArgs:
    """``keras.optimizers.SGD``:

    α_t = α / (1 + decay·(t−1))  (tf.keras 2's legacy ``decay``; Keras 3 dropped it);
    θ ← θ − θλα_t (weight_decay);
    v_t = μ v_{t−1} − α_t g;  θ ← θ + μ v_t − α_t g (nesterov) or θ + v_t.

    With a constant α this is PyTorch's SGD with dampening 0; with a schedule it is
    not (the buffer keeps each gradient at its own α_t).

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.SGD(learning_rate=lambda count: 0.1 * 0.5**count, momentum=0.5)
    >>> state = tx.init(jnp.zeros(1))
    >>> u1, state = tx.update(jnp.array([1.0]), state)  # v = −0.1
    >>> u2, state = tx.update(jnp.array([1.0]), state)  # v = 0.5·(−0.1) − 0.05
    >>> u1, u2
    (Array([-0.1], dtype=float32), Array([-0.1], dtype=float32))
    """
    call = "jopt.compat.keras.SGD"
    check_learning_rate(call, learning_rate)
    m = concrete_values(momentum)
    if m is not None and not np.all((m >= 0) & (m <= 1)):
        raise ValueError(
            f"{call}: `momentum` must be a float between [0, 1]. Received: momentum={momentum!r}"
        )
    check_range(call, "decay", decay, 0.0)
    _check_weight_decay(call, weight_decay)
    return optax.chain(*_tail(inverse_time(learning_rate, decay), weight_decay, momentum, nesterov))


def Adagrad(  # noqa: N802
    learning_rate: ScalarOrSchedule = 1e-3,
    initial_accumulator_value: Scalar = 0.1,
    epsilon: Scalar = 1e-7,
    weight_decay: Scalar | None = None,
) -> optax.GradientTransformationExtraArgs:
    """``keras.optimizers.Adagrad``:

    θ ← θ − θλα_t;  s_t = s_{t−1} + g² (s_0 = 0.1);  θ ← θ − α_t g / sqrt(s_t + ε)  (ε inside).

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.Adagrad(learning_rate=0.1, initial_accumulator_value=0.0, epsilon=0.0)
    >>> tx.update(jnp.array([3.0, -4.0]), tx.init(jnp.zeros(2)))[0]
    Array([-0.1,  0.1], dtype=float32)
    """
    call = "jopt.compat.keras.Adagrad"
    check_learning_rate(call, learning_rate)
    check_nonnegative(call, "initial_accumulator_value", initial_accumulator_value)
    check_nonnegative(call, "epsilon", epsilon)
    _check_weight_decay(call, weight_decay)
    return optax.chain(
        scale_by_adagrad(initial_accumulator_value, epsilon, eps_in_sqrt=True),
        *_tail(learning_rate, weight_decay),
    )


def RMSprop(  # noqa: N802
    learning_rate: ScalarOrSchedule = 1e-3,
    rho: Scalar = 0.9,
    momentum: Scalar = 0.0,
    epsilon: Scalar = 1e-7,
    centered: bool = False,
    weight_decay: Scalar | None = None,
) -> optax.GradientTransformationExtraArgs:
    """``keras.optimizers.RMSprop``:

    θ ← θ − θλα_t;  v_t = ρ v_{t−1} + (1−ρ) g²;
    δ = α_t g / sqrt(v_t − ḡ_t² + ε) with ḡ_t = ρ ḡ_{t−1} + (1−ρ) g (centered),
    else α_t g / sqrt(v_t + ε)  (ε inside);
    with momentum μ: b_t = μ b_{t−1} + δ, θ ← θ − b_t (α inside the buffer);  else θ ← θ − δ.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.RMSprop(learning_rate=0.1, rho=0.75, epsilon=0.0)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # −0.1·2/sqrt(0.25·4)
    Array([-0.2], dtype=float32)
    """
    call = "jopt.compat.keras.RMSprop"
    check_learning_rate(call, learning_rate)
    check_range(call, "rho", rho, 0.0, 1.0, hi_open=True)
    check_nonnegative(call, "momentum", momentum)
    check_nonnegative(call, "epsilon", epsilon)
    _check_weight_decay(call, weight_decay)
    make = scale_by_stddev if centered else scale_by_rms
    return optax.chain(
        make(rho, epsilon, eps_in_sqrt=True), *_tail(learning_rate, weight_decay, momentum)
    )


def _adam(call, learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay):
    check_learning_rate(call, learning_rate)
    check_range(call, "beta_1", beta_1, 0.0, 1.0, hi_open=True)
    check_range(call, "beta_2", beta_2, 0.0, 1.0, hi_open=True)
    check_nonnegative(call, "epsilon", epsilon)
    _check_weight_decay(call, weight_decay)
    make = scale_by_amsgrad if amsgrad else scale_by_adam
    return optax.chain(
        make(beta_1, beta_2, epsilon, eps_hat=True), *_tail(learning_rate, weight_decay)
    )


def Adam(  # noqa: N802
    learning_rate: ScalarOrSchedule = 1e-3,
    beta_1: Scalar = 0.9,
    beta_2: Scalar = 0.999,
    epsilon: Scalar = 1e-7,
    amsgrad: bool = False,
    weight_decay: Scalar | None = None,
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
    return _adam(
        "jopt.compat.keras.Adam", learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay
    )


def AdamW(  # noqa: N802
    learning_rate: ScalarOrSchedule = 1e-3,
    weight_decay: Scalar = 0.004,
    beta_1: Scalar = 0.9,
    beta_2: Scalar = 0.999,
    epsilon: Scalar = 1e-7,
    amsgrad: bool = False,
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
    if weight_decay is None:
        raise ValueError(
            f"{call}: Argument `weight_decay` must be a float. Received: weight_decay=None; "
            "use jopt.compat.keras.Adam for no decay."
        )
    return _adam(call, learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay)
