"""AdEMAMix (Pagliardini et al. 2024): Adam with a second, slow momentum, and its
simplified form (Morwani et al. 2025) with one momentum that sums the gradients."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._algorithms.adam.adam import init_moments
from jopt._algorithms.regularization.weight_decay import MASK, add_decayed_weights
from jopt._core.chain import chain
from jopt._core.checks import (
    checked,
    learning_rate,
    nonnegative,
    optional,
    positive,
    unit_interval,
)
from jopt._core.dtypes import cast, compute_dtype, per_dtype, real_dtype
from jopt._core.elementwise import abs_sq, ema
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.layout import PerParam
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.moments import held, state_format, write
from jopt._core.state import check_tree, evaluate, increment, moments_like, zero_count
from jopt.sharding._leafwise import map_leaves

RULES = dict(
    b1=unit_interval(schedule=True),
    b2=unit_interval(),
    b3=unit_interval(schedule=True),
    alpha=nonnegative(schedule=True),
    eps=nonnegative(),
    eps_root=nonnegative(),
    mu_dtype=state_format(),
    t_alpha_beta3=optional(positive()),
)


class ScaleByAdemamixState(NamedTuple):
    """AdEMAMix's state (:func:`jopt.scale_by_ademamix`), optax's layout.

    Args:
      count: int32, steps taken.
      count_m2: int32, steps taken by the slow momentum (the schedules' argument).
      m1: the fast momentum (decay β1).
      m2: the slow momentum (decay β3).
      nu: the second moment (real).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_ademamix(b3=0.75)
    >>> _, state = tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))
    >>> state.m2  # (1 − β3)g
    Array([0.5], dtype=float32)
    """

    count: jax.Array
    count_m2: jax.Array
    m1: PerParam
    m2: PerParam
    nu: PerParam


def _warmup(b1: Any, b3: Any, alpha: Any, t_alpha_beta3: Any, count: jax.Array) -> tuple[Any, Any]:
    """The paper's schedulers at step t = count + 1 (T = ``t_alpha_beta3``):
    α_t = min(tα/T, α), β3_t = min(exp(ln β1 ln β3 / ((1 − t/T) ln β3 + (t/T) ln β1)), β3),
    in the widest float (the reference's Python floats)."""
    wide = jnp.result_type(float)
    r = (count + 1).astype(wide) / cast(t_alpha_beta3, wide)
    a, c1, c3 = cast(alpha, wide), cast(b1, wide), cast(b3, wide)
    alpha_t = jnp.minimum(r * a, a)
    l1, l3 = jnp.log(c1), jnp.log(c3)
    b3_t = jnp.minimum(jnp.exp(l1 * l3 / ((1.0 - r) * l3 + r * l1)), c3)
    return b3_t, alpha_t


@checked(**RULES)
def scale_by_ademamix(
    b1: ScalarOrSchedule = 0.9,
    b2: Scalar = 0.999,
    b3: ScalarOrSchedule = 0.9999,
    alpha: ScalarOrSchedule = 5.0,
    eps: Scalar = 1e-8,
    eps_root: Scalar = 0.0,
    mu_dtype: Any | None = None,
    *,
    t_alpha_beta3: Scalar | None = None,
) -> optax.GradientTransformationExtraArgs:
    """AdEMAMix's direction (m̂1_t + α m2_t) / (sqrt(v̂_t + ε_root) + ε) (see
    :func:`jopt.ademamix`).

    m1_t = β1 m1_{t−1} + (1−β1) g_t,  m2_t = β3 m2_{t−1} + (1−β3) g_t (not bias-corrected),
    v_t = β2 v_{t−1} + (1−β2) g_t²,  m̂1_t = m1_t/(1−β1^t),  v̂_t = v_t/(1−β2^t).

    Args:
      b1: β1 in [0, 1), or a schedule ``count -> β1``, the fast momentum's decay.
      b2: β2 in [0, 1), the second moment's decay.
      b3: β3 in [0, 1), the slow momentum's decay, or a schedule ``count -> β3`` of
        ``count_m2`` (optax's convention).
      alpha: α >= 0, the slow momentum's weight, or a schedule ``count -> α``.
      eps: ε >= 0.
      eps_root: ε_root >= 0 under the root (optax's argument).
      mu_dtype: the dtype m1 and m2 are stored in.
      t_alpha_beta3: T > 0: the paper's warm-up of α and β3 over T steps (the
        reference's ``t_alpha_beta3``), applied to the values of ``alpha`` and ``b3``;
        None: none.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.ScaleByAdemamixState`.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_ademamix(alpha=0.0, eps=0.0)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # α = 0: Adam
    Array([ 1., -1.], dtype=float32)
    """

    def init_fn(params):
        m1 = moments_like(params, mu_dtype)
        m2 = moments_like(params, mu_dtype)
        nu = moments_like(params, real=True, signed=False)
        return ScaleByAdemamixState(zero_count(params), zero_count(params), m1, m2, nu)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        check_tree(updates, state.m1)
        count = increment(state.count)
        b1_now = evaluate(b1, state.count, "the b1 schedule")
        b3_now = evaluate(b3, state.count_m2, "the b3 schedule")
        alpha_now = evaluate(alpha, state.count_m2, "the alpha schedule")
        if t_alpha_beta3 is not None:
            b3_now, alpha_now = _warmup(b1_now, b3_now, alpha_now, t_alpha_beta3, state.count_m2)

        @per_dtype  # scalars once per dtype, not per leaf
        def scalars(dt):
            rdt = real_dtype(dt)
            t = count.astype(rdt)
            c1, c2, c3 = cast(b1_now, rdt), cast(b2, rdt), cast(b3_now, rdt)
            return (
                *(c1.astype(dt), (1.0 - c1).astype(dt), (1.0 - c1**t).astype(dt)),
                *(c2, 1.0 - c2, 1.0 - c2**t),
                *(c3.astype(dt), (1.0 - c3).astype(dt), cast(alpha_now, dt)),
                cast(eps, rdt),
                cast(eps_root, rdt),
            )

        def step(g, m1, m2, v):
            m1, m2 = held(m1, g, mu_dtype), held(m2, g, mu_dtype)
            dt = compute_dtype(g)
            c1, r1, bias1, c2, r2, bias2, c3, r3, a, e, root = scalars(dt)
            gw = g.astype(dt)
            m1_new = ema(c1, r1, m1, gw)
            m2_new = ema(c3, r3, m2, gw)
            v_new = ema(c2, r2, v, abs_sq(gw))
            denom = jnp.sqrt(v_new / bias2 + root) + e
            out = (m1_new / bias1 + a * m2_new) / denom.astype(dt)
            return out.astype(g.dtype), write(m1_new, m1), write(m2_new, m2), v_new.astype(v.dtype)

        out, m1, m2, nu = map_leaves(
            step, 4, updates, state.m1, state.m2, state.nu, elementwise=True
        )
        return out, ScaleByAdemamixState(count, increment(state.count_m2), m1, m2, nu)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(
    learning_rate=learning_rate(),
    **{k: v for k, v in RULES.items() if k != "t_alpha_beta3"},
    weight_decay=nonnegative(schedule=True),
    mask=MASK,
    t_alpha_beta3=optional(positive()),
)
def ademamix(
    learning_rate: ScalarOrSchedule = 1e-3,
    b1: ScalarOrSchedule = 0.9,
    b2: Scalar = 0.999,
    b3: ScalarOrSchedule = 0.9999,
    alpha: ScalarOrSchedule = 5.0,
    eps: Scalar = 1e-8,
    eps_root: Scalar = 0.0,
    mu_dtype: Any | None = None,
    weight_decay: ScalarOrSchedule = 0.0,
    mask: Any | None = None,
    *,
    t_alpha_beta3: Scalar | None = None,
) -> optax.GradientTransformationExtraArgs:
    """AdEMAMix (Pagliardini et al. 2024, "The AdEMAMix Optimizer: Better, Faster, Older").

    Δθ = −α_lr ((m̂1_t + α m2_t) / (sqrt(v̂_t) + ε) + λθ)  (:func:`jopt.scale_by_ademamix`).

    ``chain(scale_by_ademamix(...), add_decayed_weights(λ, mask),
    scale_by_learning_rate(learning_rate))``, optax's arguments. Defaults are the paper's
    and the reference package's (pytorch_optimizer's ``AdEMAMix``): α_lr = 1e-3,
    β = (0.9, 0.999, 0.9999), α = 5, ε = 1e-8, no warm-up unless ``t_alpha_beta3``; they
    are optax's too (whose ``scale_by_ademamix`` alone defaults to α = 6). The decay is
    decoupled, as the paper's AdamW-style decay and optax's (pytorch_optimizer defaults
    to an L2 penalty, ``weight_decouple=False``).

    Args:
      learning_rate: α_lr >= 0, or a schedule ``count -> α_lr``.
      b1: β1 in [0, 1), or a schedule ``count -> β1``.
      b2: β2 in [0, 1).
      b3: β3 in [0, 1), or a schedule.
      alpha: α >= 0, or a schedule.
      eps: ε >= 0.
      eps_root: ε_root >= 0.
      mu_dtype: the dtype m1 and m2 are stored in.
      weight_decay: λ >= 0, or a schedule.
      mask: a pytree of bools, or a function ``params -> pytree``, picking the leaves
        that decay.
      t_alpha_beta3: T > 0, the paper's warm-up of α and β3 over T steps; None: none.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.ademamix(0.1, alpha=0.0, eps=0.0)
    >>> params = jnp.zeros(2)  # the decay step reads them (as optax's)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(params), params)[0]  # first step: −α_lr·sign(g)
    Array([-0.1,  0.1], dtype=float32)
    """
    return chain(
        scale_by_ademamix(b1, b2, b3, alpha, eps, eps_root, mu_dtype, t_alpha_beta3=t_alpha_beta3),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


class ScaleBySimplifiedAdEMAMixState(NamedTuple):
    """Simplified AdEMAMix's state (:func:`jopt.scale_by_simplified_ademamix`), optax's
    layout.

    Args:
      t: int32, steps taken.
      m: the momentum, a discounted sum of the gradients.
      n: the second moment (real).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_simplified_ademamix(b1=0.5)
    >>> state = tx.init(jnp.zeros(1))
    >>> for g in (2.0, 2.0):
    ...     _, state = tx.update(jnp.array([g]), state)
    >>> state.m  # β1·g + g: a sum, not an average
    Array([3.], dtype=float32)
    """

    t: jax.Array
    m: PerParam
    n: PerParam


@checked(
    b1=unit_interval(schedule=True),
    b2=unit_interval(),
    alpha=nonnegative(schedule=True),
    eps=nonnegative(),
    eps_root=nonnegative(),
    mu_dtype=state_format(),
    nu_dtype=state_format(),
)
def scale_by_simplified_ademamix(
    b1: ScalarOrSchedule = 0.99,
    b2: Scalar = 0.95,
    alpha: ScalarOrSchedule = 0.0,
    eps: Scalar = 1e-8,
    eps_root: Scalar = 0.0,
    *,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Simplified AdEMAMix's direction (m_t + α g_t) / (sqrt(v̂_t + ε_root) + ε) (see
    :func:`jopt.simplified_ademamix`).

    m_t = β1 m_{t−1} + g_t (a sum: no 1 − β1),  v_t = β2 v_{t−1} + (1−β2) g_t²,
    v̂_t = v_t/(1−β2^t).

    Args:
      b1: β1 in [0, 1), or a schedule ``count -> β1``, the momentum's decay.
      b2: β2 in [0, 1), the second moment's decay.
      alpha: α >= 0, the weight of the current gradient, or a schedule ``count -> α``.
      eps: ε >= 0.
      eps_root: ε_root >= 0 under the root.
      mu_dtype: the dtype m is stored in.
      nu_dtype: the dtype v is stored in.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.ScaleBySimplifiedAdEMAMixState`.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_simplified_ademamix(alpha=1.0, eps=0.0)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]  # (g + g)/|g|
    Array([ 2., -2.], dtype=float32)
    """

    def init_fn(params):
        mu, nu = init_moments(params, mu_dtype, nu_dtype)
        return ScaleBySimplifiedAdEMAMixState(zero_count(params), mu, nu)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        check_tree(updates, state.m)
        t = increment(state.t)
        alpha_now = evaluate(alpha, state.t, "the alpha schedule")
        b1_now = evaluate(b1, state.t, "the b1 schedule")

        @per_dtype  # scalars once per dtype, not per leaf
        def scalars(dt):
            rdt = real_dtype(dt)
            c1, c2 = cast(b1_now, dt), cast(b2, rdt)
            bias2 = 1.0 - c2 ** t.astype(rdt)
            return c1, c2, 1.0 - c2, bias2, cast(alpha_now, dt), cast(eps, rdt), cast(eps_root, rdt)

        def step(g, m, v):
            m, v = held(m, g, mu_dtype), held(v, g, nu_dtype, signed=False)
            dt = compute_dtype(g)
            c1, c2, r2, bias2, a, e, root = scalars(dt)
            gw = g.astype(dt)
            m_new = ema(c1, None, m, gw)
            v_new = ema(c2, r2, v, abs_sq(gw))
            denom = jnp.sqrt(v_new / bias2 + root) + e
            out = (m_new + a * gw) / denom.astype(dt)
            return out.astype(g.dtype), write(m_new, m), write(v_new, v)

        out, m, n = map_leaves(step, 3, updates, state.m, state.n, elementwise=True)
        return out, ScaleBySimplifiedAdEMAMixState(t, m, n)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(
    learning_rate=learning_rate(),
    b1=unit_interval(schedule=True),
    b2=unit_interval(),
    alpha=nonnegative(schedule=True),
    eps=nonnegative(),
    eps_root=nonnegative(),
    weight_decay=nonnegative(schedule=True),
    mask=MASK,
    mu_dtype=state_format(),
    nu_dtype=state_format(),
)
def simplified_ademamix(
    learning_rate: ScalarOrSchedule = 1e-4,
    b1: ScalarOrSchedule = 0.99,
    b2: Scalar = 0.95,
    alpha: ScalarOrSchedule = 0.0,
    eps: Scalar = 1e-8,
    eps_root: Scalar = 0.0,
    weight_decay: ScalarOrSchedule = 0.0,
    mask: Any | None = None,
    *,
    mu_dtype: Any | None = None,
    nu_dtype: Any | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Simplified AdEMAMix (Morwani et al. 2025, "Connections between Schedule-Free
    Optimizers, AdEMAMix, and Accelerated SGD Variants", Algorithm 1).

    m_t = β1 m_{t−1} + g_t,  v_t = β2 v_{t−1} + (1−β2) g_t²,
    Δθ = −α_lr ((m_t + α g_t) / (sqrt(v̂_t) + ε) + λθ).

    ``chain(scale_by_simplified_ademamix(...), add_decayed_weights(λ, mask),
    scale_by_learning_rate(learning_rate))``: the paper's update, and optax's
    ``contrib.simplified_ademamix`` step for step (same arguments and defaults, α_lr =
    1e-4 the reference package's). pytorch_optimizer's ``SimplifiedAdEMAMix`` is another
    rule (an average (1−β1) g for m, and the bias correction applied as a division by
    sqrt(1−β2^t) instead of a multiplication), so it is not the reference here.

    Args:
      learning_rate: α_lr >= 0, or a schedule ``count -> α_lr``.
      b1: β1 in [0, 1), or a schedule ``count -> β1``.
      b2: β2 in [0, 1).
      alpha: α >= 0, or a schedule.
      eps: ε >= 0.
      eps_root: ε_root >= 0.
      weight_decay: λ >= 0, or a schedule.
      mask: a pytree of bools, or a function ``params -> pytree``, picking the leaves
        that decay.
      mu_dtype: the dtype m is stored in.
      nu_dtype: the dtype v is stored in.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.simplified_ademamix(0.1, eps=0.0)
    >>> params = jnp.zeros(2)  # the decay step reads them (as optax's)
    >>> tx.update(jnp.array([0.5, -2.0]), tx.init(params), params)[0]  # first step: −α_lr·sign(g)
    Array([-0.1,  0.1], dtype=float32)
    """
    return chain(
        scale_by_simplified_ademamix(
            b1, b2, alpha, eps, eps_root, mu_dtype=mu_dtype, nu_dtype=nu_dtype
        ),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )
