"""``keras.optimizers.LossScaleOptimizer``: dynamic loss scaling around a preset."""

from __future__ import annotations

import inspect
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._core.checks import (
    UnnamedValueError,
    checked,
    integer,
    positive,
    transformation,
    unchecked,
)
from jopt._core.control import cond
from jopt._core.hyperparams import Scalar
from jopt._core.state import scalar, zero_count
from jopt.compat.keras._common import OPTION_DEFAULTS, registered
from jopt.compat.keras._options import OUTER_LOSS_SCALE, find_one, keras_transformation, leaf_value

INNER = transformation("jopt.compat.keras.Adam(...)")


class LossScaleState(NamedTuple):
    """``step_counter``: finite steps since the scale last changed (int32);
    ``dynamic_scale``: the loss scale (float32, as Keras keeps it); ``inner``: the
    wrapped optimizer's state (untouched by a skipped step)."""

    step_counter: jax.Array
    dynamic_scale: jax.Array
    inner: Any


@registered("LossScaleOptimizer")
@checked(
    inner_optimizer=INNER,
    initial_scale=positive(),
    dynamic_growth_steps=integer(1, traced=True),
)
def LossScaleOptimizer(  # noqa: N802
    inner_optimizer: optax.GradientTransformation,
    initial_scale: Scalar = 2.0**15,
    dynamic_growth_steps: int = 2000,
    **kwargs: Any,
) -> optax.GradientTransformationExtraArgs:
    """``keras.optimizers.LossScaleOptimizer``: dynamic loss scaling.

    Multiply the loss by the current scale before differentiating (:func:`scale_loss`);
    each update then checks the gradients: if all are finite, the inner optimizer
    steps with g / scale, and after ``dynamic_growth_steps`` finite steps in a row the
    scale doubles; otherwise the step is skipped (no update, the inner state unchanged)
    and the scale halves. The inner optimizer's own ``loss_scale_factor`` is ignored,
    as in Keras. Keras' base options belong to the inner optimizer (Keras' error
    otherwise).

    Args:
      inner_optimizer: the optimizer stepped with g / scale (a jopt.compat.keras preset,
        bare or wrapped).
      initial_scale: the first scale, > 0 (Keras' 2¹⁵).
      dynamic_growth_steps: the finite steps in a row after which the scale doubles, an
        integer >= 1.

    Returns:
      An ``optax.GradientTransformationExtraArgs``; :func:`scale_loss` reads its scale
      from the state.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.LossScaleOptimizer(jk.SGD(learning_rate=0.5), initial_scale=4.0)
    >>> params = jnp.array([1.0])
    >>> state = tx.init(params)
    >>> updates, state = tx.update(jnp.array([8.0]), state, params)  # g = 8/4
    >>> updates, jk.scale_loss(state, 1.0)
    (Array([-1.], dtype=float32), Array(4., dtype=float32))
    >>> updates, state = tx.update(jnp.array([jnp.inf]), state, params)  # skipped
    >>> updates, jk.scale_loss(state, 1.0)
    (Array([0.], dtype=float32), Array(2., dtype=float32))
    """
    if not kwargs.pop("dynamic", True):
        raise UnnamedValueError(
            "LossScaleOptimizer no longer supports `dynamic=False`. Instead, simply "
            "set `loss_scale_factor` directly on the `inner_optimizer`."
        )
    for name, default in OPTION_DEFAULTS.items():
        if name in kwargs and kwargs.pop(name) != default:
            raise UnnamedValueError(
                f"LossScaleOptimizer does not support `{name}`. Instead, set "
                f"`{name}` on the `inner_optimizer`."
            )
    if kwargs.pop("weight_decay", None) is not None:
        raise UnnamedValueError(
            "LossScaleOptimizer does not support `weight_decay`. Instead, set "
            "`weight_decay` on the `inner_optimizer`."
        )
    if kwargs:
        raise UnnamedValueError(
            f"LossScaleOptimizer does not support arguments: `{'`, `'.join(kwargs.keys())}`."
        )
    inner = optax.with_extra_args_support(inner_optimizer)
    outside = {OUTER_LOSS_SCALE: True}  # the inner optimizers' own factors are skipped

    def init_fn(params):
        scale = scalar(params, initial_scale, jnp.float32)
        return LossScaleState(zero_count(params), scale, inner.init(params))

    def update_fn(updates, state, params=None, **extra_args):
        finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(updates)]))
        scale = state.dynamic_scale

        def step():
            grads = jax.tree.map(lambda g: g / scale.astype(g.dtype), updates)
            out, inner_state = inner.update(grads, state.inner, params, **{**extra_args, **outside})
            grow = state.step_counter == jnp.asarray(dynamic_growth_steps).astype(jnp.int32) - 1
            counter = jnp.where(grow, jnp.zeros_like(state.step_counter), state.step_counter + 1)
            return out, LossScaleState(counter, jnp.where(grow, scale * 2, scale), inner_state)

        def skip():
            out = jax.tree.map(jnp.zeros_like, updates)
            return out, LossScaleState(jnp.zeros_like(state.step_counter), scale * 0.5, state.inner)

        return cond(finite, step, skip)

    body = optax.GradientTransformationExtraArgs(init_fn, update_fn)
    return keras_transformation(body, None)


# Keras' signature has **kwargs only to reject them with its messages; without it in the
# signature, optax.inject_hyperparams binds the arguments that exist.
_signature = inspect.signature(LossScaleOptimizer)
LossScaleOptimizer.__signature__ = _signature.replace(  # type: ignore[attr-defined]
    parameters=[p for p in _signature.parameters.values() if p.kind != p.VAR_KEYWORD]
)


@checked(
    state=unchecked("any pytree holding a LossScaleOptimizer state; searched by type"),
    loss=unchecked("a number or an array; multiplied as it is"),
)
def scale_loss(state: Any, loss: Any) -> jax.Array:
    """``loss`` times the current dynamic scale of the :func:`LossScaleOptimizer` whose
    state is ``state`` (Keras' ``optimizer.scale_loss(loss)``): differentiate this,
    hand the gradients to ``update`` as they are.

    Args:
      state: a state holding a :func:`LossScaleOptimizer`'s (bare, in a chain, or a Flax
        ``nnx.Optimizer``'s ``opt_state``).
      loss: the loss, a number or an array.

    Returns:
      ``loss`` times the current scale.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.LossScaleOptimizer(jk.Adam(), initial_scale=1024.0)
    >>> jk.scale_loss(tx.init(jnp.zeros(2)), jnp.asarray(0.5))
    Array(512., dtype=float32)
    """
    found = find_one(state, LossScaleState, "LossScaleOptimizer state")
    loss = jnp.asarray(loss)
    scale = leaf_value(found[0].dynamic_scale)
    return loss * scale.astype(loss.dtype)
