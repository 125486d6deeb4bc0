"""Schedule-free AdamW (Defazio et al., 2024), in Keras 3's form."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._core.dtypes import cast, compute_dtype, per_dtype, real_dtype, state_dtype, stored
from jopt._core.elementwise import abs_sq
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.layout import PerParam
from jopt._core.learning_rate import LearningRateState, init_learning_rate, next_learning_rate
from jopt._core.state import (
    check_params,
    check_update_params,
    increment,
    moments_like,
    requested,
    scalar,
    zero_count,
)
from jopt.sharding._leafwise import map_leaves


class ScheduleFreeAdamWState(NamedTuple):
    """``count``: updates applied; ``z``: the sequence the gradient steps move (Keras'
    ``momentum``, starting at the initial parameters); ``v``: the second moment;
    ``beta_1``: β1, kept so the evaluation point x can be read back; ``rate``: the
    learning-rate state."""

    count: jax.Array
    z: PerParam
    v: PerParam
    beta_1: jax.Array
    rate: LearningRateState


class _Scalars(NamedTuple):
    """The per-dtype scalars of one update (α_t, β1 in the compute dtype, the rest real)."""

    alpha: jax.Array  # α_t, warmed up
    b1: jax.Array
    b2: jax.Array
    correction: jax.Array  # 1 − β2^t
    eps: jax.Array
    weight: jax.Array  # 1/t, x's averaging weight


def _copy(params: Any) -> Any:
    check_params(params)
    return jax.tree.map(lambda p: jnp.copy(p).astype(state_dtype(p)), params)


def schedule_free_adamw(
    learning_rate: ScalarOrSchedule,
    beta_1: Scalar,
    beta_2: Scalar,
    epsilon: Scalar,
    warmup_steps: Any,
) -> optax.GradientTransformationExtraArgs:
    """Schedule-free AdamW's whole step from checked arguments (the learning rate is
    inside z; θ is y, the point gradients are taken at):

    α_t ← α_t·min(t/warmup_steps, 1) if warmup_steps;
    v_t = v_{t−1} + (g² − v_{t−1})(1 − β2);
    z_t = z_{t−1} − α_t g / (sqrt(v_t/(1 − β2^t)) + ε);
    x_{t−1} = (θ − (1 − β1) z_{t−1}) / β1,  x_t = (1 − 1/t) x_{t−1} + z_t / t;
    θ ← (1 − β1) z_t + β1 x_t.

    The builder of :func:`jopt.compat.keras.ScheduleFreeAdamW`; the state is a
    :class:`ScheduleFreeAdamWState` and :func:`eval_point` reads x back from it.
    ``update`` needs ``params``.
    """

    def init_fn(params):
        return ScheduleFreeAdamWState(
            zero_count(params),
            _copy(params),
            moments_like(params, real=True),
            scalar(params, beta_1, jnp.result_type(float)),
            init_learning_rate(learning_rate, params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        check_update_params(updates, params, "(the step moves them between z and x)", state.z)
        lr, rate = next_learning_rate(learning_rate, state.rate)

        @per_dtype
        def scalars(dt: jnp.dtype) -> _Scalars:
            rdt = real_dtype(dt)
            t = (state.count + 1).astype(rdt)
            alpha = cast(lr, rdt)
            if requested(warmup_steps):  # min(t/0, 1) = 1: no warmup, as Keras
                alpha = alpha * jnp.minimum(t / cast(warmup_steps, rdt), 1.0)
            b2 = cast(beta_2, rdt)
            return _Scalars(
                alpha=alpha,
                b1=cast(beta_1, dt),
                b2=b2,
                correction=1 - b2**t,
                eps=cast(epsilon, rdt),
                weight=1.0 / t,
            )

        def step(g, y, z, v):
            dt = compute_dtype(g)
            s = scalars(dt)
            out_dtype = g.dtype
            g, y, z_old = g.astype(dt), y.astype(dt), z.astype(dt)
            v_old = v.astype(real_dtype(dt))
            v_new = stored(v_old + (abs_sq(g) - v_old) * (1 - s.b2), v.dtype)
            denom = jnp.sqrt(v_new / s.correction) + s.eps
            z_new = stored(z_old - (s.alpha.astype(dt) * g) / denom.astype(dt), z.dtype)
            # Keras: x_old = (y − (1 − β1) z_old)/β1, x_new = (1 − w) x_old + w z_new,
            # y_new = (1 − β1) z_new + β1 x_new. Written as y_new − y, with Δz = z_new − z_old:
            # (1 − β1) Δz + w (z_old − y + β1 Δz), which never subtracts two
            # parameter-sized numbers to get the small update (their rounding, an ulp of θ,
            # would be 1e-5 of the update in float32).
            dz, w = z_new - z_old, s.weight.astype(dt)
            out = (1 - s.b1) * dz + w * (z_old - y + s.b1 * dz)
            return out.astype(out_dtype), z_new.astype(z.dtype), v_new.astype(v.dtype)

        out, z, v = map_leaves(step, 3, updates, params, state.z, state.v)
        return out, ScheduleFreeAdamWState(increment(state.count), z, v, state.beta_1, rate)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def eval_point(y: jax.Array, z: jax.Array, beta_1: jax.Array) -> jax.Array:
    """x = (y − (1 − β1)·z) / β1: the averaged point schedule-free evaluates at."""
    dt = compute_dtype(y)
    b1 = cast(beta_1, dt)
    return ((y.astype(dt) - (1 - b1) * z.astype(dt)) / b1).astype(y.dtype)
