"""RAdam: Adam with its step rectified while the variance of v̂ is unreliable."""

from __future__ import annotations

from typing import Any

import optax

from jopt._algorithms.adam.adam import MOMENT_RULES, adam_moments
from jopt._core.chain import chain
from jopt._core.checks import Real, checked, learning_rate
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.learning_rate import scale_by_learning_rate

RULES = {k: v for k, v in MOMENT_RULES.items() if k != "eps_in_sqrt"} | dict(threshold=Real(4.0))


@checked(**RULES)
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
    else m̂_t (see :func:`jopt.radam`).

    Args:
      b1: β1 in [0, 1), or a schedule ``count -> β1``.
      b2: β2 in [0, 1).
      eps: ε >= 0, added to sqrt(v_t) (PyTorch's RAdam).
      threshold: the ρ_t above which the step is rectified, >= 4 (so r_t is real).
      mu_dtype: the dtype m is stored in.
      nu_dtype: the dtype v is stored in.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is Adam's
      (:class:`jopt.ScaleByAdamState`).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_radam()
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # ρ_1 = 1: m̂_1 = g
    Array([ 0.5, -2. ], dtype=float32)
    """
    return adam_moments(
        b1,
        b2,
        eps,
        eps_hat=True,
        rectify_threshold=threshold,
        mu_dtype=mu_dtype,
        nu_dtype=nu_dtype,
    )


@checked(learning_rate=learning_rate(), **RULES)
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

    ``chain(scale_by_radam(...), scale_by_learning_rate(learning_rate))``. Defaults are
    the paper's α = 1e-3, β1 = 0.9, β2 = 0.999, and PyTorch's ε = 1e-8 and threshold 5
    (the paper's text says ρ_t > 4; its code, PyTorch and optax use 5). ε is added to
    sqrt(v_t), as PyTorch does (optax adds it to sqrt(v̂_t)). ρ_t and r_t are computed in
    float64 under x64 (PyTorch's Python floats), so every leaf switches to the rectified
    step at the same t (t = 6 for β2 = 0.999).

    Args:
      learning_rate: α >= 0, or a schedule.
      b1: β1 in [0, 1), or a schedule ``count -> β1``.
      b2: β2 in [0, 1).
      eps: ε >= 0.
      threshold: the ρ_t above which the step is rectified, >= 4.
      mu_dtype: the dtype m is stored in.
      nu_dtype: the dtype v is stored in.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.radam(0.1)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # first step: −α g
    Array([-0.05,  0.2 ], dtype=float32)
    """
    return chain(
        scale_by_radam(b1, b2, eps, threshold, mu_dtype=mu_dtype, nu_dtype=nu_dtype),
        scale_by_learning_rate(learning_rate),
    )
