"""``keras.optimizers.MultiOptimizer`` and ``OptimizerMap``: one optimizer per group of
parameters, on ``optax.multi_transform``."""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterator, MutableMapping
from typing import Any, NamedTuple

import jax
import optax

from jopt._core.checks import (
    UnnamedTypeError,
    UnnamedValueError,
    check_later,
    checked,
    optional,
    positive,
    unchecked,
)
from jopt._core.hyperparams import Scalar
from jopt._core.state import find_states
from jopt.compat.keras._common import registered
from jopt.compat.keras._loss_scale import INNER, LossScaleState
from jopt.compat.keras._options import (
    OUTER_LOSS_SCALE,
    keras_transformation,
    path_name,
    state_kinds,
)


class MultiOptimizerState(NamedTuple):
    """``inner``: the ``optax.multi_transform`` state of the groups (one optimizer state
    per group, each over its own leaves)."""

    inner: Any


_NESTED = {
    LossScaleState: "optimizer cannot be LossScaleOptimizer.",
    MultiOptimizerState: "optimizer cannot be MultiOptimizer.",
}
_INSIDE = {
    LossScaleState: "LossScaleOptimizer cannot be used inside an MultiOptimizer.",
    MultiOptimizerState: "MultiOptimizer cannot be used inside an MultiOptimizer.",
}


def _refuse(kinds: set[type], messages: dict[type, str]) -> None:
    # Keras' nesting rules, read from the state a member builds (its structure), so they
    # hold however the member is wrapped (optax.chain, optax.inject_hyperparams).
    for kind, message in messages.items():
        if kind in kinds:
            raise UnnamedValueError(message)


class OptimizerMap(MutableMapping[str, Any]):
    """``keras.optimizers.OptimizerMap``: parameter paths (or regular expressions over
    them) mapped to optimizers, ``default_optimizer`` for the rest.

    ``optimizer_map[path]``: the optimizer of the key equal to ``path``, else of the one
    key that ``re.fullmatch``-es it (two is a ValueError, as in Keras), else
    ``default_optimizer``. A path is the leaf's keys joined by ``/``
    (``"encoder/dense/kernel"``; see :class:`KerasOptions`), as Keras' ``variable.path``.
    Unlike Keras' it is not callable, so ``optax.inject_hyperparams`` does not take it
    for a schedule.

    Args:
      default_optimizer: the optimizer of every path no key matches.
      optimizer_map: ``{path or regular expression: optimizer}``; None for none.

    >>> import jopt.compat.keras as jk
    >>> sgd, adam = jk.SGD(), jk.Adam()
    >>> groups = jk.OptimizerMap(sgd, {"encoder/.*": adam})
    >>> groups["encoder/dense/kernel"] is adam, groups["head/kernel"] is sgd
    (True, True)
    """

    @checked(
        default_optimizer=unchecked("Keras' TypeError for a non-optimizer: below"),
        optimizer_map=unchecked("Keras' TypeError for a non-dict: below"),
    )
    def __init__(
        self,
        default_optimizer: optax.GradientTransformation,
        optimizer_map: dict[str, optax.GradientTransformation] | None = None,
    ):
        if not isinstance(default_optimizer, optax.GradientTransformation):
            raise UnnamedTypeError(
                "default_optimizer must be an optax transformation (e.g. a "
                f"jopt.compat.keras optimizer). Received: {default_optimizer}"
            )
        if optimizer_map is not None and not isinstance(optimizer_map, dict):
            raise UnnamedTypeError(f"optimizer_map must be a dictionary. Received: {optimizer_map}")
        _refuse(state_kinds(default_optimizer), _INSIDE)
        self._default_optimizer = default_optimizer
        self._optimizer_map: dict[str, Any] = {}
        for key, tx in (optimizer_map or {}).items():
            self._add(key, tx)

    @property
    def default_optimizer(self) -> optax.GradientTransformation:
        return self._default_optimizer

    def __getitem__(self, key: str) -> optax.GradientTransformation:
        if key in self._optimizer_map:
            return self._optimizer_map[key]
        matching = [p for p in self._optimizer_map if re.fullmatch(p, key)]
        if len(matching) > 1:
            raise UnnamedValueError(f"Multiple optimizers assigned to variable {key}.")
        if matching:
            return self._optimizer_map[matching[0]]
        return self._default_optimizer

    @checked(
        key=unchecked("Keras' ValueError for a non-string key: below"),
        optimizer=unchecked("Keras' ValueError for a non-optimizer: below"),
    )
    def __setitem__(self, key: str, optimizer: optax.GradientTransformation) -> None:
        self._add(key, optimizer)

    def _add(self, key: str, optimizer: optax.GradientTransformation) -> None:
        if key in self._optimizer_map:
            raise UnnamedValueError(
                f"'{key}' already exists in the OptimizerMap with value "
                f"{self._optimizer_map[key]}. Please make sure to not use duplicated keys."
            )
        if not isinstance(key, str):
            raise UnnamedValueError(f"key must be a string. Received: {key}")
        if not isinstance(optimizer, optax.GradientTransformation):
            raise UnnamedValueError(
                f"optimizer must be an optax transformation. Received: {optimizer}"
            )
        _refuse(state_kinds(optimizer), _NESTED)
        self._optimizer_map[key] = optimizer

    def __delitem__(self, key: str) -> None:
        del self._optimizer_map[key]

    def __len__(self) -> int:
        return len(self._optimizer_map)

    def __iter__(self) -> Iterator[str]:
        return iter(self._optimizer_map)


@registered("MultiOptimizer")
@checked(
    optimizer_map=unchecked("an OptimizerMap or a function path -> optimizer: below"),
    loss_scale_factor=optional(positive()),
)
def MultiOptimizer(  # noqa: N802
    optimizer_map: OptimizerMap | Callable[[str], optax.GradientTransformation],
    loss_scale_factor: Scalar | None = None,
) -> optax.GradientTransformationExtraArgs:
    """``keras.optimizers.MultiOptimizer``: each parameter stepped by the optimizer
    ``optimizer_map`` assigns it, on ``optax.multi_transform``.

    ``optimizer_map`` is an :class:`OptimizerMap` or a function ``path -> optimizer``
    (Keras' function of the variable, given here its path, ``"encoder/dense/kernel"``).
    Each optimizer keeps its own state, count and options (clipping, EMA, accumulation)
    over its own leaves; one returned for several leaves (the same object) steps them
    together. ``loss_scale_factor`` replaces the sub-optimizers' own, as in Keras (None
    switches theirs off). A :func:`LossScaleOptimizer` may wrap a MultiOptimizer, not
    go inside one.

    Args:
      optimizer_map: an :class:`OptimizerMap`, or a function ``path -> optimizer``.
      loss_scale_factor: the gradients are divided by it, > 0, in place of the
        sub-optimizers' own; None switches theirs off.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` on ``optax.multi_transform``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.MultiOptimizer(jk.OptimizerMap(jk.SGD(0.5), {"bias": jk.SGD(0.125)}))
    >>> params = {"kernel": jnp.ones(2), "bias": jnp.ones(2)}
    >>> updates, state = tx.update(params, tx.init(params), params)
    >>> updates["kernel"], updates["bias"]
    (Array([-0.5, -0.5], dtype=float32), Array([-0.125, -0.125], dtype=float32))
    """
    if not isinstance(optimizer_map, OptimizerMap) and not callable(optimizer_map):
        raise UnnamedTypeError(
            f"optimizer_map={optimizer_map!r} is invalid; optimizer_map must be a "
            "jopt.compat.keras.OptimizerMap or a function path -> optimizer."
        )
    outside = {OUTER_LOSS_SCALE: True}  # the members' own loss-scale factors are skipped

    def grouped(tree, check=False):
        chosen: list[Any] = []
        labels = []
        flat, treedef = jax.tree_util.tree_flatten_with_path(tree)
        for path, _ in flat:
            name = path_name(path)
            tx = (
                optimizer_map[name]
                if isinstance(optimizer_map, OptimizerMap)
                else optimizer_map(name)
            )
            if check:
                check_later(INNER, f"the optimizer of {name!r}", tx)
            index = next((i for i, t in enumerate(chosen) if t is tx), None)
            if index is None:
                index = len(chosen)
                chosen.append(tx)
            labels.append(index)
        transforms: dict[Hashable, optax.GradientTransformation] = dict(enumerate(chosen))
        return optax.multi_transform(transforms, treedef.unflatten(labels))

    def init_fn(params):
        state = MultiOptimizerState(grouped(params, check=True).init(params))
        inner = find_states(state.inner, (LossScaleState, MultiOptimizerState))
        _refuse({type(s) for s in inner}, _INSIDE)
        return state

    def update_fn(updates, state, params=None, **extra_args):
        tx = grouped(updates)
        out, inner = tx.update(updates, state.inner, params, **{**extra_args, **outside})
        return out, MultiOptimizerState(inner)

    body = optax.GradientTransformationExtraArgs(init_fn, update_fn)
    return keras_transformation(body, loss_scale_factor)
