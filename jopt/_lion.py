"""Lion (Chen et al. 2023): the sign of an interpolated momentum."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax.numpy as jnp
import optax

from jopt._base import (
    Scalar,
    ScalarOrSchedule,
    cast,
    chain,
    check_tree,
    compute_dtype,
    map_leaves,
    moments_like,
    per_dtype,
    requested,
)
from jopt._base import _scale_by_learning_rate as lr_step
from jopt._math import ema
from jopt._validation import (
    check_dtype,
    check_learning_rate,
    check_optional,
    check_range,
)
from jopt._weight_decay import _add_decayed_weights


class ScaleByLionState(NamedTuple):
    mu: Any  # the momentum m, an EMA of the gradients with decay β2


def check_lion(call: str, b1: Any, b2: Any, mu_dtype: Any, *, b1_name="b1", b2_name="b2") -> None:
    check_range(call, b1_name, b1, 0.0, 1.0)
    check_range(call, b2_name, b2, 0.0, 1.0)
    check_dtype(call, "mu_dtype", mu_dtype)


def _scale_by_lion(
    call: str, b1: Scalar, b2: Scalar, mu_dtype: Any | None = None
) -> optax.GradientTransformationExtraArgs:
    """sign(β1 m + (1−β1) g), then m ← β2 m + (1−β2) g; unchecked."""

    def init_fn(params):
        return ScaleByLionState(mu=moments_like(call, params, mu_dtype))

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        check_tree(call, updates, state.mu)

        @per_dtype  # scalars once per dtype, not per leaf
        def scalars(dt):
            c1, c2 = cast(b1, dt), cast(b2, dt)
            return c1, 1.0 - c1, c2, 1.0 - c2

        def step(g, m):
            dt = compute_dtype(g)
            c1, rest1, c2, rest2 = scalars(dt)
            gw = g.astype(dt)
            direction = jnp.sign(ema(c1, rest1, m, gw))  # the moment as stored
            m_new = ema(c2, rest2, m, gw)
            return direction.astype(g.dtype), m_new.astype(m.dtype)

        out, mu = map_leaves(step, 2, updates, state.mu)
        return out, ScaleByLionState(mu=mu)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def scale_by_lion(
    b1: Scalar = 0.9, b2: Scalar = 0.99, *, mu_dtype: Any | None = None
) -> optax.GradientTransformationExtraArgs:
    """Lion's direction sign(β1 m_{t−1} + (1−β1) g_t), then m_t = β2 m_{t−1} + (1−β2) g_t.

    Every coordinate moves by exactly ±1 (0 where the interpolation is 0; g/|g| for
    complex leaves, as ``jnp.sign``). β1, β2 in [0, 1]. The one home of Lion's math:
    :func:`jopt.lion` and :func:`jopt.compat.keras.Lion` are built on it. ``mu_dtype``
    stores m in another dtype.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_lion()
    >>> tx.update(jnp.array([0.5, -2.0, 0.0]), tx.init(jnp.zeros(3)))[0]
    Array([ 1., -1.,  0.], dtype=float32)
    """
    call = "jopt.scale_by_lion"
    check_lion(call, b1, b2, mu_dtype)
    return _scale_by_lion(call, b1, b2, mu_dtype)


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

    Defaults are the paper's β1 = 0.9, β2 = 0.99 and its reference code's α = 1e-4 (a
    sign step is large: the paper advises a rate 3-10× below AdamW's and a decay λ 3-10×
    above). ``weight_decay`` λ (``None``: off) is decoupled, as in the paper, and may be
    a schedule; ``mask`` picks the leaves that decay (as in :func:`jopt.adamw`).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.lion(0.1)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # −α·sign(g)
    Array([-0.1,  0.1], dtype=float32)
    """
    call = "jopt.lion"
    check_learning_rate(call, learning_rate)
    check_lion(call, b1, b2, mu_dtype)
    check_optional(call, "weight_decay", weight_decay, schedule=True)
    steps = [_scale_by_lion(call, b1, b2, mu_dtype)]
    if requested(weight_decay):
        steps.append(_add_decayed_weights(call, weight_decay, mask))
    return chain(*steps, lr_step(call, learning_rate))
