"""NovoGrad (Ginsburg et al. 2019): a layer-wise second moment, the momentum over
normalized gradients."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._core.chain import chain
from jopt._core.checks import checked, flag, learning_rate, nonnegative, unit_interval
from jopt._core.dtypes import cast, compute_dtype, per_dtype, real_dtype, state_dtype, stored
from jopt._core.elementwise import abs_sq
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.layout import PerParam
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.moments import held, state_format, write
from jopt._core.state import (
    check_tree,
    check_update_params,
    evaluate,
    increment,
    moments_like,
    requested,
    scalar,
    zero_count,
)
from jopt.sharding._leafwise import map_leaves

RULES = dict(
    b1=unit_interval(schedule=True),
    b2=unit_interval(),
    eps=nonnegative(),
    eps_root=nonnegative(),
    weight_decay=nonnegative(schedule=True),
    mu_dtype=state_format(),
    grad_averaging=flag(),
)


class ScaleByNovogradState(NamedTuple):
    """NovoGrad's state (:func:`jopt.scale_by_novograd`), optax's layout.

    Args:
      count: int32, steps taken.
      mu: the momentum m.
      nu: v, one real scalar per leaf, the average of the leaf's squared norm ‖g‖²: a
        tuple in the order of ``jax.tree.leaves(params)`` (optax keeps a tree of scalars;
        a flat tuple is not mistaken for per-parameter arrays, and stays replicated on a
        mesh).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_novograd()
    >>> _, state = tx.update(jnp.array([3.0, 4.0]), tx.init(jnp.zeros(2)))
    >>> state.nu  # v_1 = ‖g_1‖²
    (Array(25., dtype=float32),)
    """

    count: jax.Array
    mu: PerParam
    nu: tuple[jax.Array, ...]


@checked(**RULES)
def scale_by_novograd(
    b1: ScalarOrSchedule = 0.95,
    b2: Scalar = 0.98,
    eps: Scalar = 1e-8,
    eps_root: Scalar = 0.0,
    weight_decay: ScalarOrSchedule = 0.0,
    mu_dtype: Any | None = None,
    *,
    grad_averaging: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """NovoGrad's direction m_t (see :func:`jopt.novograd`), per leaf (layer) l:

    v_1 = ‖g_1‖²,  v_t = β2 v_{t−1} + (1−β2)‖g_t‖²,
    d_t = g_t / (sqrt(v_t + ε_root) + ε) + λθ_t,
    m_1 = d_1,  m_t = β1 m_{t−1} + d_t  ((1−β1) d_t with ``grad_averaging``).

    Args:
      b1: β1 in [0, 1), or a schedule ``count -> β1``, the momentum's decay.
      b2: β2 in [0, 1), the decay of the layer's squared norm.
      eps: ε >= 0.
      eps_root: ε_root >= 0 under the root (optax's argument).
      weight_decay: λ >= 0, or a schedule ``count -> λ`` (``update`` then needs
        ``params``).
      mu_dtype: the dtype m is stored in.
      grad_averaging: weight d_t by 1 − β1 after the first step (the reference's option).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.ScaleByNovogradState`.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_novograd(eps=0.0)
    >>> tx.update(jnp.array([3.0, 4.0]), tx.init(jnp.zeros(2)))[0]  # g/‖g‖
    Array([0.6, 0.8], dtype=float32)
    """
    decays = requested(weight_decay)

    def init_fn(params):
        nu = tuple(scalar(p, 0.0, state_dtype(p, real=True)) for p in jax.tree.leaves(params))
        return ScaleByNovogradState(zero_count(params), moments_like(params, mu_dtype), nu)

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        if decays:
            check_update_params(updates, params, "(to decay them)", state.mu)
        else:
            check_tree(updates, state.mu)
        first = state.count == 0
        b1_now = evaluate(b1, state.count, "the b1 schedule")
        wd_now = evaluate(weight_decay, state.count, "the weight-decay schedule")

        @per_dtype  # scalars once per dtype, not per leaf
        def scalars(dt):
            rdt = real_dtype(dt)
            c1 = cast(b1_now, dt)
            rest = (1.0 - c1) if grad_averaging else jnp.ones((), dt)
            rest = jnp.where(first, jnp.ones((), dt), rest)
            c2 = cast(b2, rdt)
            return c1, rest, c2, cast(eps, rdt), cast(eps_root, rdt), cast(wd_now, dt)

        def step(g, m, v, p=None):
            dt = compute_dtype(g)
            c1, rest, c2, e, root, wd = scalars(dt)
            gw = g.astype(dt)
            norm_sq = jnp.sum(abs_sq(gw))
            v_new = jnp.where(first, norm_sq, c2 * v.astype(norm_sq.dtype) + (1.0 - c2) * norm_sq)
            d = gw / (jnp.sqrt(v_new + root) + e).astype(dt)
            if p is not None:
                d = d + wd * p.astype(dt)
            m = held(m, g, mu_dtype)
            m_new = stored(jnp.where(first, d, c1 * m.astype(dt) + rest * d), m.dtype)
            return m_new.astype(g.dtype), write(m_new, m), v_new.astype(v.dtype)

        nu_tree = jax.tree.unflatten(jax.tree.structure(updates), state.nu)
        trees = (state.mu, nu_tree, params) if decays else (state.mu, nu_tree)
        out, mu, nu = map_leaves(step, 3, updates, *trees)
        return out, ScaleByNovogradState(increment(state.count), mu, tuple(jax.tree.leaves(nu)))

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(learning_rate=learning_rate(), **RULES)
def novograd(
    learning_rate: ScalarOrSchedule = 1e-3,
    b1: ScalarOrSchedule = 0.95,
    b2: Scalar = 0.98,
    eps: Scalar = 1e-8,
    eps_root: Scalar = 0.0,
    weight_decay: ScalarOrSchedule = 0.0,
    mu_dtype: Any | None = None,
    *,
    grad_averaging: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """NovoGrad (Ginsburg et al. 2019, "Stochastic Gradient Methods with Layer-wise
    Adaptive Moments for Training of Deep Networks", Algorithm 1).

    v_t = β2 v_{t−1} + (1−β2)‖g_t‖² (per leaf; v_1 = ‖g_1‖²),
    m_t = β1 m_{t−1} + g_t/(sqrt(v_t) + ε) + λθ_t (m_1 without the β1 term),
    Δθ = −α m_t.

    ``chain(scale_by_novograd(...), scale_by_learning_rate(learning_rate))``, optax's
    arguments. Defaults are the reference package's (pytorch_optimizer's ``NovoGrad``:
    α = 1e-3, β = (0.95, 0.98), ε = 1e-8; the paper's β's); optax's are β = (0.9, 0.25),
    ε = 1e-6, the same formula (pass them to reproduce ``optax.novograd``). The decay λθ
    is added to the normalized gradient, inside the momentum (the paper's, the
    reference's default, optax's).

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.
      b1: β1 in [0, 1), or a schedule ``count -> β1``.
      b2: β2 in [0, 1).
      eps: ε >= 0.
      eps_root: ε_root >= 0.
      weight_decay: λ >= 0, or a schedule ``count -> λ``.
      mu_dtype: the dtype m is stored in.
      grad_averaging: the reference's option: (1 − β1) on the new term after step 1.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.novograd(0.5, eps=0.0)
    >>> tx.update(jnp.array([3.0, 4.0]), tx.init(jnp.zeros(2)))[0]  # −α g/‖g‖
    Array([-0.3, -0.4], dtype=float32)
    """
    return chain(
        scale_by_novograd(
            b1, b2, eps, eps_root, weight_decay, mu_dtype, grad_averaging=grad_averaging
        ),
        scale_by_learning_rate(learning_rate),
    )
