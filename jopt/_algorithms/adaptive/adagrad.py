"""AdaGrad: per-coordinate steps shrinking with the sum of squared gradients."""

from __future__ import annotations

from typing import Any, NamedTuple

import optax

from jopt._core.chain import chain
from jopt._core.checks import checked, flag, learning_rate, nonnegative
from jopt._core.dtypes import cast, compute_dtype, per_dtype, real_dtype, stored
from jopt._core.elementwise import abs_sq, normalize
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.layout import PerParam
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.moments import held, state_format, write
from jopt._core.state import check_tree, moments_like
from jopt.sharding._leafwise import map_leaves

# The rules of AdaGrad's direction, shared by both factories of this module.
RULES = dict(
    initial_accumulator_value=nonnegative(),
    eps=nonnegative(),
    eps_in_sqrt=flag(),
    nu_dtype=state_format(),
)


class ScaleByAdagradState(NamedTuple):
    """AdaGrad's accumulator (:func:`jopt.scale_by_adagrad`).

    Args:
      sum_of_squares: s, the running sum of |g|² (real), from its initial value.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_adagrad()
    >>> _, state = tx.update(jnp.array([1.0, -2.0]), tx.init(jnp.zeros(2)))
    >>> state.sum_of_squares
    Array([1., 4.], dtype=float32)
    """

    sum_of_squares: PerParam


@checked(**RULES)
def scale_by_adagrad(
    initial_accumulator_value: Scalar = 0.0,
    eps: Scalar = 1e-10,
    *,
    eps_in_sqrt: bool = False,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """s_t = s_{t−1} + |g_t|², output g_t / (sqrt(s_t) + ε) (see :func:`jopt.adagrad`).

    Args:
      initial_accumulator_value: s_0 >= 0.
      eps: ε >= 0.
      eps_in_sqrt: output g_t / sqrt(s_t + ε) instead (Keras' form).
      nu_dtype: the dtype s is stored in (None: the dtype rule of :mod:`jopt`).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.ScaleByAdagradState`.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_adagrad(eps=0.0)
    >>> tx.update(jnp.array([3.0, -4.0]), tx.init(jnp.zeros(2)))[0]
    Array([ 1., -1.], dtype=float32)
    """

    def init_fn(params):
        return ScaleByAdagradState(
            moments_like(params, nu_dtype, fill=initial_accumulator_value, real=True, signed=False)
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        check_tree(updates, state.sum_of_squares)
        eps_of = per_dtype(lambda dt: cast(eps, dt))

        def step(g, s):
            s = held(s, g, nu_dtype, signed=False)
            dt = compute_dtype(g)
            gw = g.astype(dt)
            s_new = stored(s.astype(real_dtype(dt)) + abs_sq(gw), s.dtype)
            out = normalize(gw, s_new, eps_of(real_dtype(dt)), eps_in_sqrt)
            return out.astype(g.dtype), write(s_new, s)

        out, s = map_leaves(step, 2, updates, state.sum_of_squares)
        return out, ScaleByAdagradState(s)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(learning_rate=learning_rate(), **RULES)
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

    ``chain(scale_by_adagrad(...), scale_by_learning_rate(learning_rate))``.

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.
      initial_accumulator_value: s_0 >= 0, the sum's starting value.
      eps: ε >= 0.
      eps_in_sqrt: ε inside the square root (Keras' form).
      nu_dtype: the dtype the sum is stored in.

    Returns:
      An ``optax.GradientTransformationExtraArgs``: the state is
      ``(ScaleByAdagradState, ScaleByLearningRateState)``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.adagrad(0.1, eps=0.0)
    >>> state = tx.init(jnp.zeros(1))
    >>> u1, state = tx.update(jnp.array([3.0]), state)  # −0.1·3/3
    >>> u2, state = tx.update(jnp.array([4.0]), state)  # −0.1·4/5
    >>> u1, u2
    (Array([-0.1], dtype=float32), Array([-0.08], dtype=float32))
    """
    return chain(
        scale_by_adagrad(
            initial_accumulator_value, eps, eps_in_sqrt=eps_in_sqrt, nu_dtype=nu_dtype
        ),
        scale_by_learning_rate(learning_rate),
    )
