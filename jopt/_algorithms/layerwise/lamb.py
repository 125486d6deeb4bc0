"""LAMB (You et al. 2020): Adam's direction rescaled per leaf by a trust ratio ‖θ‖/‖u‖."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from jopt._algorithms.adam.adam import MOMENT_RULES, scale_by_adam
from jopt._algorithms.regularization.weight_decay import MASK, optional_decay
from jopt._core.chain import chain
from jopt._core.checks import checked, learning_rate, nonnegative, optional
from jopt._core.dtypes import compute_dtype
from jopt._core.elementwise import abs_sq
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.state import check_update_params

ADAM_RULES = {k: v for k, v in MOMENT_RULES.items() if k != "eps_in_sqrt"}


@checked()
def scale_by_trust_ratio() -> optax.GradientTransformationExtraArgs:
    """LAMB's layer-wise trust ratio: u ← (‖θ‖/‖u‖)·u for each leaf (1 if a norm is 0).

    ‖·‖ is the leaf's Euclidean norm, so each leaf's step has the norm of the leaf
    itself (times the learning rate). Stateless. Placed after :func:`jopt.scale_by_adam`
    it is LAMB (:func:`jopt.lamb`); Keras' ``Lamb`` and optax's ``scale_by_trust_ratio``
    (at its defaults) use the same rule.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with an empty state; ``update`` needs
      ``params``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_trust_ratio()
    >>> params = jnp.array([3.0, 4.0])  # ‖θ‖ = 5
    >>> tx.update(jnp.array([0.0, 2.0]), tx.init(params), params)[0]  # ‖u‖ = 2
    Array([0., 5.], dtype=float32)
    """

    def init_fn(params):
        del params
        return optax.EmptyState()

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        check_update_params(updates, params, "(the trust ratio reads their norm)")

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


@checked(
    learning_rate=learning_rate(),
    **ADAM_RULES,
    weight_decay=optional(nonnegative(schedule=True)),
    mask=MASK,
)
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

    ``chain(scale_by_adam(b1, b2, eps), add_decayed_weights(λ, mask),
    scale_by_trust_ratio(), scale_by_learning_rate(learning_rate))``, as optax.lamb is
    built. Defaults are the paper's β1 = 0.9, β2 = 0.999, ε = 1e-6.

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.
      b1: β1 in [0, 1), or a schedule ``count -> β1``.
      b2: β2 in [0, 1).
      eps: ε >= 0.
      weight_decay: λ >= 0, or a schedule; ``None`` (the default, as optax's 0): off.
      mask: a pytree of bools, or a function ``params -> pytree``, picking the leaves
        that decay.
      mu_dtype: the dtype m is stored in.
      nu_dtype: the dtype v is stored in.

    Returns:
      An ``optax.GradientTransformationExtraArgs``; ``update`` needs ``params``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.lamb(0.1)
    >>> params = jnp.array([3.0, 4.0])
    >>> tx.update(jnp.array([1.0, -1.0]), tx.init(params), params)[0]  # −α·5·sign(g)/sqrt(2)
    Array([-0.35355338,  0.35355338], dtype=float32)
    """
    decay = optional_decay(weight_decay, mask)
    return chain(
        scale_by_adam(b1, b2, eps, mu_dtype=mu_dtype, nu_dtype=nu_dtype),
        *decay,
        scale_by_trust_ratio(),
        scale_by_learning_rate(learning_rate),
    )
