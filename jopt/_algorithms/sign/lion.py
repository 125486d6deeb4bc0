"""Lion (Chen et al. 2023): the sign of an interpolated momentum."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._algorithms.regularization.weight_decay import MASK, optional_decay
from jopt._core.chain import chain
from jopt._core.checks import (
    checked,
    closed_unit_interval,
    learning_rate,
    nonnegative,
    optional,
)
from jopt._core.dtypes import compute_dtype, per_dtype
from jopt._core.elementwise import ema, ema_weights
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.layout import PerParam
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.moments import Held, held, state_format, write
from jopt._core.state import check_tree, moments_like
from jopt.sharding._leafwise import map_leaves

# The rules of Lion's direction, shared by every factory of this module.
RULES = dict(b1=closed_unit_interval(), b2=closed_unit_interval(), mu_dtype=state_format())


class ScaleByLionState(NamedTuple):
    """Lion's momentum (:func:`jopt.scale_by_lion`).

    Args:
      mu: the momentum m, an EMA of the gradients with decay β2.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_lion(b2=0.5)
    >>> _, state = tx.update(jnp.array([1.0, -2.0]), tx.init(jnp.zeros(2)))
    >>> state.mu  # (1 − β2)g
    Array([ 0.5, -1. ], dtype=float32)
    """

    mu: PerParam


class _Scalars(NamedTuple):
    """Lion's per-dtype scalars of one update."""

    b1: jax.Array
    rest1: jax.Array  # 1 − β1
    b2: jax.Array
    rest2: jax.Array  # 1 − β2


@checked(**RULES)
def scale_by_lion(
    b1: Scalar = 0.9, b2: Scalar = 0.99, *, mu_dtype: Any | None = None
) -> optax.GradientTransformationExtraArgs:
    """Lion's direction sign(β1 m_{t−1} + (1−β1) g_t), then m_t = β2 m_{t−1} + (1−β2) g_t.

    Every coordinate moves by exactly ±1 (0 where the interpolation is 0; g/|g| for
    complex leaves, as ``jnp.sign``). The one home of Lion's math: :func:`jopt.lion` and
    :func:`jopt.compat.keras.Lion` are built on it.

    Args:
      b1: β1 in [0, 1], the interpolation weight of the momentum in the sign.
      b2: β2 in [0, 1], the momentum's decay.
      mu_dtype: the dtype m is stored in (None: the dtype rule of :mod:`jopt`).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.ScaleByLionState`.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_lion()
    >>> tx.update(jnp.array([0.5, -2.0, 0.0]), tx.init(jnp.zeros(3)))[0]
    Array([ 1., -1.,  0.], dtype=float32)
    """

    def init_fn(params):
        return ScaleByLionState(mu=moments_like(params, mu_dtype))

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        check_tree(updates, state.mu)

        @per_dtype  # scalars once per dtype, not per leaf
        def scalars(dt):
            return _Scalars(*ema_weights(b1, dt), *ema_weights(b2, dt))

        def step(g, m):
            m = held(m, g, mu_dtype)
            dt = compute_dtype(g)
            s = scalars(dt)
            gw = g.astype(dt)
            # the interpolation in m's dtype (a float m), in float32 from a quantized m
            # (not stored: bitsandbytes' 8-bit Lion)
            m_dir = m.astype(dt) if isinstance(m, Held) else m
            direction = jnp.sign(ema(s.b1, s.rest1, m_dir, gw))
            m_new = ema(s.b2, s.rest2, m, gw)
            return direction.astype(g.dtype), write(m_new, m)

        out, mu = map_leaves(step, 2, updates, state.mu, elementwise=True)
        return out, ScaleByLionState(mu=mu)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(
    learning_rate=learning_rate(),
    **RULES,
    weight_decay=optional(nonnegative(schedule=True)),
    mask=MASK,
)
def lion(
    learning_rate: ScalarOrSchedule = 1e-4,
    b1: Scalar = 0.9,
    b2: Scalar = 0.99,
    weight_decay: ScalarOrSchedule | None = None,
    *,
    mask: Any | None = None,
    mu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms").

    c_t = β1 m_{t−1} + (1−β1) g_t,
    Δθ = −α (sign(c_t) + λθ),
    m_t = β2 m_{t−1} + (1−β2) g_t.

    ``chain(scale_by_lion(b1, b2), add_decayed_weights(λ, mask),
    scale_by_learning_rate(learning_rate))``. Defaults are the paper's β1 = 0.9, β2 = 0.99
    and its reference code's α = 1e-4 (a sign step is large: the paper advises a rate 3-10×
    below AdamW's and a decay λ 3-10× above). The decay is decoupled, as in the paper.

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.
      b1: β1 in [0, 1].
      b2: β2 in [0, 1].
      weight_decay: λ >= 0, or a schedule ``count -> λ``; ``None`` (the default): off.
      mask: a pytree of bools, or a function ``params -> pytree``, picking the leaves
        that decay (as in :func:`jopt.adamw`).
      mu_dtype: the dtype m is stored in.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.lion(0.1)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # −α·sign(g)
    Array([-0.1,  0.1], dtype=float32)
    """
    decay = optional_decay(weight_decay, mask)
    return chain(
        scale_by_lion(b1, b2, mu_dtype=mu_dtype), *decay, scale_by_learning_rate(learning_rate)
    )
