"""FTRL-Proximal (McMahan et al., 2013): follow the regularized leader, Keras' form."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._core.checks import Real, checked, nonnegative, positive
from jopt._core.dtypes import cast, compute_dtype, per_dtype, stored
from jopt._core.elementwise import abs_sq
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.layout import PerParam
from jopt._core.learning_rate import LearningRateState, init_learning_rate, next_learning_rate
from jopt._core.state import check_real_params, check_update_params, moments_like
from jopt.sharding._leafwise import map_leaves


class ScaleByFtrlState(NamedTuple):
    """FTRL-Proximal's sums and its learning rate (:func:`jopt.scale_by_ftrl`).

    Args:
      accumulator: n, the sum of squared gradients (from ``initial_accumulator_value``).
      linear: z.
      rate: the learning-rate state (:class:`jopt.ScaleByScheduleState` for a schedule,
        else :class:`jopt.ScaleByLearningRateState`).

    >>> import jax.numpy as jnp, jopt
    >>> state = jopt.scale_by_ftrl(0.1, initial_accumulator_value=0.5).init(jnp.zeros(2))
    >>> state.accumulator, state.rate.learning_rate
    (Array([0.5, 0.5], dtype=float32), Array(0.1, dtype=float32))
    """

    accumulator: PerParam
    linear: PerParam
    rate: LearningRateState


class _Scalars(NamedTuple):
    """FTRL's per-dtype scalars of one update."""

    alpha: jax.Array  # α_t
    power: jax.Array  # −p
    l1: jax.Array  # λ1
    l2: jax.Array  # λ2 + β/(2α_t)
    shrink: jax.Array  # 2λs


@checked(
    # FTRL divides by α: a constant rate must be > 0 (a schedule must stay above 0).
    learning_rate=positive(schedule=True),
    learning_rate_power=Real(hi=0.0),
    initial_accumulator_value=nonnegative(),
    l1=nonnegative(),
    l2=nonnegative(),
    l2_shrinkage=nonnegative(),
    beta=nonnegative(),
)
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
    parameters only. Where the denominator is 0 (``initial_accumulator_value=0``, λ2 = 0
    and no gradient yet on that coordinate) θ stays as it is; Keras writes NaN there.

    Args:
      learning_rate: α > 0 (it divides), or a schedule ``count -> α`` that stays above 0.
      learning_rate_power: p <= 0.
      initial_accumulator_value: n_0 >= 0.
      l1: λ1 >= 0, the L1 strength.
      l2: λ2 >= 0, the L2 strength.
      l2_shrinkage: λs >= 0, the L2 shrinkage strength.
      beta: β >= 0, added to λ2 as β/(2α_t).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.ScaleByFtrlState`; ``update`` needs ``params``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_ftrl(0.5, initial_accumulator_value=0.0, l1=0.1)
    >>> params = jnp.array([0.0, 0.0])
    >>> # z = g, n = g², 1/α·sqrt(n) = 2|g|: θ = 0 where |z| ≤ λ1, else (0.1 − 2)/4
    >>> tx.update(jnp.array([0.05, 2.0]), tx.init(params), params)[0]
    Array([ 0.   , -0.475], dtype=float32)
    """

    def init_fn(params):
        check_real_params(params, "FTRL's clip and sign need real parameters.")
        return ScaleByFtrlState(
            moments_like(params, fill=initial_accumulator_value, real=True),
            moments_like(params),
            init_learning_rate(learning_rate, params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        check_update_params(
            updates, params, "(FTRL solves for the new parameters)", state.accumulator
        )
        lr, rate = next_learning_rate(learning_rate, state.rate)

        @per_dtype
        def scalars(dt: jnp.dtype) -> _Scalars:
            alpha = cast(lr, dt)
            return _Scalars(
                alpha=alpha,
                power=-cast(learning_rate_power, dt),
                l1=cast(l1, dt),
                l2=cast(l2, dt) + cast(beta, dt) / (2.0 * alpha),  # Keras: l2 + β/(2α)
                shrink=2 * cast(l2_shrinkage, dt),
            )

        def step(g, w, n, z):
            dt = compute_dtype(g)
            s = scalars(dt)
            out_dtype = g.dtype
            g, w = g.astype(dt), w.astype(dt)
            n_old = n.astype(dt)
            n_new = stored(n_old + abs_sq(g), n.dtype)
            n_pow = jnp.power(n_new, s.power)
            sigma = (n_pow - jnp.power(n_old, s.power)) / s.alpha
            z_new = stored(z.astype(dt) + ((g + s.shrink * w) - sigma * w), z.dtype)
            quadratic = n_pow / s.alpha + 2 * s.l2
            # 0 only for a coordinate with no gradient yet, no accumulator and no λ2: it
            # stays where it is (Keras divides 0 by 0 there and writes NaN).
            solved = (jnp.clip(z_new, -s.l1, s.l1) - z_new) / jnp.where(quadratic > 0, quadratic, 1)
            w_new = jnp.where(quadratic > 0, solved, w)
            return (w_new - w).astype(out_dtype), n_new.astype(n.dtype), z_new.astype(z.dtype)

        out, n, z = map_leaves(step, 3, updates, params, state.accumulator, state.linear)
        return out, ScaleByFtrlState(n, z, rate)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
