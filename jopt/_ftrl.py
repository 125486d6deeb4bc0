"""FTRL-Proximal (McMahan et al., 2013): follow the regularized leader, Keras' form."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax.numpy as jnp
import optax

from jopt._base import (
    LearningRateState,
    Scalar,
    ScalarOrSchedule,
    cast,
    check_real_params,
    check_tree,
    compute_dtype,
    init_learning_rate,
    map_leaves,
    moments_like,
    next_learning_rate,
    per_dtype,
    require_params,
    stored,
)
from jopt._math import abs_sq
from jopt._validation import check_learning_rate, check_nonnegative, check_range


class ScaleByFtrlState(NamedTuple):
    """``accumulator``: n, the sum of squared gradients (from ``initial_accumulator_value``);
    ``linear``: z; ``rate``: the learning-rate state (:class:`jopt.ScaleByScheduleState`
    for a schedule, else :class:`jopt.ScaleByLearningRateState`)."""

    accumulator: Any
    linear: Any
    rate: LearningRateState


def _scale_by_ftrl(
    call: str,
    learning_rate: ScalarOrSchedule,
    learning_rate_power: Scalar,
    initial_accumulator_value: Scalar,
    l1: Scalar,
    l2: Scalar,
    l2_shrinkage: Scalar,
    beta: Scalar,
) -> optax.GradientTransformationExtraArgs:
    def init_fn(params):
        check_real_params(call, params, "FTRL's clip and sign need real parameters.")
        return ScaleByFtrlState(
            moments_like(call, params, fill=initial_accumulator_value, real=True),
            moments_like(call, params),
            init_learning_rate(learning_rate, params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        require_params(call, params, "(FTRL solves for the new parameters)")
        check_tree(call, updates, state.accumulator)
        check_tree(call, updates, params, "the params")
        lr, rate = next_learning_rate(learning_rate, state.rate)

        @per_dtype
        def hyper(dt):
            alpha = cast(lr, dt)
            return (
                alpha,
                -cast(learning_rate_power, dt),
                cast(l1, dt),
                cast(l2, dt) + cast(beta, dt) / (2.0 * alpha),  # Keras: l2 + β/(2α)
                2 * cast(l2_shrinkage, dt),
            )

        def step(g, w, n, z):
            dt = compute_dtype(g)
            alpha, power, lam1, lam2, shrink = hyper(dt)
            out_dtype = g.dtype
            g, w = g.astype(dt), w.astype(dt)
            n_old = n.astype(dt)
            n_new = stored(n_old + abs_sq(g), n.dtype)
            n_pow = jnp.power(n_new, power)
            sigma = (n_pow - jnp.power(n_old, power)) / alpha
            z_new = stored(z.astype(dt) + ((g + shrink * w) - sigma * w), z.dtype)
            quadratic = n_pow / alpha + 2 * lam2
            # 0 only for a coordinate with no gradient yet, no accumulator and no λ2: it
            # stays where it is (Keras divides 0 by 0 there and writes NaN).
            solved = (jnp.clip(z_new, -lam1, lam1) - z_new) / jnp.where(quadratic > 0, quadratic, 1)
            w_new = jnp.where(quadratic > 0, solved, w)
            return (w_new - w).astype(out_dtype), n_new.astype(n.dtype), z_new.astype(z.dtype)

        out, n, z = map_leaves(step, 3, updates, params, state.accumulator, state.linear)
        return out, ScaleByFtrlState(n, z, rate)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def check_ftrl_rate(call: str, learning_rate: Any) -> None:
    """FTRL divides by α: a constant rate must be > 0 (a schedule must stay above 0)."""
    check_range(call, "learning_rate", learning_rate, 0.0, lo_open=True, schedule=True)


def scale_by_ftrl(
    learning_rate: ScalarOrSchedule = 1e-3,
    *,
    learning_rate_power: Scalar = -0.5,
    initial_accumulator_value: Scalar = 0.1,
    l1: Scalar = 0.0,
    l2: Scalar = 0.0,
    l2_shrinkage: Scalar = 0.0,
    beta: Scalar = 0.0,
) -> optax.GradientTransformationExtraArgs:
    """FTRL-Proximal with Keras' options: the update that moves θ to FTRL's new point.

    FTRL solves for the new parameters in closed form, with the learning rate inside,
    so this primitive takes ``learning_rate`` (a number or a schedule ``count -> α``)
    and returns the whole step (no :func:`jopt.scale_by_learning_rate` after it); it
    needs ``params``. With p = ``learning_rate_power`` (−0.5: the square root),
    λ1 = ``l1``, λ2 = ``l2`` + β/(2α_t) and the shrinkage λs = ``l2_shrinkage``:

    n_t = n_{t−1} + g²,  σ_t = (n_t^(−p) − n_{t−1}^(−p)) / α_t;
    z_t = z_{t−1} + g + 2λs θ − σ_t θ;
    θ ← (clip(z_t, −λ1, λ1) − z_t) / (n_t^(−p)/α_t + 2λ2).

    n starts at ``initial_accumulator_value``, z at 0. As
    ``keras.optimizers.Ftrl`` (McMahan et al., 2013, "Ad Click Prediction"). Real
    parameters only. α_t divides: a constant rate must be > 0 and a schedule must stay
    above 0. Where the denominator is 0 (``initial_accumulator_value=0``, λ2 = 0 and no
    gradient yet on that coordinate) θ stays as it is; Keras writes NaN there.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_ftrl(0.5, initial_accumulator_value=0.0, l1=0.1)
    >>> params = jnp.array([0.0, 0.0])
    >>> # z = g, n = g², 1/α·sqrt(n) = 2|g|: θ = 0 where |z| ≤ λ1, else (0.1 − 2)/4
    >>> tx.update(jnp.array([0.05, 2.0]), tx.init(params), params)[0]
    Array([ 0.   , -0.475], dtype=float32)
    """
    call = "jopt.scale_by_ftrl"
    check_learning_rate(call, learning_rate)
    check_ftrl_rate(call, learning_rate)
    check_range(call, "learning_rate_power", learning_rate_power, hi=0.0)
    for name, value in [
        ("initial_accumulator_value", initial_accumulator_value),
        ("l1", l1),
        ("l2", l2),
        ("l2_shrinkage", l2_shrinkage),
        ("beta", beta),
    ]:
        check_nonnegative(call, name, value)
    return _scale_by_ftrl(
        call,
        learning_rate,
        learning_rate_power,
        initial_accumulator_value,
        l1,
        l2,
        l2_shrinkage,
        beta,
    )
