"""Mechanic (Cutkosky, Defazio & Mehta 2023): a learned scale for any optimizer's steps."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._algorithms.parameter_free._tree import (
    copy_params,
    sq_norm,
    tree_dtype,
    vdot,
    wide_dtype,
)
from jopt._core.checks import (
    checked,
    flag,
    integer,
    nonnegative,
    positive,
    transformation,
)
from jopt._core.dtypes import cast
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.layout import PerParam
from jopt._core.state import check_update_params, evaluate, increment, scalar, zero_count
from jopt.sharding._leafwise import map_leaves


class MechanicState(NamedTuple):
    """Mechanic's state (:func:`jopt.mechanize`), optax.contrib's fields.

    Args:
      base_optimizer_state: the wrapped optimizer's state.
      count: int32, steps taken.
      r: the rewards, one per β (shape (n,)).
      m: the running max of |h|, one per β.
      v: the discounted sum of h², one per β.
      s: the scales; the step is Σ s times the wrapped optimizer's.
      x0: x_ref, the reference point (the parameters at the first update).

    >>> import jax.numpy as jnp, jopt
    >>> jopt.mechanize(jopt.sgd(1.0), num_betas=3).init(jnp.zeros(2)).s
    Array([1.e-08, 1.e-08, 1.e-08], dtype=float32)
    """

    base_optimizer_state: Any
    count: jax.Array
    r: jax.Array
    m: jax.Array
    v: jax.Array
    s: jax.Array
    x0: PerParam


@checked(
    base_optimizer=transformation("jopt.adam(1.0)"),
    weight_decay=nonnegative(schedule=True),
    eps=positive(),
    s_init=positive(),
    num_betas=integer(1, 16),
    clip_reward=flag(),
)
def mechanize(
    base_optimizer: optax.GradientTransformation,
    weight_decay: ScalarOrSchedule = 1e-2,
    eps: Scalar = 1e-8,
    s_init: Scalar = 1e-8,
    num_betas: int = 6,
    *,
    clip_reward: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """Mechanic (Cutkosky, Defazio & Mehta 2023, "Mechanic: A Learning Rate Tuner"): learns
    the scale of ``base_optimizer``'s steps. With u_t the wrapped optimizer's update,
    β_i = 1 − 10^−i (i = 1..n), S = Σ_i s_{t,i}:

    Δ_t = (x_ref − x_t) / (S + ε),  Δ_{t+1} = Δ_t − u_t,
    h_t = ⟨g_t + λ S ‖g_t‖ / (‖x_t‖ + ε) · x_t, Δ_t⟩,
    m_t = max(β m_{t−1}, |h_t| + ε),  v_t = β² v_{t−1} + h_t²,
    r_t = β r_{t−1} + h_t s_t,  W_t = (s_init / n) m_t + max(r_t, 0),
    s_{t+1} = W_t / (sqrt(v_t) + ε),  x_{t+1} = x_ref − Σ_i s_{t+1,i} Δ_{t+1}

    (elementwise over the n betas; the wrapped optimizer sees the raw g_t). This is the
    authors' JAX implementation (google-research's ``mechanic``, by H. Mehta) with the
    paper's defaults s_init = 1e-8, ε = 1e-8, λ = 1e-2, six betas; x_ref is the parameters
    at the first update. optax.contrib.mechanize clips h_t to [−m_{t−1}, m_{t−1}] in the
    reward (``clip_reward=True``) and defaults to s_init = 1e-6. Give the wrapped
    optimizer a base learning rate of 1 (or a schedule peaking at 1): Mechanic learns the
    scale. ``update`` needs ``params``; extra arguments go to the wrapped optimizer.

    Args:
      base_optimizer: the optimizer whose steps are scaled.
      weight_decay: λ >= 0 (Mechanic's own, not the wrapped optimizer's), or a schedule.
      eps: ε > 0 (the first step divides by it).
      s_init: s_init > 0, the first scale of each β (the paper's 1e-8).
      num_betas: n in [1, 16].
      clip_reward: optax's reward r_t = β r_{t−1} + clip(h_t, ±m_{t−1}) s_t.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.MechanicState`.

    >>> import jax.numpy as jnp, jopt
    >>> tx, x = jopt.mechanize(jopt.sgd(1.0)), jnp.zeros(2)
    >>> tx.update(jnp.array([0.5, -1.0]), tx.init(x), x)[0]  # Σ s_1 = s_init: s_init·u_1
    Array([-5.e-09,  1.e-08], dtype=float32)
    """
    base_optimizer = optax.with_extra_args_support(base_optimizer)

    def init_fn(params):
        dt = tree_dtype(params)
        return MechanicState(
            base_optimizer_state=base_optimizer.init(params),
            count=zero_count(params),
            r=scalar(params, jnp.zeros(num_betas, dt), dt),
            m=scalar(params, jnp.zeros(num_betas, dt), dt),
            v=scalar(params, jnp.zeros(num_betas, dt), dt),
            s=scalar(params, jnp.full(num_betas, cast(s_init, dt)), dt),
            x0=copy_params(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        check_update_params(updates, params, "(Mechanic steps from x_ref)", state.x0)
        inner, base_state = base_optimizer.update(
            updates, state.base_optimizer_state, params, **extra_args
        )
        dt = state.s.dtype
        first = state.count == 0
        (x0,) = map_leaves(
            lambda p, r: (jnp.where(first, p.astype(r.dtype), r),), 1, params, state.x0
        )
        lam = cast(evaluate(weight_decay, state.count, "the weight_decay schedule"), dt)
        e, total = cast(eps, dt), jnp.sum(state.s)
        pull = lam * total * jnp.sqrt(sq_norm(updates, dt)) / (jnp.sqrt(sq_norm(params, dt)) + e)

        def moved(p, r):  # Δ_t, in the compute dtype
            cdt = wide_dtype(p, dt)
            return ((r.astype(cdt) - p.astype(cdt)) / (total + e).astype(cdt),)

        (delta,) = map_leaves(moved, 1, params, x0)
        h = vdot(updates, delta, dt) + pull * vdot(params, delta, dt)
        betas = 1 - jnp.asarray([10.0**-i for i in range(1, num_betas + 1)], dt)
        m = jnp.maximum(betas * state.m, jnp.abs(h) + e)
        v = betas**2 * state.v + h**2
        reward = jnp.clip(h, -state.m, state.m) if clip_reward else h
        r = betas * state.r + reward * state.s
        wealth = cast(s_init, dt) / num_betas * m + jnp.maximum(r, 0.0)
        s = wealth / (jnp.sqrt(v) + e)
        scale = jnp.sum(s)

        def step(g, p, r, d, u):
            cdt = wide_dtype(g, dt)
            target = r.astype(cdt) - scale.astype(cdt) * (d - u.astype(cdt))  # x_{t+1}
            return ((target - p.astype(cdt)).astype(g.dtype),)

        (out,) = map_leaves(step, 1, updates, params, x0, delta, inner)
        return out, MechanicState(base_state, increment(state.count), r, m, v, s, x0)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
