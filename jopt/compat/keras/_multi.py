"""``keras.optimizers.MultiOptimizer`` and ``OptimizerMap``: one optimizer per group of
parameters, on ``optax.multi_transform``."""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterator, MutableMapping
from typing import Any

import jax
import optax

from jopt._base import Scalar
from jopt._validation import check_range
from jopt.compat.keras._loss_scale import check_inner, is_kind
from jopt.compat.keras._options import keras_transformation, path_name, unscaled


def _check_member(where: str, tx: Any) -> None:
    if is_kind(tx, "loss_scale"):
        raise ValueError(f"{where}: LossScaleOptimizer cannot be used inside an MultiOptimizer.")
    if is_kind(tx, "multi"):
        raise ValueError(f"{where}: MultiOptimizer cannot be used inside an MultiOptimizer.")


class OptimizerMap(MutableMapping[str, Any]):
    """``keras.optimizers.OptimizerMap``: parameter paths (or regular expressions over
    them) mapped to optimizers, ``default_optimizer`` for the rest.

    ``optimizer_map[path]``: the optimizer of the key equal to ``path``, else of the one
    key that ``re.fullmatch``-es it (two is a ValueError, as in Keras), else
    ``default_optimizer``. A path is the leaf's keys joined by ``/``
    (``"encoder/dense/kernel"``; see :class:`KerasOptions`), as Keras' ``variable.path``.
    Unlike Keras' it is not callable, so ``optax.inject_hyperparams`` does not take it
    for a schedule.

    >>> import jopt.compat.keras as jk
    >>> sgd, adam = jk.SGD(), jk.Adam()
    >>> groups = jk.OptimizerMap(sgd, {"encoder/.*": adam})
    >>> groups["encoder/dense/kernel"] is adam, groups["head/kernel"] is sgd
    (True, True)
    """

    def __init__(
        self,
        default_optimizer: optax.GradientTransformation,
        optimizer_map: dict[str, optax.GradientTransformation] | None = None,
    ):
        where = "jopt.compat.keras.OptimizerMap"
        if not isinstance(default_optimizer, optax.GradientTransformation):
            raise TypeError(
                f"{where}: default_optimizer must be an optax transformation (e.g. a "
                f"jopt.compat.keras optimizer). Received: {default_optimizer}"
            )
        if optimizer_map is not None and not isinstance(optimizer_map, dict):
            raise TypeError(
                f"{where}: optimizer_map must be a dictionary. Received: {optimizer_map}"
            )
        _check_member(where, default_optimizer)
        self._default_optimizer = default_optimizer
        self._optimizer_map: dict[str, Any] = {}
        for key, tx in (optimizer_map or {}).items():
            self[key] = tx

    @property
    def default_optimizer(self) -> optax.GradientTransformation:
        return self._default_optimizer

    def __getitem__(self, key: str) -> optax.GradientTransformation:
        if key in self._optimizer_map:
            return self._optimizer_map[key]
        matching = [p for p in self._optimizer_map if re.fullmatch(p, key)]
        if len(matching) > 1:
            raise ValueError(
                f"jopt.compat.keras.OptimizerMap: Multiple optimizers assigned to variable {key}."
            )
        if matching:
            return self._optimizer_map[matching[0]]
        return self._default_optimizer

    def __setitem__(self, key: str, optimizer: optax.GradientTransformation) -> None:
        where = "jopt.compat.keras.OptimizerMap"
        if key in self._optimizer_map:
            raise ValueError(
                f"{where}: '{key}' already exists in the OptimizerMap with value "
                f"{self._optimizer_map[key]}. Please make sure to not use duplicated keys."
            )
        if not isinstance(key, str):
            raise ValueError(f"{where}: key must be a string. Received: {key}")
        if not isinstance(optimizer, optax.GradientTransformation):
            raise ValueError(
                f"{where}: optimizer must be an optax transformation. Received: {optimizer}"
            )
        if is_kind(optimizer, "loss_scale"):
            raise ValueError(f"{where}: optimizer cannot be LossScaleOptimizer.")
        if is_kind(optimizer, "multi"):
            raise ValueError(f"{where}: optimizer cannot be MultiOptimizer.")
        self._optimizer_map[key] = optimizer

    def __delitem__(self, key: str) -> None:
        del self._optimizer_map[key]

    def __len__(self) -> int:
        return len(self._optimizer_map)

    def __iter__(self) -> Iterator[str]:
        return iter(self._optimizer_map)


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

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.MultiOptimizer(jk.OptimizerMap(jk.SGD(0.5), {"bias": jk.SGD(0.125)}))
    >>> params = {"kernel": jnp.ones(2), "bias": jnp.ones(2)}
    >>> updates, state = tx.update(params, tx.init(params), params)
    >>> updates["kernel"], updates["bias"]
    (Array([-0.5, -0.5], dtype=float32), Array([-0.125, -0.125], dtype=float32))
    """
    call = "jopt.compat.keras.MultiOptimizer"
    if not isinstance(optimizer_map, OptimizerMap) and not callable(optimizer_map):
        raise TypeError(
            f"{call}: optimizer_map={optimizer_map!r} is invalid; optimizer_map must be a "
            "jopt.compat.keras.OptimizerMap or a function path -> optimizer."
        )
    if loss_scale_factor is not None:
        check_range(call, "loss_scale_factor", loss_scale_factor, 0.0, lo_open=True)

    def grouped(tree):
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
            check_inner(call, f"the optimizer of {name!r}", tx)
            _check_member(call, tx)
            index = next((i for i, t in enumerate(chosen) if t is tx), None)
            if index is None:
                index = len(chosen)
                chosen.append(tx)
            labels.append(index)
        transforms: dict[Hashable, optax.GradientTransformation] = {
            i: unscaled(tx) for i, tx in enumerate(chosen)
        }
        return optax.multi_transform(transforms, treedef.unflatten(labels))

    def init_fn(params):
        return grouped(params).init(params)

    def update_fn(updates, state, params=None, **extra_args):
        return grouped(updates).update(updates, state, params, **extra_args)

    body = optax.GradientTransformationExtraArgs(init_fn, update_fn)
    return keras_transformation(body, loss_scale_factor, kind="multi")
