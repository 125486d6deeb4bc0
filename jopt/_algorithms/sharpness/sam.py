"""SAM (Foret et al. 2021): a step from the gradient at adversarially perturbed weights.

optax.contrib's two-call convention: every SAM step is ``sync_period`` calls to ``update``,
each given the gradient at the parameters the previous call left. The first
``sync_period − 1`` calls return the adversarial (ascent) steps; the last returns the step
that takes the parameters from where they were before the ascent (``cache``) by the outer
optimizer's update of the last gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jopt._algorithms.sgd.momentum import gd
from jopt._core.chain import chain
from jopt._core.checks import (
    checked,
    flag,
    integer,
    nonnegative,
    optional,
    text,
    transformation,
)
from jopt._core.dtypes import cast, compute_dtype, real_dtype
from jopt._core.hyperparams import Scalar
from jopt._core.layout import PerParam
from jopt._core.state import scalar

NormalizeState = optax.EmptyState


@checked(eps=nonnegative())
def normalize(eps: Scalar = 1e-12) -> optax.GradientTransformationExtraArgs:
    """The gradient divided by its global norm: g / (‖g‖₂ + ε), ‖g‖₂ over every leaf.

    SAM's adversarial direction (optax.contrib.normalize, which has no ε: ``eps=0``
    reproduces it; pytorch_optimizer's SAM adds ε = 1e-12, the default here, so a zero
    gradient gives a zero step, not NaN).

    Args:
      eps: ε >= 0, added to the norm.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with an empty state.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.normalize()
    >>> tx.update({"a": jnp.array([3.0]), "b": jnp.array([4.0])}, tx.init(None))[0]
    {'a': Array([0.6], dtype=float32), 'b': Array([0.8], dtype=float32)}
    """

    def init_fn(params):
        del params
        return NormalizeState()

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        leaves = jax.tree.leaves(updates)
        if not leaves:
            return updates, state
        wide = np.result_type(*(compute_dtype(g) for g in leaves))  # the widest
        total = sum(jnp.sum(jnp.square(jnp.abs(g.astype(wide)))) for g in leaves)
        denom = jnp.sqrt(total) + cast(eps, real_dtype(wide))
        out = jax.tree.map(
            lambda g: (g.astype(compute_dtype(g)) / denom.astype(compute_dtype(g))).astype(g.dtype),
            updates,
        )
        return out, state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


class SAMState(NamedTuple):
    """SAM's state (:func:`jopt.sam`), optax.contrib.SAMState's fields.

    Args:
      steps_since_sync: the calls since the last outer update (int32), in
        [0, sync_period).
      opt_state: the outer optimizer's state.
      adv_state: the adversarial optimizer's state.
      cache: the parameters before the adversarial steps (None with ``opaque_mode``).

    >>> import jax.numpy as jnp, jopt
    >>> state = jopt.sam(jopt.sgd(0.1)).init(jnp.zeros(2))
    >>> int(state.steps_since_sync), state.cache
    (0, Array([0., 0.], dtype=float32))
    """

    steps_since_sync: jax.Array
    opt_state: Any
    adv_state: Any
    cache: PerParam


def _pick(cond: jax.Array, if_true: Any, if_false: Any) -> Any:
    return jax.tree.map(lambda a, b: jnp.where(cond, a, b), if_true, if_false)


@checked(
    optimizer=transformation("jopt.sgd(0.1)"),
    adv_optimizer=optional(transformation("jopt.chain(jopt.normalize(), jopt.sgd(0.05))")),
    sync_period=integer(1),
    reset_state=flag(),
    opaque_mode=flag(),
    batch_axis_name=optional(text()),
)
def sam(
    optimizer: optax.GradientTransformation,
    adv_optimizer: optax.GradientTransformation | None = None,
    sync_period: int = 2,
    reset_state: bool = True,
    opaque_mode: bool = False,
    batch_axis_name: str | None = None,
) -> optax.GradientTransformationExtraArgs:
    """SAM (Foret et al. 2021, "Sharpness-Aware Minimization for Efficiently Improving
    Generalization"), in optax.contrib.sam's form.

    One SAM step, ``sync_period = 2`` (the paper's):

    ε = ρ g(θ) / (‖g(θ)‖₂ + 1e-12)          (call 1 returns +ε: θ̃ = θ + ε)
    θ ← θ + outer.update(g(θ̃))              (call 2 returns θ − θ̃ + that update)

    The adversarial step is ``−adv_optimizer.update(g)`` (an optimizer's descent step,
    negated: an ascent), the outer step ``optimizer.update(g, params=θ)`` at the cached θ.
    With ``sync_period = n`` the first n − 1 calls ascend and the n-th syncs. The
    adversarial optimizer's state is reset at each sync (``reset_state``).

    ``adv_optimizer=None`` is the paper's and pytorch_optimizer's SAM ascent,
    ``chain(normalize(1e-12), gd(ρ = 0.05))`` (optax requires it; optax's
    ``normalize()`` has no 1e-12). pytorch_optimizer's ``SAM(params, SGD, rho, lr=α)``
    equals ``sam(sgd(α), chain(normalize(), gd(ρ)))`` fed the same two gradients.

    ``opaque_mode=True``: each call is one whole SAM step; ``update`` takes
    ``grad_fn(params, i) -> grads`` (optax's keyword) and calls it ``sync_period − 1``
    times for the gradients at the adversarial points; the state keeps no cache.
    ``batch_axis_name``: with ``opaque_mode``, the mapped axis those gradients are
    averaged over (``jax.lax.pmean``), as optax's.

    Args:
      optimizer: the outer optimizer (e.g. ``jopt.sgd(0.1)``).
      adv_optimizer: the adversarial optimizer, or None (the paper's, ρ = 0.05).
      sync_period: n >= 1, the calls per SAM step.
      reset_state: re-initialize the adversarial optimizer's state at each sync.
      opaque_mode: one call per SAM step, with ``grad_fn`` (see above).
      batch_axis_name: the axis name for ``pmean`` in opaque mode, or None.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a :class:`jopt.SAMState`.

    >>> import jax, jax.numpy as jnp, optax, jopt
    >>> loss = lambda p: jnp.sum(p**2)
    >>> tx, p = jopt.sam(jopt.sgd(0.1)), jnp.array([3.0, 4.0])
    >>> state = tx.init(p)
    >>> u, state = tx.update(jax.grad(loss)(p), state, p)  # the ascent: ρ g / ‖g‖
    >>> u
    Array([0.03, 0.04], dtype=float32)
    >>> p2 = optax.apply_updates(p, u)
    >>> u, state = tx.update(jax.grad(loss)(p2), state, p2)  # from p, by −0.1 g(p2)
    >>> optax.apply_updates(p2, u)
    Array([2.394, 3.192], dtype=float32)
    """
    if adv_optimizer is None:
        adv_optimizer = chain(normalize(), gd(0.05))
    outer = optax.with_extra_args_support(optimizer)
    adv = optax.with_extra_args_support(adv_optimizer)

    def init_fn(params):
        return SAMState(
            steps_since_sync=scalar(params, 0, jnp.int32),
            opt_state=outer.init(params),
            adv_state=adv.init(params),
            cache=None if opaque_mode else jax.tree.map(jnp.copy, params),
        )

    def negate(tree):
        return jax.tree.map(lambda x: -x, tree)

    def transparent_update_fn(updates, state, params=None, **extra_args):
        if params is None:
            raise ValueError("jopt.sam: update needs params (SAM steps from the cached ones).")
        extra_args.pop("grad_fn", None)
        first = state.steps_since_sync == 0
        last = state.steps_since_sync == sync_period - 1
        adv_updates, adv_state = adv.update(updates, state.adv_state, params, **extra_args)
        adv_updates = negate(adv_updates)
        opt_updates, opt_state = outer.update(updates, state.opt_state, state.cache, **extra_args)
        opt_updates = jax.tree.map(
            lambda c, p, u: (c - p + u).astype(u.dtype), state.cache, params, opt_updates
        )
        cache = _pick(first, params, state.cache)
        out = _pick(last, opt_updates, adv_updates)
        if reset_state:
            adv_state = _pick(last, adv.init(params), adv_state)
        else:
            adv_state = _pick(last, state.adv_state, adv_state)
        opt_state = _pick(last, opt_state, state.opt_state)
        count = (state.steps_since_sync + 1) % jnp.asarray(sync_period, jnp.int32)
        return out, SAMState(count, opt_state, adv_state, cache)

    def opaque_update_fn(
        updates, state, params=None, *, grad_fn: Callable[..., Any] | None = None, **extra
    ):
        if grad_fn is None:
            raise ValueError("jopt.sam: grad_fn must be given to update with opaque_mode=True.")
        if params is None:
            raise ValueError("jopt.sam: update needs params.")
        adv_params, adv_updates, adv_state = params, updates, state.adv_state
        for i in range(sync_period - 1):
            adv_updates, adv_state = adv.update(adv_updates, adv_state, adv_params, **extra)
            adv_params = optax.apply_updates(adv_params, negate(adv_updates))
            adv_updates = grad_fn(adv_params, i)
            if batch_axis_name is not None:
                adv_updates = jax.lax.pmean(adv_updates, axis_name=batch_axis_name)
        if reset_state:
            adv_state = adv.init(params)
        out, opt_state = outer.update(adv_updates, state.opt_state, params, **extra)
        return out, SAMState(jnp.zeros_like(state.steps_since_sync), opt_state, adv_state, None)

    update_fn = opaque_update_fn if opaque_mode else transparent_update_fn
    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
