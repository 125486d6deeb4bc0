"""Adadelta: steps whose units match the parameters', from two moving averages."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax.numpy as jnp
import optax

from jopt._core.chain import chain
from jopt._core.checks import checked, closed_unit_interval, learning_rate, nonnegative
from jopt._core.dtypes import cast, compute_dtype, per_dtype, real_dtype
from jopt._core.elementwise import abs_sq, ema, ema_weights
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.layout import PerParam
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.moments import held, state_format, write
from jopt._core.state import check_tree, moments_like
from jopt.sharding._leafwise import map_leaves

# ρ in [0, 1] (at 1 both averages stay 0 and Δx = g), ε >= 0.
RULES = dict(rho=closed_unit_interval(), eps=nonnegative(), nu_dtype=state_format())


class ScaleByAdadeltaState(NamedTuple):
    """Adadelta's two moving averages, both real (:func:`jopt.scale_by_adadelta`).

    Args:
      e_g: E[g²]_t, the moving average of |g|² (PyTorch's ``square_avg``).
      e_x: E[Δx²]_t, the moving average of |Δx|² (PyTorch's ``acc_delta``).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_adadelta(rho=0.5)
    >>> _, state = tx.update(jnp.array([1.0, -2.0]), tx.init(jnp.zeros(2)))
    >>> state.e_g  # (1 − ρ)g²
    Array([0.5, 2. ], dtype=float32)
    """

    e_g: PerParam
    e_x: PerParam


@checked(**RULES)
def scale_by_adadelta(
    rho: Scalar = 0.95, eps: Scalar = 1e-6, *, nu_dtype: Any | None = None
) -> optax.GradientTransformationExtraArgs:
    """Adadelta's step Δx_t = sqrt(E[Δx²]_{t−1} + ε)/sqrt(E[g²]_t + ε) · g_t.

    See :func:`jopt.adadelta`.

    Args:
      rho: ρ in [0, 1], the averages' decay.
      eps: ε >= 0, inside both square roots.
      nu_dtype: the dtype both averages are stored in (None: the dtype rule of
        :mod:`jopt`), or a quantized format (:func:`jopt.quantized`).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.ScaleByAdadeltaState`.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_adadelta(rho=0.75, eps=1.0)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # sqrt(1)/sqrt(0.25·4 + 1)·2
    Array([1.4142135], dtype=float32)
    """

    def init_fn(params):
        e_g = moments_like(params, nu_dtype, real=True, signed=False)
        e_x = moments_like(params, nu_dtype, real=True, signed=False)
        return ScaleByAdadeltaState(e_g, e_x)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        check_tree(updates, state.e_g)

        @per_dtype  # scalars once per dtype, not per leaf
        def scalars(rdt):
            return *ema_weights(rho, rdt), cast(eps, rdt)

        def step(g, e_g, e_x):
            e_g, e_x = held(e_g, g, nu_dtype, signed=False), held(e_x, g, nu_dtype, signed=False)
            dt = compute_dtype(g)
            rdt = real_dtype(dt)
            r, rest, e = scalars(rdt)
            gw = g.astype(dt)
            e_g_new = ema(r, rest, e_g, abs_sq(gw))
            ratio = jnp.sqrt(e_x.astype(rdt) + e) / jnp.sqrt(e_g_new + e)
            delta = ratio.astype(dt) * gw
            e_x_new = ema(r, rest, e_x, abs_sq(delta))
            return delta.astype(g.dtype), write(e_g_new, e_g), write(e_x_new, e_x)

        out, e_g, e_x = map_leaves(step, 3, updates, state.e_g, state.e_x, elementwise=True)
        return out, ScaleByAdadeltaState(e_g, e_x)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(learning_rate=learning_rate(), **RULES)
def adadelta(
    learning_rate: ScalarOrSchedule = 1.0,
    rho: Scalar = 0.95,
    eps: Scalar = 1e-6,
    *,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Adadelta (Zeiler 2012): a step in the parameters' own units, no rate to tune.

    E[g²]_t = ρ E[g²]_{t−1} + (1−ρ) g_t²;
    Δx_t = sqrt(E[Δx²]_{t−1} + ε) / sqrt(E[g²]_t + ε) · g_t;
    E[Δx²]_t = ρ E[Δx²]_{t−1} + (1−ρ) Δx_t²,  Δθ = −α Δx_t.

    ``chain(scale_by_adadelta(rho, eps), scale_by_learning_rate(learning_rate))``.
    Defaults are the paper's: ρ = 0.95, ε = 1e-6 (its MNIST setting) and α = 1 (the paper
    has no learning rate). PyTorch's ``Adadelta`` defaults to ρ = 0.9 and α = 1, Keras'
    to ρ = 0.95, ε = 1e-7 and α = 1e-3. The averages are real for complex leaves (|g|²).

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.
      rho: ρ in [0, 1].
      eps: ε >= 0.
      nu_dtype: the dtype both averages are stored in.

    Returns:
      An ``optax.GradientTransformationExtraArgs``: the state is
      ``(ScaleByAdadeltaState, ScaleByLearningRateState)``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.adadelta(rho=0.75, eps=1.0)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # −sqrt(1)/sqrt(0.25·4 + 1)·2
    Array([-1.4142135], dtype=float32)
    """
    return chain(
        scale_by_adadelta(rho, eps, nu_dtype=nu_dtype), scale_by_learning_rate(learning_rate)
    )
