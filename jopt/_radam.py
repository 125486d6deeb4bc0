"""RAdam: Adam with its step rectified while the variance of v̂ is unreliable."""

from __future__ import annotations

from typing import Any

import optax

from jopt._adam import check_adam, scale_by_adam_moments
from jopt._base import Scalar, ScalarOrSchedule, chain
from jopt._base import _scale_by_learning_rate as lr_step
from jopt._validation import check_learning_rate, check_range


def check_radam(call: str, b1, b2, eps, threshold, **options) -> None:
    """Adam's configuration and a threshold >= 4 (so r_t's square root is real)."""
    check_adam(call, b1, b2, eps, **options)
    check_range(call, "threshold", threshold, 4.0)


def _scale_by_radam(
    call: str,
    b1: ScalarOrSchedule,
    b2: Scalar,
    eps: Scalar,
    threshold: Scalar = 5.0,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Adam's moments with ε added to sqrt(v_t) (PyTorch's RAdam) and the rectification."""
    return scale_by_adam_moments(
        call,
        b1=b1,
        b2=b2,
        eps=eps,
        eps_hat=True,
        rectify_threshold=threshold,
        mu_dtype=mu_dtype,
        nu_dtype=nu_dtype,
    )


def scale_by_radam(
    b1: ScalarOrSchedule = 0.9,
    b2: Scalar = 0.999,
    eps: Scalar = 1e-8,
    threshold: Scalar = 5.0,
    *,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """RAdam's direction: r_t·m̂_t·sqrt(1−β2^t)/(sqrt(v_t) + ε) once ρ_t > ``threshold``,
    else m̂_t.

    See :func:`jopt.radam`. The state is Adam's (:class:`jopt.ScaleByAdamState`); ``b1``
    may be a schedule ``count -> β1``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_radam()
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # ρ_1 = 1: m̂_1 = g
    Array([ 0.5, -2. ], dtype=float32)
    """
    call = "jopt.scale_by_radam"
    check_radam(call, b1, b2, eps, threshold, mu_dtype=mu_dtype, nu_dtype=nu_dtype)
    return _scale_by_radam(call, b1, b2, eps, threshold, mu_dtype, nu_dtype)


def radam(
    learning_rate: ScalarOrSchedule = 1e-3,
    b1: ScalarOrSchedule = 0.9,
    b2: Scalar = 0.999,
    eps: Scalar = 1e-8,
    threshold: Scalar = 5.0,
    *,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """RAdam (Liu et al. 2020): Adam, rectified while the variance of v̂ is unreliable.

    m_t = β1 m_{t−1} + (1−β1)g_t,  v_t = β2 v_{t−1} + (1−β2)g_t²,  m̂_t = m_t/(1−β1^t);
    ρ_∞ = 2/(1−β2) − 1,  ρ_t = ρ_∞ − 2tβ2^t/(1−β2^t);
    r_t = sqrt((ρ_t−4)(ρ_t−2)ρ_∞ / ((ρ_∞−4)(ρ_∞−2)ρ_t));
    Δθ = −α r_t m̂_t sqrt(1−β2^t)/(sqrt(v_t) + ε) if ρ_t > threshold,  else Δθ = −α m̂_t.

    Defaults are the paper's α = 1e-3, β1 = 0.9, β2 = 0.999, and PyTorch's ε = 1e-8 and
    threshold 5 (the paper's text says ρ_t > 4; its code, PyTorch and optax use 5). ε is
    added to sqrt(v_t), as PyTorch does (optax adds it to sqrt(v̂_t)). ρ_t and r_t are
    computed in float64 under x64 (PyTorch's Python floats), so every leaf switches to
    the rectified step at the same t (t = 6 for β2 = 0.999). ``b1`` may be a schedule.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.radam(0.1)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # first step: −α g
    Array([-0.05,  0.2 ], dtype=float32)
    """
    call = "jopt.radam"
    check_learning_rate(call, learning_rate)
    check_radam(call, b1, b2, eps, threshold, mu_dtype=mu_dtype, nu_dtype=nu_dtype)
    moments = _scale_by_radam(call, b1, b2, eps, threshold, mu_dtype, nu_dtype)
    return chain(moments, lr_step(call, learning_rate))
