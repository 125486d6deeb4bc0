"""Schedules given by a user function of the count: LambdaLR and MultiplicativeLR."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jopt._core.checks import checked, function, nonnegative
from jopt._core.dtypes import cast
from jopt._core.hyperparams import Scalar, with_recurrence
from jopt.schedules._common import Schedule, as_count, described, float_dtype

LR_LAMBDA = function("a function count -> factor")


@checked(base_lr=nonnegative(), lr_lambda=LR_LAMBDA)
def lambda_lr(base_lr: Scalar, lr_lambda: Callable[[jax.Array], Any]) -> Schedule:
    """``base_lr * lr_lambda(count)``: PyTorch's ``LambdaLR``.

    ``lr_lambda`` receives the count as given, an integer JAX array (a real one for a
    fractional count), traced under ``jit``: write it with ``jnp`` operations
    (``jnp.where``, not ``if``). Under
    ``jax_numpy_dtype_promotion="strict"``, convert it before mixing it with floats
    (``0.95 ** k.astype(float)``).

    Args:
      base_lr: the base rate, a number >= 0 (or a traced scalar).
      lr_lambda: the factor, a function ``count -> factor`` written with ``jnp``.

    Returns:
      A schedule: a function ``count -> learning rate``.

    >>> import jax.numpy as jnp
    >>> import jopt.schedules as schedules
    >>> warmup = schedules.lambda_lr(0.1, lambda k: jnp.minimum(1.0, (k + 1) / 4))
    >>> [round(float(warmup(k)), 6) for k in range(6)]
    [0.025, 0.05, 0.075, 0.1, 0.1, 0.1]
    """

    def schedule(count: Any) -> jax.Array:
        count = as_count(count)
        dtype = float_dtype(base_lr)
        return cast(base_lr, dtype) * cast(lr_lambda(count), dtype)

    return described(schedule, "LambdaLR")


@checked(base_lr=nonnegative(), lr_lambda=LR_LAMBDA)
def multiplicative_lr(base_lr: Scalar, lr_lambda: Callable[[jax.Array], Any]) -> Schedule:
    """``base_lr * prod_{k=1..count} lr_lambda(k)``: PyTorch's ``MultiplicativeLR``.

    As PyTorch, the rate is multiplied in step by step: ``lr_0 = base_lr``, ``lr_k =
    lr_{k-1} * lr_lambda(k)``. A product of an arbitrary function over steps has no
    closed form, so what a step costs depends on what evaluates it:

    - as the learning rate of a jopt optimizer (``jopt.adam(sched)``,
      ``jopt.scale_by_learning_rate(sched)``, the ``compat`` presets) it costs O(1) per
      update, as PyTorch's: the optimizer's state records the last rate and the step
      multiplies it by ``lr_lambda(count)`` (one call);
    - called directly, ``sched(count)``, and wherever only the count is at hand (optax's
      optimizers, ``optax.inject_hyperparams``, inside :func:`sequential_lr` or
      :func:`chained_lr`), the product is a ``lax.fori_loop`` over ``1..count``:
      ``count`` calls of ``lr_lambda``.

    Both give the same numbers. ``lr_lambda`` receives ``k`` as an integer array. The
    count must be an integer (a product over steps has no fractional step). When the
    factor does not depend on ``k``, prefer :func:`exponential_lr`, which is closed form.

    Args:
      base_lr: the rate at count 0, a number >= 0 (or a traced scalar).
      lr_lambda: the factor of step ``k >= 1``, a function ``k -> factor`` written with
        ``jnp``.

    Returns:
      A schedule: a function ``count -> learning rate`` (an integer count), which jopt's
      learning-rate step advances in O(1) per update.

    >>> import jopt.schedules as schedules
    >>> sched = schedules.multiplicative_lr(1.0, lambda k: 0.5)
    >>> [float(sched(k)) for k in range(4)]
    [1.0, 0.5, 0.25, 0.125]
    """

    def factor(k: jax.Array, dtype: Any) -> jax.Array:
        return cast(lr_lambda(k), dtype)

    def schedule(count: Any) -> jax.Array:
        count = as_count(count, integer=True)
        dtype = float_dtype(base_lr)
        return jax.lax.fori_loop(
            jnp.ones_like(count),
            count + 1,
            lambda k, lr: lr * factor(k, dtype),
            cast(base_lr, dtype),
        )

    def step(count: Any, previous: Any) -> jax.Array:
        # schedule(count) from previous = schedule(count - 1): PyTorch's lr * lr_lambda(k).
        count = as_count(count, integer=True)
        dtype = float_dtype(base_lr)
        following = cast(previous, dtype) * factor(count, dtype)
        return jnp.where(count == 0, cast(base_lr, dtype), following)

    return described(with_recurrence(schedule, step), "MultiplicativeLR")
