"""ADOPT (Taniguchi et al. 2024): Adam that normalizes the gradient by the previous
second moment, before the momentum."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jopt._algorithms.adam.adam import ScaleByAdamState, init_moments
from jopt._core.chain import chain
from jopt._core.checks import (
    checked,
    flag,
    function,
    learning_rate,
    nonnegative,
    optional,
    unit_interval,
)
from jopt._core.dtypes import cast, compute_dtype, per_dtype, real_dtype
from jopt._core.elementwise import abs_sq, ema
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.moments import held, state_format, write
from jopt._core.state import check_tree, evaluate, increment, zero_count
from jopt.sharding._leafwise import map_leaves

RULES = dict(
    b1=unit_interval(schedule=True),
    b2=unit_interval(),
    eps=nonnegative(),
    mu_dtype=state_format(),
    nesterov=flag(),
    use_clipping=flag(),
    clip_value_fn=optional(function("a function count -> clipping value")),
)


def reference_clip(count: jax.Array) -> jax.Array:
    """The reference's clipping value at step t = ``count`` + 1 (``count``: the updates
    already applied): t^(1/4), in the widest float."""
    return (count + 1).astype(jnp.result_type(float)) ** 0.25


@checked(**RULES)
def scale_by_adopt(
    b1: ScalarOrSchedule = 0.9,
    b2: Scalar = 0.9999,
    eps: Scalar = 1e-6,
    mu_dtype: Any | None = None,
    *,
    nesterov: bool = False,
    use_clipping: bool = True,
    clip_value_fn: Callable[[jax.Array], Any] | None = None,
) -> optax.GradientTransformationExtraArgs:
    """ADOPT's direction (see :func:`jopt.adopt`).

    Step 1: v_1 = g_1², no move (m stays 0). Step t > 1:
    ĝ_t = clip(g_t / max(sqrt(v_{t−1}), ε), ±c_t),  m_t = β1 m_{t−1} + (1−β1) ĝ_t,
    direction m_t (β1 m_t + (1−β1) ĝ_t with ``nesterov``),
    v_t = β2 v_{t−1} + (1−β2) g_t².

    Args:
      b1: β1 in [0, 1), or a schedule ``count -> β1``, the momentum's decay.
      b2: β2 in [0, 1), the second moment's decay.
      eps: ε >= 0, the floor of sqrt(v).
      mu_dtype: the dtype m is stored in (None: the dtype rule of :mod:`jopt`).
      nesterov: Nesterov's momentum (optax's option).
      use_clipping: clip ĝ to ±c_t.
      clip_value_fn: c as a function of the updates already applied, ``count -> c``
        (None: the reference's c_t = t^(1/4) at step t = count + 1; optax's default
        ``lambda count: count**0.25`` is one step behind it).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.ScaleByAdamState`.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_adopt(b1=0.5)
    >>> state = tx.init(jnp.zeros(2))
    >>> for g in ([2.0, -1.0], [1.0, 4.0]):  # step 1 records v = g²; step 2 moves
    ...     u, state = tx.update(jnp.array(g), state)
    >>> u  # (1 − β1)·clip(g_2/|g_1|, ±2^(1/4))
    Array([0.25     , 0.5946036], dtype=float32)
    """
    clip_fn = reference_clip if clip_value_fn is None else clip_value_fn

    def init_fn(params):
        mu, nu = init_moments(params, mu_dtype, None)
        return ScaleByAdamState(zero_count(params), mu, nu)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        check_tree(updates, state.mu)
        started = state.count > 0
        b1_now = evaluate(b1, state.count, "the b1 schedule")
        clip = clip_fn(state.count) if use_clipping else None

        @per_dtype  # scalars once per dtype, not per leaf
        def scalars(dt):
            rdt = real_dtype(dt)
            c1 = jnp.where(started, cast(b1_now, rdt), 1.0)
            c2 = jnp.where(started, cast(b2, rdt), 0.0)
            c = None if clip is None else cast(clip, rdt)
            return c1.astype(dt), (1.0 - c1).astype(dt), c2, 1.0 - c2, cast(eps, rdt), c

        def step(g, m, v):
            m = held(m, g, mu_dtype)
            dt = compute_dtype(g)
            c1, r1, c2, r2, e, c = scalars(dt)
            gw = g.astype(dt)
            v_old = v.astype(real_dtype(dt))
            normed = gw / jnp.maximum(jnp.sqrt(v_old), e).astype(dt)
            if c is not None:
                normed = jnp.clip(normed, -c, c)
            m_new = ema(c1, r1, m, normed)
            out = c1 * m_new + r1 * normed if nesterov else m_new
            v_new = (c2 * v_old + r2 * abs_sq(gw)).astype(v.dtype)
            return out.astype(g.dtype), write(m_new, m), v_new

        out, mu, nu = map_leaves(step, 3, updates, state.mu, state.nu, elementwise=True)
        return out, ScaleByAdamState(increment(state.count), mu, nu)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(learning_rate=learning_rate(), **RULES)
def adopt(
    learning_rate: ScalarOrSchedule = 1e-3,
    b1: ScalarOrSchedule = 0.9,
    b2: Scalar = 0.9999,
    eps: Scalar = 1e-6,
    mu_dtype: Any | None = None,
    *,
    nesterov: bool = False,
    use_clipping: bool = True,
    clip_value_fn: Callable[[jax.Array], Any] | None = None,
) -> optax.GradientTransformationExtraArgs:
    """ADOPT (Taniguchi et al. 2024, "ADOPT: Modified Adam Can Converge with Any β2 with
    the Optimal Rate"), with the clipping of the authors' code.

    v_1 = g_1² (no move at step 1);  for t > 1:
    m_t = β1 m_{t−1} + (1−β1) clip(g_t / max(sqrt(v_{t−1}), ε), ±t^(1/4)),
    Δθ = −α m_t,  v_t = β2 v_{t−1} + (1−β2) g_t².

    ``chain(scale_by_adopt(...), scale_by_learning_rate(learning_rate))``. Defaults are
    the paper's and the reference code's (the authors' ``ADOPT``, pytorch_optimizer's
    ``ADOPT``): α = 1e-3, β = (0.9, 0.9999), ε = 1e-6, clipping at t^(1/4) at step t.
    optax's ``adopt`` clips at (t − 1)^(1/4): pass
    ``clip_value_fn=lambda count: count.astype(float) ** 0.25`` to reproduce it.

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.
      b1: β1 in [0, 1), or a schedule ``count -> β1``.
      b2: β2 in [0, 1).
      eps: ε >= 0.
      mu_dtype: the dtype m is stored in.
      nesterov: Nesterov's momentum (optax's option).
      use_clipping: clip the normalized gradient.
      clip_value_fn: the clipping value as a function of the updates already applied.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.adopt(0.1)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # step 1 does not move
    Array([-0., -0.], dtype=float32)
    """
    return chain(
        scale_by_adopt(
            b1,
            b2,
            eps,
            mu_dtype,
            nesterov=nesterov,
            use_clipping=use_clipping,
            clip_value_fn=clip_value_fn,
        ),
        scale_by_learning_rate(learning_rate),
    )
