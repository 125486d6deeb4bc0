"""ReduceLROnPlateau as a transform: scales updates down when a monitored metric stalls."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._core.checks import (
    Real,
    UnnamedTypeError,
    UnnamedValueError,
    checked,
    choice,
    integer,
    nonnegative,
    optional,
    positive,
    unit_interval,
)
from jopt._core.dtypes import cast, compute_dtype
from jopt._core.hyperparams import Scalar
from jopt._core.state import increment, scalar, zero_count

# A metric: any real scalar; inf and NaN are metrics too (never an improvement).
_METRIC = Real(allow_inf=True)


class ReduceLROnPlateauState(NamedTuple):
    """PyTorch's scheduler state, as arrays; ``best`` and ``scale`` are in the default
    float dtype.

    Args:
      best: the best metric so far (``inf`` for ``mode="min"``, ``-inf`` for ``"max"``
        before the first one).
      num_bad_epochs: PyTorch's counter of the metrics since the best one.
      cooldown_counter: PyTorch's counter of the cooldown left.
      scale: the factor now applied to updates (PyTorch's lr with base lr 1).
      count: updates seen.

    >>> import jax.numpy as jnp, jopt
    >>> state = jopt.reduce_lr_on_plateau().init(jnp.zeros(2))
    >>> state.best, state.scale
    (Array(inf, dtype=float32), Array(1., dtype=float32))
    """

    best: jax.Array
    num_bad_epochs: jax.Array
    cooldown_counter: jax.Array
    scale: jax.Array
    count: jax.Array


def _absolute_min_lr(arguments: Mapping[str, Any]) -> None:
    """An absolute ``min_lr`` needs ``base_lr`` and excludes ``min_scale``."""
    min_lr, base_lr, min_scale = (arguments[k] for k in ("min_lr", "base_lr", "min_scale"))
    if min_lr is not None and (base_lr is None or min_scale is not None):
        raise UnnamedValueError(
            f"min_lr={min_lr!r} with base_lr={base_lr!r}, min_scale={min_scale!r} is "
            "invalid; an absolute min_lr needs base_lr (the optimizer's rate) and no "
            "min_scale (min_scale = min_lr / base_lr)."
        )


def _check_value(value: Any) -> None:
    if value is None:
        raise UnnamedValueError(
            "update() needs the monitored metric as value=, e.g. "
            "tx.update(grads, state, params, value=loss)."
        )
    try:
        _METRIC("value", value)
    except TypeError as error:
        raise UnnamedTypeError(
            f"update(): {error} Pass the monitored metric as a scalar, e.g. value=loss."
        ) from None
    except ValueError:
        pass  # NaN: a metric that never improves, as in PyTorch's comparisons


@checked(
    _absolute_min_lr,
    factor=unit_interval(),
    patience=integer(0, traced=True),
    threshold=nonnegative(),
    threshold_mode=choice("rel", "abs"),
    cooldown=integer(0, traced=True),
    min_scale=optional(nonnegative()),
    mode=choice("min", "max"),
    eps=nonnegative(),
    min_lr=optional(nonnegative()),
    base_lr=optional(positive()),
)
def reduce_lr_on_plateau(
    factor: Scalar = 0.1,
    patience: int = 10,
    threshold: Scalar = 1e-4,
    threshold_mode: str = "rel",
    cooldown: int = 0,
    min_scale: Scalar | None = None,
    mode: str = "min",
    eps: Scalar = 1e-8,
    *,
    min_lr: Scalar | None = None,
    base_lr: Scalar | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Multiplies updates by a scale cut by ``factor`` when the metric ``value=`` stalls.

    PyTorch's ``ReduceLROnPlateau`` with base lr 1 (``min_scale`` is its ``min_lr``).
    Each ``update(updates, state, value=v)`` first takes ``v`` into account, then
    scales the updates by the factor in force afterwards, which equals PyTorch's lr after
    ``scheduler.step(v)``::

        better = v < best * (1 - threshold)   (min, rel)  |  v < best - threshold  (min, abs)
                 v > best * (1 + threshold)   (max, rel)  |  v > best + threshold  (max, abs)
        if better: best = v; bad = 0  else: bad += 1
        if cooldown_counter > 0: cooldown_counter -= 1; bad = 0
        if bad > patience:
            new = max(scale * factor, min_scale)
            if scale - new > eps: scale = new
            cooldown_counter = cooldown; bad = 0

    PyTorch's ``min_lr`` as an absolute rate: give ``min_lr`` and ``base_lr``, the rate of
    the optimizer this follows; then ``min_scale = min_lr / base_lr`` and ``eps`` compares
    rates, ``base_lr * (scale - new) > eps``, as PyTorch compares its lrs. ``base_lr``
    alone only does the latter. ``min_scale`` and ``min_lr`` exclude each other; with
    neither the scale has no floor (PyTorch's default ``min_lr=0``).

    The relative threshold multiplies ``best`` as PyTorch does, so with negative metrics
    ``best * (1 - threshold)`` lies *above* ``best`` (an improvement test that is looser,
    not stricter); this reproduces PyTorch, including that. Chain it after any
    optimizer, e.g. ``optax.chain(jopt.sgd(0.1), jopt.reduce_lr_on_plateau())``, and pass
    the metric through ``update(..., value=loss)`` (``nnx.Optimizer.update(model, grads,
    value=loss)`` forwards it). Everything is ``jnp.where``: it runs under ``jit`` with a
    traced metric.

    Args:
      factor: the cut, scale ← scale·factor, in [0, 1).
      patience: the bad epochs tolerated before a cut, an integer >= 0 (may be traced).
      threshold: the margin an improvement must beat, >= 0.
      threshold_mode: ``"rel"`` (a fraction of ``best``) or ``"abs"``.
      cooldown: the epochs after a cut during which bad epochs are not counted, an
        integer >= 0 (may be traced).
      min_scale: the floor of the scale, >= 0 (None: no floor).
      mode: ``"min"`` (the metric should fall) or ``"max"``.
      eps: a cut smaller than ``eps`` is not made, >= 0.
      min_lr: PyTorch's absolute ``min_lr``, >= 0; needs ``base_lr``, excludes
        ``min_scale``.
      base_lr: the rate of the optimizer this follows, > 0 (``eps`` then compares rates).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.ReduceLROnPlateauState`; ``update`` needs ``value=``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.reduce_lr_on_plateau(factor=0.5, patience=1)
    >>> state = tx.init(jnp.zeros(2))
    >>> for loss in [3.0, 2.0, 2.0, 2.0, 2.0, 2.0]:
    ...     updates, state = tx.update(jnp.ones(2), state, value=loss)
    ...     print(float(state.scale), updates)
    1.0 [1. 1.]
    1.0 [1. 1.]
    1.0 [1. 1.]
    0.5 [0.5 0.5]
    0.5 [0.5 0.5]
    0.25 [0.25 0.25]
    """

    def init_fn(params):
        dtype = jnp.result_type(float)
        worst = math.inf if mode == "min" else -math.inf
        return ReduceLROnPlateauState(  # each field its own buffer (donation)
            best=scalar(params, worst, dtype),
            num_bad_epochs=zero_count(params),
            cooldown_counter=zero_count(params),
            scale=scalar(params, 1.0, dtype),
            count=zero_count(params),
        )

    def update_fn(updates, state, params=None, *, value=None, **extra_args):
        del params, extra_args
        _check_value(value)
        dtype = state.scale.dtype
        v, best, thr = cast(value, dtype), state.best, cast(threshold, dtype)
        if mode == "min":
            bound = best * (1.0 - thr) if threshold_mode == "rel" else best - thr
            better = v < bound
        else:
            bound = best * (1.0 + thr) if threshold_mode == "rel" else best + thr
            better = v > bound
        best = jnp.where(better, v, best)
        bad = jnp.where(better, 0, increment(state.num_bad_epochs))
        in_cooldown = state.cooldown_counter > 0
        cooldown_counter = state.cooldown_counter - in_cooldown.astype(jnp.int32)
        bad = jnp.where(in_cooldown, 0, bad)

        reduce = bad > patience
        lowered = state.scale * cast(factor, dtype)
        if min_lr is not None:
            lowered = jnp.maximum(lowered, cast(min_lr, dtype) / cast(base_lr, dtype))
        elif min_scale is not None:
            lowered = jnp.maximum(lowered, cast(min_scale, dtype))
        drop = state.scale - lowered
        if base_lr is not None:
            drop = drop * cast(base_lr, dtype)  # PyTorch compares rates with eps
        scale = jnp.where(reduce & (drop > cast(eps, dtype)), lowered, state.scale)
        cooldown_counter = jnp.where(reduce, cast(cooldown, jnp.int32), cooldown_counter)
        bad = jnp.where(reduce, 0, bad).astype(jnp.int32)

        def scaled(g: jax.Array) -> jax.Array:
            dt = compute_dtype(g)
            return (g.astype(dt) * cast(scale, dt)).astype(g.dtype)

        count = increment(state.count)
        new_state = ReduceLROnPlateauState(best, bad, cooldown_counter, scale, count)
        return jax.tree.map(scaled, updates), new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
