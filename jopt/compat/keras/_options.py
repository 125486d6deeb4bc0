"""Keras' base options as transformations around a preset's step: clipping, the
decoupled decay with its exclusions, gradient accumulation, the parameter EMA and the
loss-scale division (``keras/src/optimizers/base_optimizer.py`` and the JAX backend's
``keras/src/backend/jax/optimizer.py``)."""

from __future__ import annotations

import typing
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jopt._core.chain import in_compute_dtype
from jopt._core.checks import UnnamedValueError, checked, unchecked
from jopt._core.control import cond
from jopt._core.dtypes import cast, compute_dtype, real_dtype
from jopt._core.elementwise import abs_sq
from jopt._core.groups import path_string
from jopt._core.hyperparams import ScalarOrSchedule
from jopt._core.layout import PerParam, is_state
from jopt._core.learning_rate import init_learning_rate, next_learning_rate
from jopt._core.state import (
    check_tree,
    evaluate,
    find_states,
    increment,
    moments_like,
    requested,
    require_params,
    zero_count,
)
from jopt.sharding._leafwise import map_leaves

# ---------------------------------------------------------------------------- paths


def path_name(path: tuple[Any, ...]) -> str:
    """A leaf's path as Keras writes a variable's: its keys joined by ``/``
    (``{"dense": {"bias": b}}`` → ``"dense/bias"``). The ``.value`` a Flax NNX
    Variable adds at the end is dropped (``"l1/kernel"``, not ``"l1/kernel/value"``)."""
    keys = list(path)
    if keys and isinstance(keys[-1], jax.tree_util.GetAttrKey) and keys[-1].name == "value":
        keys.pop()
    return path_string(keys)


# ------------------------------------------------------------------------- clipping


def _reciprocal(value: Any, dtype: Any) -> jax.Array:
    # Keras computes 1.0 / clip_norm in Python (float64) before it meets the array.
    if isinstance(value, (int, float, np.number)):
        return cast(1.0 / float(value), dtype)
    return 1 / cast(value, dtype)


def clipper(clipnorm: Any, global_clipnorm: Any, clipvalue: Any) -> Callable[[Any], Any]:
    """Keras' ``_clip_gradients``: the one of the three that is set (and > 0)."""
    if requested(clipnorm):

        def clip_leaf(g):
            rdt = real_dtype(g.dtype)
            c = cast(clipnorm, rdt)
            l2sum = jnp.sum(abs_sq(g), keepdims=True)
            positive = l2sum > 0  # Keras' two-tap where: no NaN from sqrt(0)'s gradient
            l2norm = jnp.where(positive, jnp.sqrt(jnp.where(positive, l2sum, 1.0)), l2sum)
            clipped = g * c.astype(g.dtype) / jnp.maximum(l2norm, c).astype(g.dtype)
            return jnp.where(c > 0, clipped, g)

        return lambda updates: jax.tree.map(clip_leaf, updates)
    if requested(global_clipnorm):

        def clip_global(updates):
            leaves = jax.tree.leaves(updates)
            if not leaves:
                return updates
            squares = [jnp.sum(abs_sq(g)) for g in leaves]
            wide = max((s.dtype for s in squares), key=lambda d: jnp.finfo(d).bits)
            norm = jnp.sqrt(jnp.sum(jnp.stack([s.astype(wide) for s in squares])))
            c = cast(global_clipnorm, wide)
            scale = c * jnp.minimum(1.0 / norm, _reciprocal(global_clipnorm, wide))
            scale = scale + (norm - norm)  # NaN for a non-finite norm, as Keras
            scale = jnp.where(c > 0, scale, jnp.ones([], wide))
            return jax.tree.map(lambda g: g * scale.astype(g.dtype), updates)

        return clip_global
    if requested(clipvalue):

        def clip_value(g):
            v = cast(clipvalue, real_dtype(g.dtype))
            if jnp.issubdtype(g.dtype, jnp.complexfloating):
                clipped = jax.lax.complex(jnp.clip(g.real, -v, v), jnp.clip(g.imag, -v, v))
            else:
                clipped = jnp.clip(g, -v, v)
            return jnp.where(v > 0, clipped, g)

        return lambda updates: jax.tree.map(clip_value, updates)
    return lambda updates: updates


# --------------------------------------------------------------- decay, then the step


def decay_then_step(
    step: Sequence[optax.GradientTransformation],
    learning_rate: ScalarOrSchedule,
    decay_of: Callable[[str, Any], Any] | None,
    clip: Callable[[Any], Any],
) -> optax.GradientTransformationExtraArgs:
    """clip(g); θ' = θ − θλα_t on the leaves ``decay_of(path, leaf)`` gives a λ (in the
    compute dtype); the step at θ'; the update is the step's plus θ' − θ, so it lands θ
    where Keras does: on θ' moved by the step. Keras' rule "decay the parameters first,
    the step reads the decayed ones" lives here only (Adafactor's RMS(θ), Lamb's ‖θ‖,
    ScheduleFreeAdamW's y, Muon's two λ through ``decay_of``). State: the step's tuple,
    then the learning-rate state of the decay (with a count if a λ is a schedule)."""
    inner = optax.with_extra_args_support(optax.chain(*step))
    if decay_of is None:

        def plain_update(updates, state, params=None, **extra_args):
            return inner.update(clip(updates), state, params, **extra_args)

        return optax.GradientTransformationExtraArgs(inner.init, plain_update)

    def decays(tree):
        flat, treedef = jax.tree_util.tree_flatten_with_path(tree)
        return [decay_of(path_name(path), leaf) for path, leaf in flat], treedef

    def init_fn(params):
        values, _ = decays(params)
        counted = any(callable(v) for v in values)
        inner_state = typing.cast(tuple[Any, ...], inner.init(params))
        return (*inner_state, init_learning_rate(learning_rate, params, counted))

    def update_fn(updates, state, params=None, **extra_args):
        require_params(params, "(the weight decay reads them)")
        check_tree(updates, params, "the params")
        updates = clip(updates)
        *step_state, lr_state = state
        count = getattr(lr_state, "count", None)
        lr, lr_state = next_learning_rate(learning_rate, lr_state)
        values, treedef = decays(params)
        moved, decayed = [], []
        for p, wd in zip(jax.tree.leaves(params), values, strict=True):
            if not requested(wd):
                moved.append(None)
                decayed.append(p)
                continue
            p = p.astype(compute_dtype(p))
            wd_now = wd if count is None else evaluate(wd, count, "the weight-decay schedule")
            d = p - p * cast(wd_now, p.dtype) * cast(lr, p.dtype)  # Keras: θ·λ·α
            decayed.append(d)
            # what the decay moved θ by, as rounded in θ': the update lands θ on θ' + the
            # step's update (so a step that puts θ' back on θ returns exactly 0)
            moved.append(p - d)
        out, step_state = inner.update(
            updates, tuple(step_state), treedef.unflatten(decayed), **extra_args
        )
        out = [
            u if m is None else (u.astype(m.dtype) - m).astype(u.dtype)
            for u, m in zip(jax.tree.leaves(out), moved, strict=True)
        ]
        return treedef.unflatten(out), (*typing.cast(tuple[Any, ...], step_state), lr_state)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


# ------------------------------------------------------ accumulation and the EMA


class KerasBaseState(NamedTuple):
    """The state of Keras' gradient accumulation and parameter EMA around a preset.

    ``count``: calls so far (Keras' ``optimizer._iterations``; its ``iterations`` is
    ``count // gradient_accumulation_steps``); ``accumulated``: the sum of the gradients
    since the last update (None without accumulation); ``ema``: the moving average of
    the parameters (None without ``use_ema``; read it with :func:`ema_params`);
    ``inner``: the preset's own state.
    """

    count: jax.Array
    accumulated: PerParam
    ema: PerParam
    inner: Any


def accumulate_and_average(
    body: optax.GradientTransformationExtraArgs,
    steps: Any | None,
    ema_momentum: Any | None,
    overwrite_frequency: Any | None,
    reads_params: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """Keras' ``_backend_apply_gradients`` (JAX backend): every ``steps``-th call runs
    ``body`` on the mean of the accumulated gradients, the others only add to the sum;
    then (``ema_momentum`` not None) the EMA of the new parameters, and every
    ``overwrite_frequency``-th iteration the update that lands them on it.

    ``reads_params``: ``body`` needs the params (a weight decay): an update without them
    is refused at every call, not only at the calls that run ``body``."""

    def init_fn(params):
        return KerasBaseState(
            zero_count(params),
            moments_like(params) if steps is not None else None,
            moments_like(params) if ema_momentum is not None else None,
            body.init(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        if reads_params:
            require_params(params, "(the weight decay reads them)")
        if ema_momentum is not None:
            require_params(params, "(the EMA averages them)")
        count = state.count
        accumulated = state.accumulated
        if steps is None:
            out, inner = body.update(updates, state.inner, params, **extra_args)
            iterations = count
        else:
            check_tree(updates, accumulated, "the accumulated gradients")
            n = jnp.asarray(steps).astype(count.dtype)

            def run():
                (mean,) = map_leaves(
                    lambda g, a: ((g + a.astype(g.dtype)) / cast(steps, g.dtype),),
                    1,
                    updates,
                    accumulated,
                )
                out, inner = body.update(mean, state.inner, params, **extra_args)
                return out, inner, jax.tree.map(jnp.zeros_like, accumulated)

            def wait():
                zeros, added = map_leaves(
                    lambda g, a: (jnp.zeros_like(g), (g + a.astype(g.dtype)).astype(a.dtype)),
                    2,
                    updates,
                    accumulated,
                )
                return zeros, state.inner, added

            out, inner, accumulated = cond((count + 1) % n == 0, run, wait)
            iterations = count // n
        ema = state.ema
        if ema_momentum is not None:
            require_params(params, "(the EMA averages them)")
            first = iterations == 0
            now = None
            if overwrite_frequency is not None:
                every = jnp.asarray(overwrite_frequency).astype(count.dtype)
                now = (iterations + 1) % every == 0

            def average(u, p, e):
                dt = u.dtype
                momentum = jnp.where(first, jnp.zeros([], dt), cast(ema_momentum, dt))
                new = p.astype(dt) + u
                e = (momentum * e.astype(dt) + (1 - momentum) * new).astype(e.dtype)
                if now is not None:  # the update that lands the params on the EMA
                    u = jnp.where(now, e.astype(dt) - p.astype(dt), u)
                return u, e

            out, ema = map_leaves(average, 2, out, params, ema)
        return out, KerasBaseState(increment(count), accumulated, ema, inner)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def find_one(state: Any, kind: type, what: str) -> list[Any]:
    """The states of class ``kind`` inside ``state``; a ValueError (named by the public
    reader) if there is none."""
    found = find_states(state, (kind,))
    if not found:
        raise UnnamedValueError(f"no {what} in this state.")
    return found


def leaf_value(x: Any) -> jax.Array:
    return jnp.asarray(x[...])  # reads a jax.Array and a Flax nnx Variable wrapping one


def merge_leaves(params: Any, sources: list[tuple[Any, Callable[[Any, Any], Any]]]) -> Any:
    """``params`` with each leaf replaced by ``fn(p, leaf)`` for the first ``(tree, fn)``
    in ``sources`` whose tree holds a leaf of the same path (an ``optax.multi_transform``
    group holds its own leaves only); leaves no tree holds stay as they are. Matching by
    path name reads states wrapped in other containers (a Flax ``nnx.Optimizer``'s)."""
    named: dict[str, tuple[Any, Callable[..., Any]]] = {}
    for tree, fn in sources:
        for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
            named.setdefault(path_name(path), (leaf, fn))

    def pick(path, p):
        hit = named.get(path_name(path))
        return p if hit is None else hit[1](p, hit[0])

    return jax.tree_util.tree_map_with_path(pick, params)


@checked(
    state=unchecked("any pytree holding a jopt.compat.keras state; searched by type"),
    params=unchecked("the parameters; matched to the averages by path"),
)
def ema_params(state: Any, params: Any) -> Any:
    """The parameters with ``use_ema=True``'s moving average in place of each leaf it
    covers: what Keras' ``optimizer.finalize_variable_values`` (called at the end of
    ``model.fit``) writes into the model. Leaves of a :func:`MultiOptimizer` group
    without ``use_ema`` keep their values.

    Args:
      state: a state holding a jopt.compat.keras optimizer's (bare, in a chain, or a Flax
        ``nnx.Optimizer``'s ``opt_state``).
      params: the current parameters.

    Returns:
      ``params`` with each leaf that an average covers replaced by its average.

    >>> import jax.numpy as jnp, optax
    >>> import jopt.compat.keras as jk
    >>> tx = jk.SGD(learning_rate=1.0, use_ema=True, ema_momentum=0.5)
    >>> params = jnp.array([4.0])
    >>> state = tx.init(params)
    >>> for _ in range(2):  # θ: 3 then 2; EMA: 3 (the first) then 0.5·3 + 0.5·2
    ...     updates, state = tx.update(jnp.array([1.0]), state, params)
    ...     params = optax.apply_updates(params, updates)
    >>> jk.ema_params(state, params)
    Array([2.5], dtype=float32)
    """
    found = find_one(state, KerasBaseState, "use_ema=True optimizer")
    emas = [s.ema for s in found if s.ema is not None]
    if not emas:
        raise UnnamedValueError("no optimizer in this state was built with use_ema=True.")
    return merge_leaves(
        params, [(e, lambda p, e: leaf_value(e).astype(leaf_value(p).dtype)) for e in emas]
    )


# --------------------------------------------------- the loss scale and the result

OUTER_LOSS_SCALE = "keras_loss_scale_outside"
"""The ``update`` keyword by which a :func:`LossScaleOptimizer` or :func:`MultiOptimizer`
tells the optimizers inside it that it owns the loss scale: their own
``loss_scale_factor`` division is skipped, as Keras replaces an inner optimizer's factor
with the wrapper's. A keyword argument of ``update`` travels through ``optax.chain``,
``optax.inject_hyperparams`` and ``optax.multi_transform``, so the rule holds however the
inner preset is wrapped."""


def keras_transformation(
    body: optax.GradientTransformation, loss_scale_factor: Any
) -> optax.GradientTransformationExtraArgs:
    """``body`` run in the compute dtype, the gradients first divided by
    ``loss_scale_factor`` (if set) unless an outer Keras wrapper owns the loss scale
    (:data:`OUTER_LOSS_SCALE`)."""
    body = optax.with_extra_args_support(body)
    if loss_scale_factor is None:
        return in_compute_dtype(body)

    def update_fn(updates, state, params=None, **extra_args):
        if not extra_args.get(OUTER_LOSS_SCALE, False):
            # Keras: g / s
            updates = jax.tree.map(lambda g: g / cast(loss_scale_factor, g.dtype), updates)
        return body.update(updates, state, params, **extra_args)

    return in_compute_dtype(optax.GradientTransformationExtraArgs(body.init, update_fn))


def state_kinds(tx: Any, params: Any = None) -> set[type]:
    """The NamedTuple classes in ``tx``'s state (for the nesting rules of Keras' wrappers):
    read from ``tx.init(params)`` without computing it, with an empty parameter tree when
    ``params`` is None (an empty set if ``init`` cannot run on it)."""
    try:
        state = jax.eval_shape(tx.init, {} if params is None else params)
    except Exception:  # noqa: BLE001 - a transformation that needs real params: no answer yet
        return set()
    kinds: set[type] = set()

    def visit(tree: Any) -> None:
        for node in jax.tree.leaves(tree, is_leaf=is_state):
            if is_state(node):
                kinds.add(type(node))
                for child in node:
                    visit(child)

    visit(state)
    return kinds
