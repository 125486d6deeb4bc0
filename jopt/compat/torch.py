"""``torch.optim`` presets: PyTorch's argument names, defaults, checks and arithmetic.

Each factory returns an ``optax.GradientTransformationExtraArgs`` composed of jopt
primitives that reproduces ``torch.optim.<Name>`` step for step (PyTorch 2.13; see
docs/parity.md for the measured differences). ``lr`` may be a number, a JAX scalar or
a schedule ``count -> lr`` evaluated at the number of updates already applied, which
is the learning rate PyTorch uses under ``opt.step(); scheduler.step()``.
Notation: α the learning rate, g the gradient, θ the parameters, t = 1, 2, … the step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import optax

from jopt._adagrad import scale_by_adagrad
from jopt._adam import scale_by_adam, scale_by_amsgrad
from jopt._base import Scalar, ScalarOrSchedule, scale_by_learning_rate
from jopt._rmsprop import scale_by_rms, scale_by_stddev
from jopt._sgd import _is_python_zero, scale_by_trace, sgd
from jopt._validation import check_nesterov
from jopt._weight_decay import add_decayed_weights
from jopt.compat._common import check, inverse_time

__all__ = ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW"]


def _check_lr(call: str, lr: Any) -> None:
    if not callable(lr):
        check(call, "Invalid learning rate", "lr", lr)


def _head(maximize: bool, weight_decay: Scalar) -> list:
    """g ← −g if maximize; g ← g + λθ (coupled L2), in PyTorch's order."""
    steps = [optax.scale(-1.0)] if maximize else []
    if not _is_python_zero(weight_decay):
        steps.append(add_decayed_weights(weight_decay))
    return steps


def _check_betas(call: str, betas: Sequence[Scalar]) -> tuple[Scalar, Scalar]:
    if len(betas) != 2:
        raise ValueError(f"{call}: betas must be a pair (beta1, beta2), got {betas!r}.")
    for i, b in enumerate(betas):
        check(
            call, f"Invalid beta parameter at index {i}", f"betas[{i}]", b, 0.0, 1.0, hi_open=True
        )
    return betas[0], betas[1]


def SGD(  # noqa: N802 (PyTorch's class name)
    lr: ScalarOrSchedule = 1e-3,
    momentum: Scalar = 0.0,
    dampening: Scalar = 0.0,
    weight_decay: Scalar = 0.0,
    nesterov: bool = False,
    *,
    maximize: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.SGD``:

    g ← −g if maximize;  g ← g + λθ;
    with momentum μ: b_1 = g_1 (undampened), b_t = μ b_{t−1} + (1−d) g_t,
    g ← g + μ b_t (nesterov) or b_t;  θ ← θ − α g.

    >>> import jax.numpy as jnp, optax
    >>> import jopt.compat.torch as jt
    >>> tx = jt.SGD(lr=0.1, momentum=0.9, dampening=0.5)
    >>> params = jnp.array([1.0])
    >>> state = tx.init(params)
    >>> for _ in range(2):
    ...     updates, state = tx.update(jnp.array([1.0]), state, params)
    ...     params = optax.apply_updates(params, updates)
    >>> params  # 1 − 0.1·1 − 0.1·(0.9·1 + 0.5·1)
    Array([0.76], dtype=float32)
    """
    call = "jopt.compat.torch.SGD"
    _check_lr(call, lr)
    check(call, "Invalid momentum value", "momentum", momentum)
    check(call, "Invalid weight_decay value", "weight_decay", weight_decay)
    check_nesterov(call, momentum, dampening, nesterov)
    return sgd(
        lr,
        momentum,
        dampening=dampening,
        nesterov=nesterov,
        weight_decay=weight_decay,
        maximize=maximize,
    )


def Adagrad(  # noqa: N802
    lr: ScalarOrSchedule = 1e-2,
    lr_decay: Scalar = 0.0,
    weight_decay: Scalar = 0.0,
    initial_accumulator_value: Scalar = 0.0,
    eps: Scalar = 1e-10,
    *,
    maximize: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.Adagrad``:

    g ← −g if maximize;  g ← g + λθ;  α_t = α / (1 + (t−1)·lr_decay);
    s_t = s_{t−1} + g² (s_0 = initial_accumulator_value);  θ ← θ − α_t g / (sqrt(s_t) + ε).

    With a schedule, α is the schedule's value at t − 1 and lr_decay multiplies it.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torch as jt
    >>> tx = jt.Adagrad(lr=0.1, lr_decay=1.0, eps=0.0)
    >>> state = tx.init(jnp.zeros(1))
    >>> u1, state = tx.update(jnp.array([3.0]), state)  # −0.1·3/3
    >>> u2, state = tx.update(jnp.array([4.0]), state)  # −(0.1/2)·4/5
    >>> u1, u2
    (Array([-0.1], dtype=float32), Array([-0.04], dtype=float32))
    """
    call = "jopt.compat.torch.Adagrad"
    _check_lr(call, lr)
    check(call, "Invalid lr_decay value", "lr_decay", lr_decay)
    check(call, "Invalid weight_decay value", "weight_decay", weight_decay)
    check(
        call,
        "Invalid initial_accumulator_value value",
        "initial_accumulator_value",
        initial_accumulator_value,
    )
    check(call, "Invalid epsilon value", "eps", eps)
    return optax.chain(
        *_head(maximize, weight_decay),
        scale_by_adagrad(initial_accumulator_value, eps, eps_in_sqrt=False),
        scale_by_learning_rate(inverse_time(lr, lr_decay)),
    )


def RMSprop(  # noqa: N802
    lr: ScalarOrSchedule = 1e-2,
    alpha: Scalar = 0.99,
    eps: Scalar = 1e-8,
    weight_decay: Scalar = 0.0,
    momentum: Scalar = 0.0,
    centered: bool = False,
    *,
    maximize: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.RMSprop``:

    g ← −g if maximize;  g ← g + λθ;  v_t = a v_{t−1} + (1−a) g²;
    d = sqrt(v_t − ḡ_t²) + ε with ḡ_t = a ḡ_{t−1} + (1−a) g (centered), else sqrt(v_t) + ε;
    with momentum μ: b_t = μ b_{t−1} + g/d, θ ← θ − α b_t;  else θ ← θ − α g/d.

    ε is outside the square root (Keras and the deck put it inside).

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torch as jt
    >>> tx = jt.RMSprop(lr=0.1, alpha=0.75, eps=0.0)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # −0.1·2/sqrt(0.25·4)
    Array([-0.2], dtype=float32)
    """
    call = "jopt.compat.torch.RMSprop"
    _check_lr(call, lr)
    check(call, "Invalid epsilon value", "eps", eps)
    check(call, "Invalid momentum value", "momentum", momentum)
    check(call, "Invalid weight_decay value", "weight_decay", weight_decay)
    check(call, "Invalid alpha value", "alpha", alpha, 0.0, 1.0, hi_open=True)
    if centered:
        direction = scale_by_stddev(alpha, eps, eps_in_sqrt=False)
    else:
        direction = scale_by_rms(alpha, eps, eps_in_sqrt=False)
    steps = [*_head(maximize, weight_decay), direction]
    if not _is_python_zero(momentum):
        steps.append(scale_by_trace(momentum))
    steps.append(scale_by_learning_rate(lr))
    return optax.chain(*steps)


def _adam(call, lr, betas, eps, weight_decay, amsgrad, maximize, decoupled):
    _check_lr(call, lr)
    check(call, "Invalid epsilon value", "eps", eps)
    b1, b2 = _check_betas(call, betas)
    check(call, "Invalid weight_decay value", "weight_decay", weight_decay)
    direction = (scale_by_amsgrad if amsgrad else scale_by_adam)(b1, b2, eps)
    if not decoupled:
        return optax.chain(*_head(maximize, weight_decay), direction, scale_by_learning_rate(lr))
    decay = [] if _is_python_zero(weight_decay) else [add_decayed_weights(weight_decay)]
    return optax.chain(*_head(maximize, 0.0), direction, *decay, scale_by_learning_rate(lr))


def Adam(  # noqa: N802
    lr: ScalarOrSchedule = 1e-3,
    betas: Sequence[Scalar] = (0.9, 0.999),
    eps: Scalar = 1e-8,
    weight_decay: Scalar = 0.0,
    amsgrad: bool = False,
    *,
    maximize: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.Adam``:

    g ← −g if maximize;  g ← g + λθ (coupled);
    m_t = β1 m_{t−1} + (1−β1) g,  v_t = β2 v_{t−1} + (1−β2) g²,
    v̄_t = max(v̄_{t−1}, v_t) if amsgrad else v_t;
    θ ← θ − α/(1−β1^t) · m_t / (sqrt(v̄_t)/sqrt(1−β2^t) + ε).

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torch as jt
    >>> tx = jt.Adam(lr=0.1)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # first step: −α·sign(g)
    Array([-0.1,  0.1], dtype=float32)
    """
    return _adam("jopt.compat.torch.Adam", lr, betas, eps, weight_decay, amsgrad, maximize, False)


def AdamW(  # noqa: N802
    lr: ScalarOrSchedule = 1e-3,
    betas: Sequence[Scalar] = (0.9, 0.999),
    eps: Scalar = 1e-8,
    weight_decay: Scalar = 1e-2,
    amsgrad: bool = False,
    *,
    maximize: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.AdamW``: :func:`Adam` with decoupled decay, θ ← θ(1 − αλ) first.

    Δθ = −α (m̂_t / (sqrt(v̂_t) + ε) + λθ), the decay kept out of m and v.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torch as jt
    >>> tx = jt.AdamW(lr=0.1, weight_decay=0.5)
    >>> params = jnp.array([2.0])
    >>> tx.update(jnp.array([1.0]), tx.init(params), params)[0]  # −0.1·(1 + 0.5·2)
    Array([-0.2], dtype=float32)
    """
    return _adam("jopt.compat.torch.AdamW", lr, betas, eps, weight_decay, amsgrad, maximize, True)
