"""PyTorch's parameter groups and per-group schedulers on every ``jopt.compat.torch``
preset: ``param_groups=[{"params": selector, "lr": …}, …]`` and ``lr_scheduler=``.

Each group is the preset called again with the group's overrides (so it is checked as
PyTorch checks a group), on the leaves its ``"params"`` selects
(:func:`jopt._core.groups.param_groups`); the leaves no group selects form the last group,
with the preset's own arguments. ``lr_scheduler`` is a callable ``base_lr -> schedule``
applied to each group's own rate, or a list with one per group (PyTorch's list
arguments: ``LambdaLR`` lambdas, ``OneCycleLR``'s ``max_lr``).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import optax

from jopt._core.checks import (
    Declaration,
    Rule,
    Unnamed,
    UnnamedTypeError,
    UnnamedValueError,
    declaration,
)
from jopt._core.groups import param_groups as groups_transform

F = TypeVar("F", bound=Callable[..., Any])
Scheduler = Callable[[Any], Any]


@dataclasses.dataclass(frozen=True)
class TorchPreset:
    """What a ``jopt.compat.torch`` preset was built from (read by the checkpoint code).

    Args:
      name: the ``torch.optim`` class, e.g. ``"AdamW"``.
      groups: each group's arguments, PyTorch's ``param_groups`` order: the listed groups,
        then the group of the other parameters (a preset without ``param_groups`` has
        that one group only). ``lr`` is the group's own rate, before ``lr_scheduler``.
      selectors: each listed group's ``"params"``.
      schedulers: each group's ``base_lr -> schedule`` (None: no ``lr_scheduler``; an
        entry is None for a default group that ``lr_scheduler`` left out).
    """

    name: str
    groups: tuple[dict[str, Any], ...]
    selectors: tuple[Any, ...] = ()
    schedulers: tuple[Scheduler | None, ...] | None = None


_PRESETS: weakref.WeakKeyDictionary[Any, TorchPreset] = weakref.WeakKeyDictionary()


def register(tx: Any, preset: TorchPreset) -> Any:
    """Records what ``tx`` (a preset's result) was built from; returns ``tx``."""
    _PRESETS[tx.init] = preset
    return tx


def preset_of(tx: Any) -> TorchPreset | None:
    """What the ``jopt.compat.torch`` preset ``tx`` was built from (None: not a preset)."""
    init = getattr(tx, "init", None)
    try:
        return _PRESETS.get(init)
    except TypeError:
        return None


def torch_registered(preset: F) -> F:
    """Records each result of a preset without ``param_groups`` (LBFGS: PyTorch's LBFGS
    has one group)."""
    signature = inspect.signature(preset)
    name = preset.__name__

    @functools.wraps(preset)
    def registered(*args: Any, **kwargs: Any) -> Any:
        tx = preset(*args, **kwargs)
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return register(tx, TorchPreset(name, (dict(bound.arguments),)))

    return typing.cast(F, registered)


class ParamGroups(Rule):
    """None, or a list of dicts, each with a ``"params"`` entry (its selector)."""

    kind = "groups"

    def __call__(self, name: str, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
            raise UnnamedTypeError(
                f"{name}={value!r} is invalid; {name} must be a list of dicts, one per group."
            )
        for i, group in enumerate(value):
            if not isinstance(group, Mapping) or "params" not in group:
                raise UnnamedTypeError(
                    f"{name}[{i}]={group!r} is invalid; a group is a dict with a 'params' "
                    "entry (a regular expression, a function (path, leaf) -> bool or a tree "
                    "of bools) and the hyperparameters it overrides."
                )
        return list(value)

    def bad(self) -> dict[str, Any]:
        return {"str": "bias", "dict": {"params": "bias"}, "no-params": [{"lr": 0.1}]}


class LrScheduler(Rule):
    """None, a function ``base_lr -> schedule``, or a list of such functions."""

    kind = "scheduler"

    def __call__(self, name: str, value: Any) -> Any:
        if value is None or callable(value):
            return value
        if isinstance(value, Sequence) and not isinstance(value, str):
            for i, entry in enumerate(value):
                if not callable(entry):
                    raise UnnamedTypeError(
                        f"{name}[{i}]={entry!r} is invalid; {name}[{i}] must be a function "
                        "base_lr -> schedule."
                    )
            return list(value)
        raise UnnamedTypeError(
            f"{name}={value!r} is invalid; {name} must be a function base_lr -> schedule "
            "or a list of them, one per group."
        )

    def bad(self) -> dict[str, Any]:
        return {"number": 0.1, "numbers": [0.1]}


PARAM_GROUPS = ParamGroups()
LR_SCHEDULER = LrScheduler()


def _refuse_default(n: int) -> optax.GradientTransformation:
    def init_fn(params: Any) -> Any:
        raise UnnamedValueError(
            f"lr_scheduler lists {n} schedulers, one per listed group, but some parameters "
            "are in no listed group: they form one more group, which needs a scheduler "
            f"too (list {n + 1})."
        )

    return optax.GradientTransformation(init_fn, lambda u, s, p=None: (u, s))


def _named(call: str, tx: optax.GradientTransformationExtraArgs) -> Any:
    """``tx`` whose ``init``/``update`` name their :class:`Unnamed` errors with ``call``
    (a grouped preset is built here, not by a ``@checked`` factory)."""

    def init_fn(params: Any) -> Any:
        try:
            return tx.init(params)
        except Unnamed as error:
            raise error.named(call) from None

    def update_fn(updates: Any, state: Any, params: Any = None, **extra: Any) -> Any:
        try:
            return tx.update(updates, state, params, **extra)
        except Unnamed as error:
            raise error.named(call) from None

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def torch_groups(preset: F) -> F:
    """Adds ``param_groups`` and ``lr_scheduler`` (keyword-only) to a checked preset."""
    signature = inspect.signature(preset)
    overridable = [n for n, p in signature.parameters.items() if p.kind is not p.VAR_KEYWORD]
    declared_call = declaration(preset)
    call = declared_call.call if declared_call is not None else preset.__name__

    @functools.wraps(preset)
    def grouped(
        *args: Any,
        param_groups: Sequence[Mapping[str, Any]] | None = None,
        lr_scheduler: Scheduler | Sequence[Scheduler] | None = None,
        **kwargs: Any,
    ) -> Any:
        try:
            param_groups = PARAM_GROUPS("param_groups", param_groups)
            lr_scheduler = LR_SCHEDULER("lr_scheduler", lr_scheduler)
        except Unnamed as error:
            raise error.named(call) from None
        plain = preset(*args, **kwargs)  # the preset's own arguments, checked as such
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        base = dict(bound.arguments)
        if param_groups is None and lr_scheduler is None:
            return register(plain, TorchPreset(preset.__name__, (base,)))
        groups = list(param_groups or [])
        for i, group in enumerate(groups):
            unknown = sorted(set(group) - {"params", *overridable})
            if unknown:
                raise TypeError(
                    f"{call}: param_groups[{i}] has unknown keys {unknown}; a group may "
                    f"override {overridable}."
                )
        configs = [{**base, **{k: v for k, v in g.items() if k != "params"}} for g in groups] + [
            base
        ]
        own = tuple(dict(config) for config in configs)
        per_group: tuple[Scheduler | None, ...] | None = None
        if lr_scheduler is not None:
            if callable(lr_scheduler):
                schedulers = [lr_scheduler] * len(configs)
            else:
                schedulers = list(lr_scheduler)
                if len(schedulers) not in (len(groups), len(groups) + 1):
                    raise ValueError(
                        f"{call}: lr_scheduler lists {len(schedulers)} schedulers for "
                        f"{len(groups)} listed groups (and the group of the other "
                        f"parameters); list {len(groups)} or {len(groups) + 1}."
                    )
            for config, scheduler in zip(configs, schedulers, strict=False):
                config["lr"] = scheduler(config["lr"])
            per_group = tuple(schedulers) + (None,) * (len(configs) - len(schedulers))
            default_missing = not callable(lr_scheduler) and len(schedulers) == len(groups)
        else:
            default_missing = False
        transforms = []
        for i, config in enumerate(configs):
            if default_missing and i == len(groups):
                transforms.append(_refuse_default(len(groups)))
                continue
            try:
                transforms.append(preset(**config))
            except (TypeError, ValueError) as error:
                where = f"param_groups[{i}]" if i < len(groups) else "the default group"
                raise type(error)(f"{error} (in {where})") from None
        selectors = [g["params"] for g in groups]
        tx = _named(call, groups_transform(selectors, transforms[:-1], transforms[-1]))
        return register(tx, TorchPreset(preset.__name__, own, tuple(selectors), per_group))

    extra = [
        inspect.Parameter("param_groups", inspect.Parameter.KEYWORD_ONLY, default=None),
        inspect.Parameter("lr_scheduler", inspect.Parameter.KEYWORD_ONLY, default=None),
    ]
    grouped.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), *extra]
    )
    declared = declaration(preset)
    assert declared is not None, f"{call}: torch_groups wraps a @checked preset"
    grouped.__jopt_declaration__ = Declaration(  # type: ignore[attr-defined]
        declared.call,
        {**declared.rules, "param_groups": PARAM_GROUPS, "lr_scheduler": LR_SCHEDULER},
        declared.relations,
    )
    return typing.cast(F, grouped)
