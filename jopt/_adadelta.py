"""Adadelta: steps whose units match the parameters', from two moving averages."""

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
    real_dtype,
)
from jopt._base import _scale_by_learning_rate as lr_step
from jopt._math import abs_sq, ema
from jopt._validation import check_learning_rate, check_nonnegative, check_range


class ScaleByAdadeltaState(NamedTuple):
    e_g: Any  # E[g²]_t, moving average of |g|² (PyTorch's square_avg)
    e_x: Any  # E[Δx²]_t, moving average of |Δx|² (PyTorch's acc_delta)


def check_adadelta(call: str, rho, eps, *, rho_name="rho", eps_name="eps") -> None:
    """ρ in [0, 1] (at 1 both averages stay 0 and Δx = g), ε >= 0."""
    check_range(call, rho_name, rho, 0.0, 1.0)
    check_nonnegative(call, eps_name, eps)


def _scale_by_adadelta(
    call: str, rho: Scalar, eps: Scalar
) -> optax.GradientTransformationExtraArgs:
    def init_fn(params):
        e_g = moments_like(call, params, real=True)
        e_x = moments_like(call, params, real=True)
        return ScaleByAdadeltaState(e_g, e_x)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        check_tree(call, updates, state.e_g)

        @per_dtype  # scalars once per dtype, not per leaf
        def scalars(rdt):
            r = cast(rho, rdt)
            return r, 1.0 - r, cast(eps, rdt)

        def step(g, e_g, e_x):
            dt = compute_dtype(g)
            rdt = real_dtype(dt)
            r, rest, e = scalars(rdt)
            gw = g.astype(dt)
            e_g_new = ema(r, rest, e_g, abs_sq(gw))
            ratio = jnp.sqrt(e_x.astype(rdt) + e) / jnp.sqrt(e_g_new + e)
            delta = ratio.astype(dt) * gw
            e_x_new = ema(r, rest, e_x, abs_sq(delta))
            return delta.astype(g.dtype), e_g_new.astype(e_g.dtype), e_x_new.astype(e_x.dtype)

        out, e_g, e_x = map_leaves(step, 3, updates, state.e_g, state.e_x)
        return out, ScaleByAdadeltaState(e_g, e_x)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def scale_by_adadelta(
    rho: Scalar = 0.95, eps: Scalar = 1e-6
) -> optax.GradientTransformationExtraArgs:
    """Adadelta's step Δx_t = sqrt(E[Δx²]_{t−1} + ε)/sqrt(E[g²]_t + ε) · g_t.

    See :func:`jopt.adadelta`.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_adadelta(rho=0.75, eps=1.0)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # sqrt(1)/sqrt(0.25·4 + 1)·2
    Array([1.4142135], dtype=float32)
    """
    call = "jopt.scale_by_adadelta"
    check_adadelta(call, rho, eps)
    return _scale_by_adadelta(call, rho, eps)


def adadelta(
    learning_rate: ScalarOrSchedule = 1.0, rho: Scalar = 0.95, eps: Scalar = 1e-6
) -> optax.GradientTransformationExtraArgs:
    """Adadelta (Zeiler 2012): a step in the parameters' own units, no rate to tune.

    E[g²]_t = ρ E[g²]_{t−1} + (1−ρ) g_t²;
    Δx_t = sqrt(E[Δx²]_{t−1} + ε) / sqrt(E[g²]_t + ε) · g_t;
    E[Δx²]_t = ρ E[Δx²]_{t−1} + (1−ρ) Δx_t²,  Δθ = −α Δx_t.

    Defaults are the paper's: ρ = 0.95, ε = 1e-6 (its MNIST setting) and α = 1 (the paper
    has no learning rate). PyTorch's ``Adadelta`` defaults to ρ = 0.9 and α = 1, Keras'
    to ρ = 0.95, ε = 1e-7 and α = 1e-3. The averages are real for complex leaves (|g|²).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.adadelta(rho=0.75, eps=1.0)
    >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]  # −sqrt(1)/sqrt(0.25·4 + 1)·2
    Array([-1.4142135], dtype=float32)
    """
    call = "jopt.adadelta"
    check_learning_rate(call, learning_rate)
    check_adadelta(call, rho, eps)
    return chain(_scale_by_adadelta(call, rho, eps), lr_step(call, learning_rate))
