"""LAMB (You et al. 2020): Adam's direction rescaled per leaf by a trust ratio ‖θ‖/‖u‖."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from jopt._adam import check_adam, scale_by_adam_moments
from jopt._base import (
    Scalar,
    ScalarOrSchedule,
    chain,
    check_tree,
    compute_dtype,
    requested,
    require_params,
)
from jopt._base import _scale_by_learning_rate as lr_step
from jopt._math import abs_sq
from jopt._validation import check_learning_rate, check_optional
from jopt._weight_decay import _add_decayed_weights


def _scale_by_trust_ratio(call: str) -> optax.GradientTransformationExtraArgs:
    """u ← (‖θ‖/‖u‖)·u per leaf, 1 where either norm is 0; stateless, unchecked."""

    def init_fn(params):
        del params
        return optax.EmptyState()

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        require_params(call, params, "(the trust ratio reads their norm)")
        check_tree(call, updates, params, "the params")

        def scale(u, p):
            dt = compute_dtype(u)
            uw, pw = u.astype(dt), p.astype(dt)
            p_norm = jnp.sqrt(jnp.sum(abs_sq(pw)))
            u_norm = jnp.sqrt(jnp.sum(abs_sq(uw)))
            # Keras' and optax's rule: no rescaling where either norm is 0.
            safe = (p_norm > 0) & (u_norm > 0)
            ratio = jnp.where(safe, p_norm / jnp.where(safe, u_norm, 1.0), 1.0)
            return (uw * ratio.astype(dt)).astype(u.dtype)

        return jax.tree.map(scale, updates, params), state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def scale_by_trust_ratio() -> optax.GradientTransformationExtraArgs:
    """LAMB's layer-wise trust ratio: u ← (‖θ‖/‖u‖)·u for each leaf (1 if a norm is 0).

    ‖·‖ is the leaf's Euclidean norm, so each leaf's step has the norm of the leaf
    itself (times the learning rate). ``update`` needs ``params``. Stateless. Placed after
    :func:`jopt.scale_by_adam` it is LAMB (:func:`jopt.lamb`); Keras' ``Lamb`` and
    optax's ``scale_by_trust_ratio`` (at its defaults) use the same rule.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_trust_ratio()
    >>> params = jnp.array([3.0, 4.0])  # ‖θ‖ = 5
    >>> tx.update(jnp.array([0.0, 2.0]), tx.init(params), params)[0]  # ‖u‖ = 2
    Array([0., 5.], dtype=float32)
    """
    return _scale_by_trust_ratio("jopt.scale_by_trust_ratio")


def lamb(
    learning_rate: ScalarOrSchedule = 1e-3,
    b1: ScalarOrSchedule = 0.9,
    b2: Scalar = 0.999,
    eps: Scalar = 1e-6,
    weight_decay: ScalarOrSchedule | None = None,
    *,
    mask: Any | None = None,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """LAMB (You et al. 2020, "Large Batch Optimization for Deep Learning").

    m̂_t = m_t/(1−β1^t),  v̂_t = v_t/(1−β2^t)  (Adam's moments),
    r_t = m̂_t / (sqrt(v̂_t) + ε) + λθ,
    Δθ = −α (‖θ‖/‖r_t‖) r_t  (norms per leaf; the ratio is 1 where a norm is 0).

    Defaults are the paper's β1 = 0.9, β2 = 0.999, ε = 1e-6; ``weight_decay`` λ
    (``None``: off, as optax's default 0) may be a schedule, and ``mask`` picks the
    leaves that decay. ``b1`` may be a schedule ``count -> β1``. Built from
    :func:`jopt.scale_by_adam`, :func:`jopt.add_decayed_weights` and
    :func:`jopt.scale_by_trust_ratio`, as optax.lamb is.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.lamb(0.1)
    >>> params = jnp.array([3.0, 4.0])
    >>> tx.update(jnp.array([1.0, -1.0]), tx.init(params), params)[0]  # −α·5·sign(g)/sqrt(2)
    Array([-0.35355338,  0.35355338], dtype=float32)
    """
    call = "jopt.lamb"
    check_learning_rate(call, learning_rate)
    options: dict[str, Any] = dict(mu_dtype=mu_dtype, nu_dtype=nu_dtype)
    check_adam(call, b1, b2, eps, **options)
    check_optional(call, "weight_decay", weight_decay, schedule=True)
    steps = [scale_by_adam_moments(call, b1=b1, b2=b2, eps=eps, **options)]
    if requested(weight_decay):
        steps.append(_add_decayed_weights(call, weight_decay, mask))
    return chain(*steps, _scale_by_trust_ratio(call), lr_step(call, learning_rate))
