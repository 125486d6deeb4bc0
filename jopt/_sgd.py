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
    check_tree,
    compute_dtype,
    increment,
    map_leaves,
    per_dtype,
    scale_by_learning_rate,
    stored,
    zeros_like,
)
from jopt._validation import check_learning_rate, check_nesterov, check_nonnegative
from jopt._weight_decay import add_decayed_weights


class ScaleByTraceState(NamedTuple):
    trace: Any  # the buffer b


class ScaleByDampenedTraceState(NamedTuple):
    """With dampening the first step differs (b_1 = g_1, undampened): a count tells it."""

    count: jax.Array  # int32, updates applied
    trace: Any


def scale_by_trace(
    momentum: Scalar = 0.9,
    dampening: Scalar = 0.0,
    *,
    nesterov: bool = False,
    mu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """PyTorch's momentum buffer (``torch.optim.SGD``):

    b_1 = g_1 (first step undampened),  b_t = μ b_{t−1} + (1−d) g_t;
    output g_t + μ b_t with ``nesterov=True``, else b_t.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_trace(0.9, dampening=0.5)
    >>> state = tx.init(jnp.zeros(1))
    >>> u1, state = tx.update(jnp.array([1.0]), state)
    >>> u2, state = tx.update(jnp.array([1.0]), state)  # 0.9·1 + 0.5·1
    >>> u1, u2
    (Array([1.], dtype=float32), Array([1.4], dtype=float32))
    """
    call = "jopt.scale_by_trace"
    check_nonnegative(call, "momentum", momentum)
    check_nesterov(call, momentum, dampening, nesterov)

    # Without dampening b_1 = μ·0 + g_1 = g_1 from the zero buffer: no first-step case
    # and no count (optax's layout); decided on the Python value, as init must agree.
    undamped = _is_python_zero(dampening)

    def init_fn(params):
        trace = zeros_like(params, mu_dtype)
        if undamped:
            return ScaleByTraceState(trace)
        return ScaleByDampenedTraceState(jnp.zeros([], jnp.int32), trace)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        check_tree(call, updates, state.trace)
        first = None if undamped else state.count == 0

        @per_dtype  # scalars once per dtype, not per leaf
        def scalars(dt):
            mu, d = cast(momentum, dt), cast(dampening, dt)
            if undamped:
                return mu, mu, None
            # The first step fills the (zero) buffer with g undampened: select the two
            # scalars rather than every element.
            keep = jnp.where(first, jnp.zeros((), dt), mu)
            return mu, keep, jnp.where(first, jnp.ones((), dt), 1.0 - d)

        def step(g, b):
            dt = compute_dtype(g)
            mu, keep, damp = scalars(dt)
            g32 = g.astype(dt)
            b_new = stored(keep * b.astype(dt) + (g32 if damp is None else damp * g32), b.dtype)
            out = g32 + mu * b_new if nesterov else b_new
            return out.astype(g.dtype), b_new.astype(b.dtype)

        out, trace = map_leaves(step, 2, updates, state.trace)
        if undamped:
            return out, ScaleByTraceState(trace)
        return out, ScaleByDampenedTraceState(increment(state.count), trace)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def _is_python_zero(x: Any) -> bool:
    # Structure is decided on Python values only: an array (even a concrete 0) may be
    # traced elsewhere (inject_hyperparams, vmap), and init and update must agree.
    return isinstance(x, (int, float)) and x == 0


def sgd(
    learning_rate: ScalarOrSchedule,
    momentum: Scalar = 0.0,
    *,
    dampening: Scalar = 0.0,
    nesterov: bool = False,
    weight_decay: Scalar = 0.0,
    maximize: bool = False,
    mu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Mini-batch SGD with PyTorch's exact semantics (``torch.optim.SGD``).

    g ← −g if maximize;  g ← g + λθ (coupled weight decay);
    with momentum μ: b_1 = g_1, b_t = μb_{t−1} + (1−d)g_t, g ← g + μb_t (Nesterov) or b_t;
    Δθ = −αg.

    ``momentum=0`` with no decay is the deck's steepest descent; the deck's EMA
    momentum is :func:`jopt.momentum`. A momentum given as a Python 0 keeps no buffer;
    an array momentum (vmap, inject_hyperparams) always keeps one.

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
    check_nonnegative(call, "momentum", momentum)
    check_nonnegative(call, "weight_decay", weight_decay)
    check_nesterov(call, momentum, dampening, nesterov)
    steps = []
    if maximize:
        steps.append(optax.scale(-1.0))
    if not _is_python_zero(weight_decay):
        steps.append(add_decayed_weights(weight_decay))
    if not _is_python_zero(momentum):
        steps.append(scale_by_trace(momentum, dampening, nesterov=nesterov, mu_dtype=mu_dtype))
    steps.append(scale_by_learning_rate(learning_rate))
    return optax.chain(*steps)
