"""SWALR: anneal to the constant rate of stochastic weight averaging."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jopt._core.checks import checked, choice, integer, nonnegative
from jopt._core.dtypes import cast
from jopt._core.hyperparams import Scalar
from jopt.schedules._common import Schedule, as_count, described, float_dtype, half_cosine


@checked(
    base_lr=nonnegative(),
    swa_lr=nonnegative(),
    anneal_epochs=integer(0),
    anneal_strategy=choice("cos", "linear"),
)
def swalr(
    base_lr: Scalar, swa_lr: Scalar, anneal_epochs: int = 10, anneal_strategy: str = "cos"
) -> Schedule:
    """From ``base_lr`` to ``swa_lr`` in ``anneal_epochs`` steps, then constant: ``SWALR``.

    PyTorch's ``torch.optim.swa_utils.SWALR`` in closed form, ``A = anneal_epochs``::

        lr    = swa_lr * a + base_lr * (1 - a),   a = f(min(count, A) / A)
        f(x)  = (1 - cos(pi * x)) / 2  ("cos")  |  x  ("linear")

    and ``lr = swa_lr`` from the start when ``A = 0``. PyTorch anneals from the rate the
    optimizer has when ``SWALR`` takes over, so the usual recipe (another scheduler,
    then ``swa_scheduler.step()`` after update ``swa_start``) is
    ``sequential_lr([first, swalr(first(m), swa_lr, ...)], milestones=[m])`` with
    ``m = swa_start + 1``. PyTorch steps SWALR once per epoch in its example; feed it
    ``count // steps_per_epoch`` to do the same.

    Args:
      base_lr: the rate at count 0, a number >= 0 (or a traced scalar).
      swa_lr: the rate from ``anneal_epochs`` on, a number >= 0.
      anneal_epochs: the steps from ``base_lr`` to ``swa_lr``, an integer >= 0.
      anneal_strategy: the shape of the annealing, ``"cos"`` or ``"linear"``.

    Returns:
      A schedule: a function ``count -> learning rate``.

    >>> import jopt.schedules as schedules
    >>> sched = schedules.swalr(1.0, 0.5, anneal_epochs=4, anneal_strategy="linear")
    >>> [float(sched(k)) for k in range(6)]
    [1.0, 0.875, 0.75, 0.625, 0.5, 0.5]
    """
    anneal = anneal_epochs

    def schedule(count: Any) -> jax.Array:
        count = as_count(count)
        dtype = float_dtype(base_lr, swa_lr)
        if anneal == 0:
            return jnp.broadcast_to(cast(swa_lr, dtype), count.shape)
        done = jnp.clip(count, 0, anneal)
        left = (anneal - done).astype(dtype)  # exact, so 1 - a does not cancel
        if anneal_strategy == "cos":
            a, rest = half_cosine(done.astype(dtype), anneal), half_cosine(left, anneal)
        else:
            a, rest = done.astype(dtype) / anneal, left / anneal
        return cast(swa_lr, dtype) * a + cast(base_lr, dtype) * rest

    return described(schedule, "SWALR")
