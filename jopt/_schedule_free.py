"""Schedule-free AdamW (Defazio et al., 2024), in Keras 3's form."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._base import (
    Scalar,
    ScalarOrSchedule,
    cast,
    check_params,
    check_tree,
    compute_dtype,
    increment,
    init_learning_rate,
    map_leaves,
    moments_like,
    next_learning_rate,
    per_dtype,
    real_dtype,
    requested,
    require_params,
    scalar,
    state_dtype,
    stored,
    zero_count,
)
from jopt._math import abs_sq


class ScheduleFreeAdamWState(NamedTuple):
    """``count``: updates applied; ``z``: the sequence the gradient steps move (Keras'
    ``momentum``, starting at the initial parameters); ``v``: the second moment;
    ``beta_1``: β1, kept so the evaluation point x can be read back; ``rate``: the
    learning-rate state."""

    count: jax.Array
    z: Any
    v: Any
    beta_1: jax.Array
    rate: Any


def _copy(call: str, params: Any) -> Any:
    check_params(call, params)
    return jax.tree.map(lambda p: jnp.copy(p).astype(state_dtype(p)), params)


def schedule_free_adamw(
    call: str,
    learning_rate: ScalarOrSchedule,
    beta_1: Scalar,
    beta_2: Scalar,
    epsilon: Scalar,
    warmup_steps: Any,
) -> optax.GradientTransformationExtraArgs:
    """The whole step (the learning rate inside z); θ is y, the point gradients are
    taken at. Unchecked: the caller checks its arguments."""

    def init_fn(params):
        return ScheduleFreeAdamWState(
            zero_count(params),
            _copy(call, params),
            moments_like(call, params, real=True),
            scalar(params, beta_1, jnp.result_type(float)),
            init_learning_rate(learning_rate, params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        require_params(call, params, "(the step moves them between z and x)")
        check_tree(call, updates, state.z)
        check_tree(call, updates, params, "the params")
        lr, rate = next_learning_rate(learning_rate, state.rate)

        @per_dtype
        def hyper(dt):
            rdt = real_dtype(dt)
            t = (state.count + 1).astype(rdt)
            alpha = cast(lr, rdt)
            if requested(warmup_steps):  # min(t/0, 1) = 1: no warmup, as Keras
                alpha = alpha * jnp.minimum(t / cast(warmup_steps, rdt), 1.0)
            b2 = cast(beta_2, rdt)
            return alpha, cast(beta_1, dt), b2, 1 - b2**t, cast(epsilon, rdt), 1.0 / t

        def step(g, y, z, v):
            dt = compute_dtype(g)
            alpha, b1, b2, correction, eps, weight = hyper(dt)
            out_dtype = g.dtype
            g, y, z_old = g.astype(dt), y.astype(dt), z.astype(dt)
            v_old = v.astype(real_dtype(dt))
            v_new = stored(v_old + (abs_sq(g) - v_old) * (1 - b2), v.dtype)
            denom = jnp.sqrt(v_new / correction) + eps
            z_new = stored(z_old - (alpha.astype(dt) * g) / denom.astype(dt), z.dtype)
            # Keras: x_old = (y − (1 − β1) z_old)/β1, x_new = (1 − w) x_old + w z_new,
            # y_new = (1 − β1) z_new + β1 x_new. Written as y_new − y, with Δz = z_new − z_old:
            # (1 − β1) Δz + w (z_old − y + β1 Δz), which never subtracts two
            # parameter-sized numbers to get the small update (their rounding, an ulp of θ,
            # would be 1e-5 of the update in float32).
            dz, w = z_new - z_old, weight.astype(dt)
            out = (1 - b1) * dz + w * (z_old - y + b1 * dz)
            return out.astype(out_dtype), z_new.astype(z.dtype), v_new.astype(v.dtype)

        out, z, v = map_leaves(step, 3, updates, params, state.z, state.v)
        return out, ScheduleFreeAdamWState(increment(state.count), z, v, state.beta_1, rate)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def eval_point(y: jax.Array, z: jax.Array, beta_1: jax.Array) -> jax.Array:
    """x = (y − (1 − β1)·z) / β1: the averaged point schedule-free evaluates at."""
    dt = compute_dtype(y)
    b1 = cast(beta_1, dt)
    return ((y.astype(dt) - (1 - b1) * z.astype(dt)) / b1).astype(y.dtype)
