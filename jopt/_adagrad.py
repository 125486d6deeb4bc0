"""AdaGrad: per-coordinate steps shrinking with the sum of squared gradients."""

from __future__ import annotations

from typing import Any, NamedTuple

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
    stored,
)
from jopt._base import _scale_by_learning_rate as lr_step
from jopt._math import abs_sq, normalize
from jopt._validation import check_dtype, check_flag, check_learning_rate, check_nonnegative


class ScaleByAdagradState(NamedTuple):
    sum_of_squares: Any


def _check(call: str, initial_accumulator_value, eps, eps_in_sqrt, nu_dtype) -> None:
    check_nonnegative(call, "initial_accumulator_value", initial_accumulator_value)
    check_nonnegative(call, "eps", eps)
    check_flag(call, "eps_in_sqrt", eps_in_sqrt)
    check_dtype(call, "nu_dtype", nu_dtype)


def _scale_by_adagrad(
    call: str,
    initial_accumulator_value: Scalar,
    eps: Scalar,
    eps_in_sqrt: bool,
    nu_dtype: Any | None,
) -> optax.GradientTransformationExtraArgs:
    def init_fn(params):
        return ScaleByAdagradState(
            moments_like(call, params, nu_dtype, fill=initial_accumulator_value, real=True)
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        check_tree(call, updates, state.sum_of_squares)
        eps_of = per_dtype(lambda dt: cast(eps, dt))

        def step(g, s):
            dt = compute_dtype(g)
            gw = g.astype(dt)
            s_new = stored(s.astype(real_dtype(dt)) + abs_sq(gw), s.dtype)
            out = normalize(gw, s_new, eps_of(real_dtype(dt)), eps_in_sqrt)
            return out.astype(g.dtype), s_new.astype(s.dtype)

        out, s = map_leaves(step, 2, updates, state.sum_of_squares)
        return out, ScaleByAdagradState(s)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def scale_by_adagrad(
    initial_accumulator_value: Scalar = 0.0,
    eps: Scalar = 1e-10,
    *,
    eps_in_sqrt: bool = False,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """s_t = s_{t−1} + |g_t|², output g_t / (sqrt(s_t) + ε) (see :func:`jopt.adagrad`).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_adagrad(eps=0.0)
    >>> tx.update(jnp.array([3.0, -4.0]), tx.init(jnp.zeros(2)))[0]
    Array([ 1., -1.], dtype=float32)
    """
    call = "jopt.scale_by_adagrad"
    _check(call, initial_accumulator_value, eps, eps_in_sqrt, nu_dtype)
    return _scale_by_adagrad(call, initial_accumulator_value, eps, eps_in_sqrt, nu_dtype)


def adagrad(
    learning_rate: ScalarOrSchedule,
    *,
    initial_accumulator_value: Scalar = 0.0,
    eps: Scalar = 1e-10,
    eps_in_sqrt: bool = False,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """AdaGrad. The deck: Δθ_i = −α g_i / sqrt(Σ_s g_{s,i}²), i.e. ``eps=0.0``.

    With ε: Δθ = −α g / (sqrt(Σg²) + ε) (PyTorch's form, its defaults
    ε = 1e-10 and a zero initial accumulator); ``eps_in_sqrt=True`` gives
    −α g / sqrt(Σg² + ε) (Keras 3's form). The deck's ε-free form divides by zero
    for a coordinate whose gradients have all been zero.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.adagrad(0.1, eps=0.0)
    >>> state = tx.init(jnp.zeros(1))
    >>> u1, state = tx.update(jnp.array([3.0]), state)  # −0.1·3/3
    >>> u2, state = tx.update(jnp.array([4.0]), state)  # −0.1·4/5
    >>> u1, u2
    (Array([-0.1], dtype=float32), Array([-0.08], dtype=float32))
    """
    call = "jopt.adagrad"
    check_learning_rate(call, learning_rate)
    _check(call, initial_accumulator_value, eps, eps_in_sqrt, nu_dtype)
    return chain(
        _scale_by_adagrad(call, initial_accumulator_value, eps, eps_in_sqrt, nu_dtype),
        lr_step(call, learning_rate),
    )
