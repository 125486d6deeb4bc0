"""PyTorch's SGD: heavy-ball momentum with dampening, Nesterov, coupled weight decay."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._algorithms.regularization.weight_decay import optional_decay
from jopt._core.chain import chain
from jopt._core.checks import (
    UnnamedValueError,
    checked,
    closed_unit_interval,
    concrete_values,
    flag,
    learning_rate,
    nonnegative,
    optional,
)
from jopt._core.dtypes import cast, compute_dtype, per_dtype
from jopt._core.elementwise import ema
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.layout import PerParam
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.moments import held, state_format, write
from jopt._core.state import check_tree, evaluate, increment, moments_like, requested, zero_count
from jopt.sharding._leafwise import map_leaves


class ScaleByTraceState(NamedTuple):
    """PyTorch's momentum buffer without a count (optax's ``trace`` layout).

    Args:
      trace: the momentum buffer b.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_trace(0.9)
    >>> _, state = tx.update(jnp.array([1.0, -2.0]), tx.init(jnp.zeros(2)))
    >>> state  # b_1 = g_1
    ScaleByTraceState(trace=Array([ 1., -2.], dtype=float32))
    """

    trace: PerParam


class ScaleByCountedTraceState(NamedTuple):
    """The buffer with a count: dampening (whose first step differs, b_1 = g_1) or a
    momentum schedule (evaluated at the count) needs one.

    Args:
      count: int32, updates applied.
      trace: the buffer b.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_trace(0.9, dampening=0.5)
    >>> _, state = tx.update(jnp.array([1.0, -2.0]), tx.init(jnp.zeros(2)))
    >>> state.count, state.trace  # b_1 = g_1, undampened
    (Array(1, dtype=int32), Array([ 1., -2.], dtype=float32))
    """

    count: jax.Array
    trace: PerParam


TraceState = ScaleByTraceState | ScaleByCountedTraceState


def init_trace(params: Any, mu_dtype: Any | None, counted: bool) -> TraceState:
    """A new zero buffer b for ``params``, with a step count when ``counted`` (a
    momentum schedule or dampening reads one)."""
    trace = moments_like(params, mu_dtype)
    if counted:
        return ScaleByCountedTraceState(zero_count(params), trace)
    return ScaleByTraceState(trace)


def trace_momentum(momentum: ScalarOrSchedule, state: TraceState, updates: Any) -> Any:
    """Checks ``updates`` against ``state.trace``; returns μ for this update (a schedule
    evaluated at the updates already applied, which a schedule's state counts)."""
    check_tree(updates, state.trace)
    if isinstance(state, ScaleByCountedTraceState):
        return evaluate(momentum, state.count, "the momentum schedule")
    return momentum


def next_trace(state: TraceState, trace: Any) -> TraceState:
    """The state after an update that left the buffer ``trace``, its count advanced."""
    if isinstance(state, ScaleByCountedTraceState):
        return ScaleByCountedTraceState(increment(state.count), trace)
    return ScaleByTraceState(trace)


def nesterov_needs_momentum(arguments: Mapping[str, Any]) -> None:
    """PyTorch's rule, a relation of ``@checked``: Nesterov momentum needs a momentum > 0
    and no dampening (``arguments`` holds ``momentum``, ``dampening`` and ``nesterov``).

    A traced value or a schedule is not checked (its value is unknown here).

    >>> import jopt
    >>> jopt.sgd(0.1, momentum=0.9, dampening=0.1, nesterov=True)
    Traceback (most recent call last):
    ...
    ValueError: jopt.sgd: Nesterov momentum requires a momentum and zero dampening ...
    """
    if not arguments["nesterov"]:
        return
    momentum, dampening = arguments["momentum"], arguments["dampening"]
    m = None if momentum is None else concrete_values(momentum)
    d = None if dampening is None else concrete_values(dampening)
    if momentum is None or (m is not None and m <= 0) or (d is not None and d != 0):
        raise UnnamedValueError(
            f"Nesterov momentum requires a momentum and zero dampening "
            f"(got momentum={momentum!r}, dampening={dampening!r}); set momentum > 0 and "
            "dampening=0, or nesterov=False."
        )


@checked(
    nesterov_needs_momentum,
    momentum=nonnegative(schedule=True),
    dampening=optional(closed_unit_interval()),
    nesterov=flag(),
    mu_dtype=state_format(),
)
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

    A dampening (``None``: off) or a momentum schedule adds an int32 ``count``
    (:class:`jopt.ScaleByCountedTraceState`); otherwise the state is optax's
    ``trace`` layout (:class:`jopt.ScaleByTraceState`).

    Args:
      momentum: μ >= 0, or a schedule ``count -> μ`` (PyTorch's ``OneCycleLR`` /
        ``CyclicLR`` with ``cycle_momentum``), evaluated at the updates already applied.
      dampening: d in [0, 1], or ``None`` (off, PyTorch's 0).
      nesterov: output g_t + μ b_t (needs μ > 0 and no dampening, as PyTorch).
      mu_dtype: the dtype b is stored in (None: the dtype rule of :mod:`jopt`).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.ScaleByTraceState` or a :class:`jopt.ScaleByCountedTraceState`.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_trace(0.9, dampening=0.5)
    >>> state = tx.init(jnp.zeros(1))
    >>> u1, state = tx.update(jnp.array([1.0]), state)
    >>> u2, state = tx.update(jnp.array([1.0]), state)  # 0.9·1 + 0.5·1
    >>> u1, u2
    (Array([1.], dtype=float32), Array([1.4], dtype=float32))
    """
    # Without dampening b_1 = μ·0 + g_1 = g_1 from the zero buffer: no first-step case
    # and, for a constant momentum, no count (optax's layout).
    dampened = requested(dampening)
    counted = dampened or callable(momentum)

    def init_fn(params):
        return init_trace(params, mu_dtype, counted)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        mu_now = trace_momentum(momentum, state, updates)
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
            b = held(b, g, mu_dtype)
            dt = compute_dtype(g)
            mu, keep, damp = scalars(dt)
            gw = g.astype(dt)
            b_new = ema(keep, damp, b, gw)
            out = gw + mu * b_new if nesterov else b_new
            return out.astype(g.dtype), write(b_new, b)

        out, trace = map_leaves(step, 2, updates, state.trace, elementwise=True)
        return out, next_trace(state, trace)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(
    nesterov_needs_momentum,
    learning_rate=learning_rate(),
    momentum=optional(nonnegative(schedule=True)),
    dampening=optional(closed_unit_interval()),
    nesterov=flag(),
    weight_decay=optional(nonnegative(schedule=True)),
    maximize=flag(),
    mu_dtype=state_format(),
)
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

    ``chain(optax.scale(-1.0) if maximize, add_decayed_weights(λ) if asked,
    scale_by_trace(μ, d) if asked, scale_by_learning_rate(α))``.
    ``momentum=None`` (or a Python/NumPy 0) with no decay is the deck's steepest
    descent and keeps no buffer; any JAX array momentum (vmap, inject_hyperparams)
    keeps one. The deck's averaged momentum is :func:`jopt.momentum`.

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.
      momentum: μ >= 0, a schedule ``count -> μ``, or ``None`` (no buffer).
      dampening: d in [0, 1], or ``None`` (off).
      nesterov: Nesterov momentum (needs μ > 0 and no dampening).
      weight_decay: λ >= 0, a schedule ``count -> λ``, or ``None`` (off).
      maximize: climb the objective (g ← −g first).
      mu_dtype: the dtype the buffer is stored in.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

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
    steps: list[optax.GradientTransformation] = [optax.scale(-1.0)] if maximize else []
    steps += optional_decay(weight_decay)
    if requested(momentum):
        steps.append(scale_by_trace(momentum, dampening, nesterov=nesterov, mu_dtype=mu_dtype))
    return chain(*steps, scale_by_learning_rate(learning_rate))
