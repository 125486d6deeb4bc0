"""LARS (You et al. 2017): SGD with a layer-wise trust ratio η‖θ‖/(‖g‖ + λ‖θ‖)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from jopt._algorithms.regularization.weight_decay import MASK, AddDecayedWeightsState
from jopt._algorithms.sgd.sgd import nesterov_needs_momentum, scale_by_trace
from jopt._core.chain import chain
from jopt._core.checks import checked, flag, learning_rate, nonnegative
from jopt._core.dtypes import cast, compute_dtype, per_dtype
from jopt._core.elementwise import abs_sq
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.state import check_update_params, evaluate, increment, zero_count

RULES = dict(
    weight_decay=nonnegative(schedule=True),
    trust_coefficient=nonnegative(),
    eps=nonnegative(),
    weight_decay_mask=MASK,
    trust_ratio_mask=MASK,
    decayed_norm=flag(),
)


def leaf_mask(mask: Any, params: Any) -> list[bool]:
    """One bool per leaf of ``params``: ``None`` picks the leaves with more than one axis
    (pytorch_optimizer's rule for LARS: biases and scalars take plain SGD), ``True`` or
    ``False`` every leaf or none; a tree of bools (a prefix of ``params``) or a function
    ``params -> tree`` as ``optax.masked`` reads it."""
    if mask is None:
        return [jnp.ndim(p) > 1 for p in jax.tree.leaves(params)]
    if callable(mask):
        mask = mask(params)
    spread = jax.tree.map(lambda m, sub: jax.tree.map(lambda _: bool(m), sub), mask, params)
    return [bool(m) for m in jax.tree.leaves(spread)]


@checked(**RULES)
def scale_by_lars(
    weight_decay: ScalarOrSchedule = 0.0,
    trust_coefficient: Scalar = 1e-3,
    eps: Scalar = 0.0,
    *,
    weight_decay_mask: Any | None = None,
    trust_ratio_mask: Any | None = None,
    decayed_norm: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """LARS' scaled gradient, per leaf: u = r (g + λθ) with the trust ratio

    r = η‖θ‖ / (‖g‖ + λ‖θ‖ + ε)           (the paper, pytorch_optimizer: the default)
    r = η‖θ‖ / (‖g + λθ‖ + ε)             (optax: ``decayed_norm=True``)

    r = 1 where ‖θ‖ or the norm in the denominator is 0. λθ is added on the leaves of
    ``weight_decay_mask``, r applied on those of ``trust_ratio_mask``; both default to the
    leaves with more than one axis (pytorch_optimizer's LARS: biases and scalars take the
    plain gradient). Stateless.

    Args:
      weight_decay: λ >= 0, or a schedule ``count -> λ`` (then the state is an int32
        count, :class:`jopt.AddDecayedWeightsState`; otherwise empty).
      trust_coefficient: η >= 0.
      eps: ε >= 0, added to the denominator (optax's; 0 in the paper).
      weight_decay_mask: ``None`` (leaves with ndim > 1), ``True`` (all, optax's
        default), or a tree of bools or a function ``params -> tree``.
      trust_ratio_mask: the same, for the leaves r scales.
      decayed_norm: the denominator is ‖g + λθ‖ (optax) instead of ‖g‖ + λ‖θ‖.

    Returns:
      An ``optax.GradientTransformationExtraArgs``, stateless for a constant λ;
      ``update`` needs ``params``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_lars(trust_coefficient=0.1)
    >>> params = jnp.full((2, 2), 2.0)  # ‖θ‖ = 4
    >>> tx.update(jnp.full((2, 2), 1.0), tx.init(params), params)[0]  # 0.1·4/2 · g
    Array([[0.2, 0.2],
           [0.2, 0.2]], dtype=float32)
    """

    scheduled = callable(weight_decay)

    def init_fn(params):
        return AddDecayedWeightsState(zero_count(params)) if scheduled else optax.EmptyState()

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        check_update_params(updates, params, "(the trust ratio reads their norm)")
        decays = leaf_mask(weight_decay_mask, params)
        trusts = leaf_mask(trust_ratio_mask, params)
        wd_now = (
            evaluate(weight_decay, state.count, "the weight-decay schedule")
            if scheduled
            else weight_decay
        )

        @per_dtype
        def scalars(dt):
            return cast(wd_now, dt), cast(trust_coefficient, dt), cast(eps, dt)

        def scale(g, p, decay, trust):
            dt = compute_dtype(g)
            rdt = jnp.finfo(dt).dtype
            wd, tc, ep = scalars(rdt)
            gw, pw = g.astype(dt), p.astype(dt)
            u = gw + wd.astype(dt) * pw if decay else gw
            if not trust:
                return u.astype(g.dtype)
            p_norm = jnp.sqrt(jnp.sum(abs_sq(pw)))
            if decayed_norm:
                base = jnp.sqrt(jnp.sum(abs_sq(u)))
            else:
                base = jnp.sqrt(jnp.sum(abs_sq(gw)))
                if decay:
                    base = base + wd * p_norm
            safe = (p_norm > 0) & (base > 0)
            ratio = jnp.where(safe, tc * p_norm / jnp.where(safe, base + ep, 1.0), 1.0)
            return (u * ratio.astype(dt)).astype(g.dtype)

        leaves, treedef = jax.tree.flatten(updates)
        flat = treedef.flatten_up_to(params)
        out = [scale(*a) for a in zip(leaves, flat, decays, trusts, strict=True)]
        new_state = AddDecayedWeightsState(increment(state.count)) if scheduled else state
        return jax.tree.unflatten(treedef, out), new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def _nesterov_needs_momentum(arguments: Any) -> None:
    """PyTorch's rule for Nesterov momentum (a μ > 0), a relation of ``@checked``."""
    nesterov_needs_momentum({**arguments, "dampening": None})


@checked(
    _nesterov_needs_momentum,
    learning_rate=learning_rate(),
    **RULES,
    momentum=nonnegative(),
    nesterov=flag(),
)
def lars(
    learning_rate: ScalarOrSchedule = 1e-3,
    weight_decay: ScalarOrSchedule = 0.0,
    weight_decay_mask: Any | None = None,
    trust_coefficient: Scalar = 1e-3,
    eps: Scalar = 0.0,
    trust_ratio_mask: Any | None = None,
    momentum: Scalar = 0.9,
    nesterov: bool = False,
    *,
    decayed_norm: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """LARS (You et al. 2017, "Large Batch Training of Convolutional Networks").

    u_t = η‖θ‖/(‖g_t‖ + λ‖θ‖) · (g_t + λθ)   (per leaf, :func:`jopt.scale_by_lars`),
    b_t = μ b_{t−1} + u_t,   Δθ = −α b_t   (−α (u_t + μ b_t) with ``nesterov``).

    ``chain(scale_by_lars(...), scale_by_trace(momentum, nesterov=nesterov),
    scale_by_learning_rate(learning_rate))``: pytorch_optimizer's ``LARS`` (its defaults
    α = 1e-3, μ = 0.9, η = 1e-3; biases and scalars, the leaves with ndim <= 1, take plain
    momentum SGD without decay or trust ratio). optax.lars is
    ``weight_decay_mask=True, trust_ratio_mask=True, decayed_norm=True`` (its ratio on
    every leaf, over the norm of the decayed gradient; its rate, applied inside the
    momentum, is the same for a constant rate).

    Args:
      learning_rate: α >= 0, or a schedule ``count -> α``.
      weight_decay: λ >= 0, or a schedule ``count -> λ``.
      weight_decay_mask: the leaves that decay (``None``: ndim > 1; see
        :func:`jopt.scale_by_lars`).
      trust_coefficient: η >= 0.
      eps: ε >= 0 in the ratio's denominator.
      trust_ratio_mask: the leaves the ratio scales (``None``: ndim > 1).
      momentum: μ >= 0 (0: plain SGD on the scaled gradient).
      nesterov: Nesterov momentum (needs μ > 0).
      decayed_norm: optax's denominator ‖g + λθ‖.

    Returns:
      An ``optax.GradientTransformationExtraArgs``; ``update`` needs ``params``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.lars(1.0, trust_coefficient=0.1)
    >>> params = jnp.full((2, 2), 2.0)
    >>> tx.update(jnp.full((2, 2), 1.0), tx.init(params), params)[0]
    Array([[-0.2, -0.2],
           [-0.2, -0.2]], dtype=float32)
    """
    return chain(
        scale_by_lars(
            weight_decay,
            trust_coefficient,
            eps,
            weight_decay_mask=weight_decay_mask,
            trust_ratio_mask=trust_ratio_mask,
            decayed_norm=decayed_norm,
        ),
        scale_by_trace(momentum, nesterov=nesterov),
        scale_by_learning_rate(learning_rate),
    )
