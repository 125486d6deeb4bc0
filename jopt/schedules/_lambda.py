"""Schedules given by a user function of the count: LambdaLR and MultiplicativeLR."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jopt._base import Scalar, cast
from jopt._validation import check_nonnegative
from jopt.schedules._common import Schedule, as_count, float_dtype


def _check_callable(call: str, lr_lambda: object) -> None:
    if not callable(lr_lambda):
        raise ValueError(
            f"{call}: lr_lambda={lr_lambda!r} is invalid; lr_lambda must be a function "
            "count -> factor."
        )


def lambda_lr(base_lr: Scalar, lr_lambda: Callable[[jax.Array], Any]) -> Schedule:
    """``base_lr * lr_lambda(count)``: PyTorch's ``LambdaLR``.

    ``lr_lambda`` receives the count as given, an integer JAX array (a real one for a
    fractional count), traced under ``jit``: write it with ``jnp`` operations
    (``jnp.where``, not ``if``). Under
    ``jax_numpy_dtype_promotion="strict"``, convert it before mixing it with floats
    (``0.95 ** k.astype(float)``).

    >>> import jax.numpy as jnp
    >>> import jopt.schedules as schedules
    >>> warmup = schedules.lambda_lr(0.1, lambda k: jnp.minimum(1.0, (k + 1) / 4))
    >>> [round(float(warmup(k)), 6) for k in range(6)]
    [0.025, 0.05, 0.075, 0.1, 0.1, 0.1]
    """
    call = "jopt.schedules.lambda_lr"
    check_nonnegative(call, "base_lr", base_lr)
    _check_callable(call, lr_lambda)

    def schedule(count):
        count = as_count(call, count)
        dtype = float_dtype(base_lr)
        return cast(base_lr, dtype) * cast(lr_lambda(count), dtype)

    return schedule


def multiplicative_lr(base_lr: Scalar, lr_lambda: Callable[[jax.Array], Any]) -> Schedule:
    """``base_lr * prod_{k=1..count} lr_lambda(k)``: PyTorch's ``MultiplicativeLR``.

    The product is a ``lax.fori_loop`` over ``1..count``: one evaluation costs ``count``
    calls of ``lr_lambda``, which receives ``k`` as an integer array. The count must be
    an integer (a product over steps has no fractional step). When the factor does not
    depend on ``k``, prefer :func:`exponential_lr`, which is closed form.

    >>> import jopt.schedules as schedules
    >>> sched = schedules.multiplicative_lr(1.0, lambda k: 0.5)
    >>> [float(sched(k)) for k in range(4)]
    [1.0, 0.5, 0.25, 0.125]
    """
    call = "jopt.schedules.multiplicative_lr"
    check_nonnegative(call, "base_lr", base_lr)
    _check_callable(call, lr_lambda)

    def schedule(count):
        count = as_count(call, count, integer=True)
        dtype = float_dtype(base_lr)
        product = jax.lax.fori_loop(
            jnp.ones_like(count),
            count + 1,
            lambda k, acc: acc * cast(lr_lambda(k), dtype),
            jnp.ones([], dtype),
        )
        return cast(base_lr, dtype) * product

    return schedule
