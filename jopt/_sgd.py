"""PyTorch's SGD: heavy-ball momentum with dampening, Nesterov, coupled weight decay."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._base import (
    Scalar,
    ScalarOrSchedule,
    cast,
    chain,
    check_tree,
    compute_dtype,
    evaluate,
    increment,
    map_leaves,
    moments_like,
    per_dtype,
    requested,
    zero_count,
)
from jopt._base import _scale_by_learning_rate as lr_step
from jopt._math import ema
from jopt._validation import (
    check_dtype,
    check_flag,
    check_learning_rate,
    check_nesterov,
    check_nonnegative,
    check_optional,
    check_range,
)
from jopt._weight_decay import maximize_and_decay


class ScaleByTraceState(NamedTuple):
    trace: Any  # the buffer b


class ScaleByCountedTraceState(NamedTuple):
    """The buffer with a count: dampening (whose first step differs, b_1 = g_1) or a
    momentum schedule (evaluated at the count) needs one."""

    count: jax.Array  # int32, updates applied
    trace: Any


def _check_trace(call: str, momentum: Any, dampening: Any, nesterov: bool, mu_dtype: Any) -> None:
    check_optional(call, "momentum", momentum, schedule=True)
    check_range(call, "dampening", 0.0 if dampening is None else dampening, 0.0, 1.0)
    check_nesterov(call, momentum, dampening, nesterov)
    check_dtype(call, "mu_dtype", mu_dtype)


def _scale_by_trace(
    call: str,
    momentum: ScalarOrSchedule,
    dampening: Scalar | None = None,
    nesterov: bool = False,
    mu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    # Without dampening b_1 = μ·0 + g_1 = g_1 from the zero buffer: no first-step case
    # and, for a constant momentum, no count (optax's layout).
    dampened = requested(dampening)
    counted = dampened or callable(momentum)

    def init_fn(params):
        trace = moments_like(call, params, mu_dtype)
        return (
            ScaleByCountedTraceState(zero_count(params), trace)
            if counted
            else ScaleByTraceState(trace)
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        check_tree(call, updates, state.trace)
        mu_now = evaluate(momentum, state.count) if counted else momentum
        first: Any = state.count == 0 if dampened else None

        @per_dtype  # scalars once per dtype, not per leaf
        def scalars(dt):
            mu = cast(mu_now, dt)
            if not dampened:
                return mu, mu, None
            # The first step fills the (zero) buffer with g undampened: select the two
            # scalars rather than every element.
            keep = jnp.where(first, jnp.zeros((), dt), mu)
            return mu, keep, jnp.where(first, jnp.ones((), dt), 1.0 - cast(dampening, dt))

        def step(g, b):
            dt = compute_dtype(g)
            mu, keep, damp = scalars(dt)
            gw = g.astype(dt)
            b_new = ema(keep, damp, b, gw)
            out = gw + mu * b_new if nesterov else b_new
            return out.astype(g.dtype), b_new.astype(b.dtype)

        out, trace = map_leaves(step, 2, updates, state.trace)
        if counted:
            return out, ScaleByCountedTraceState(increment(state.count), trace)
        return out, ScaleByTraceState(trace)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def scale_by_trace(
    momentum: ScalarOrSchedule = 0.9,
    dampening: Scalar | None = None,
    *,
    nesterov: bool = False,
    mu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """PyTorch's momentum buffer (``torch.optim.SGD``):

    b_1 = g_1 (first step undampened),  b_t = μ b_{t−1} + (1−d) g_t;
    output g_t + μ b_t with ``nesterov=True``, else b_t.

    ``momentum`` may be a schedule ``count -> μ`` (PyTorch's ``OneCycleLR`` /
    ``CyclicLR`` with ``cycle_momentum``), evaluated at the updates already applied.
    A dampening (``None``: off) or a momentum schedule adds an int32 ``count``
    (:class:`jopt.ScaleByCountedTraceState`); otherwise the state is optax's
    ``trace`` layout (:class:`jopt.ScaleByTraceState`).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_trace(0.9, dampening=0.5)
    >>> state = tx.init(jnp.zeros(1))
    >>> u1, state = tx.update(jnp.array([1.0]), state)
    >>> u2, state = tx.update(jnp.array([1.0]), state)  # 0.9·1 + 0.5·1
    >>> u1, u2
    (Array([1.], dtype=float32), Array([1.4], dtype=float32))
    """
    call = "jopt.scale_by_trace"
    check_nonnegative(call, "momentum", momentum, schedule=True)
    _check_trace(call, momentum, dampening, nesterov, mu_dtype)
    return _scale_by_trace(call, momentum, dampening, nesterov, mu_dtype)


def sgd(
    learning_rate: ScalarOrSchedule,
    momentum: ScalarOrSchedule | None = None,
    *,
    dampening: Scalar | None = None,
    nesterov: bool = False,
    weight_decay: ScalarOrSchedule | None = None,
    maximize: bool = False,
    mu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Mini-batch SGD with PyTorch's exact semantics (``torch.optim.SGD``).

    g ← −g if maximize;  g ← g + λθ (coupled weight decay);
    with momentum μ: b_1 = g_1, b_t = μb_{t−1} + (1−d)g_t, g ← g + μb_t (Nesterov) or b_t;
    Δθ = −αg.

    ``momentum=None`` (or a Python/NumPy 0) with no decay is the deck's steepest
    descent and keeps no buffer; any JAX array momentum (vmap, inject_hyperparams)
    keeps one. ``momentum`` and ``weight_decay`` may also be schedules ``count -> value``.
    The deck's averaged momentum is :func:`jopt.momentum`.

    >>> import jax.numpy as jnp, optax, jopt
    >>> tx = jopt.sgd(0.1, momentum=0.9)
    >>> params = jnp.array([1.0])
    >>> state = tx.init(params)
    >>> for _ in range(2):
    ...     updates, state = tx.update(jnp.array([1.0]), state)
    ...     params = optax.apply_updates(params, updates)
    >>> params  # 1 − 0.1·1 − 0.1·(0.9 + 1)
    Array([0.71], dtype=float32)
    """
    call = "jopt.sgd"
    check_learning_rate(call, learning_rate)
    check_optional(call, "weight_decay", weight_decay, schedule=True)
    check_flag(call, "maximize", maximize)
    _check_trace(call, momentum, dampening, nesterov, mu_dtype)
    steps = maximize_and_decay(call, maximize, weight_decay)
    if requested(momentum):
        steps.append(_scale_by_trace(call, momentum, dampening, nesterov, mu_dtype))
    return chain(*steps, lr_step(call, learning_rate))
