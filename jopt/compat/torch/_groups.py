"""PyTorch's parameter groups and per-group schedulers on every ``jopt.compat.torch``
preset: ``param_groups=[{"params": selector, "lr": …}, …]`` and ``lr_scheduler=``.

Each group is the preset called again with the group's overrides (so it is checked as
PyTorch checks a group), on the leaves its ``"params"`` selects
(:func:`jopt._core.groups.param_groups`); the leaves no group selects form the last group,
with the preset's own arguments. ``lr_scheduler`` takes three forms:

- a callable ``base_lr -> schedule``, applied to each group's own rate (PyTorch's
  scheduler with one argument for every group: ``functools.partial(jopt.schedules.step_lr,
  step_size=30)``);
- a list of such callables, one per group (PyTorch's list arguments: ``LambdaLR`` and
  ``MultiplicativeLR`` lambdas, ``OneCycleLR``'s ``max_lr``, ``CyclicLR``'s ``base_lr``
  and ``max_lr``, ``SWALR``'s ``swa_lr``: ``[lambda lr: one_cycle_lr(0.1, 100), …]``);
  the callable may ignore the group's rate, as those schedulers do. ``SequentialLR`` and
  ``ChainedScheduler`` are :func:`jopt.schedules.sequential_lr` and
  :func:`jopt.schedules.chained_lr` built inside the callable from the group's rate;
- :func:`ReduceLROnPlateau`, which cuts every group's rate when the metric ``value=`` of
  ``update`` stalls (its ``min_lr`` may be a list, one per group).

The momentum PyTorch's ``CyclicLR``/``OneCycleLR`` cycle (``cycle_momentum=True``) is a
group's ``"momentum"`` (or ``"betas"``' first entry) given as a schedule,
:func:`jopt.schedules.cyclic_momentum` or :func:`jopt.schedules.one_cycle_momentum` (one
per group for per-group ``base_momentum``/``max_momentum``).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

import jax
import numpy as np
import optax

from jopt._algorithms.control.plateau import ReduceLROnPlateauState, reduce_lr_on_plateau
from jopt._core.checks import (
    Declaration,
    Rule,
    Unnamed,
    UnnamedTypeError,
    UnnamedValueError,
    checked,
    choice,
    declaration,
    integer,
    nonnegative,
    unit_interval,
)
from jopt._core.dtypes import cast, compute_dtype
from jopt._core.groups import param_groups as groups_transform
from jopt._core.learning_rate import ScaleByLearningRateState
from jopt._core.registry import Registry
from jopt.compat.torch._common import EPS

F = TypeVar("F", bound=Callable[..., Any])
Scheduler = Callable[[Any], Any]


class MinLr(Rule):
    """A number >= 0, or a list of them (one per group)."""

    kind = "min_lr"

    def __call__(self, name: str, value: Any) -> Any:
        entry = nonnegative()
        if isinstance(value, (list, tuple)):
            return tuple(float(entry(f"{name}[{i}]", v)) for i, v in enumerate(value))
        return float(entry(name, value))

    def bad(self) -> dict[str, Any]:
        return {"negative": -1.0, "entry": [0.0, -1.0], "text": "0"}


@dataclasses.dataclass(frozen=True)
class PlateauScheduler:
    """PyTorch's ``ReduceLROnPlateau`` arguments, as :func:`ReduceLROnPlateau` checked them
    (build it with that function, which checks them).

    Args:
      mode: ``"min"`` or ``"max"``.
      factor: the cut, in [0, 1).
      patience: the bad epochs tolerated before a cut.
      threshold: the margin an improvement must beat.
      threshold_mode: ``"rel"`` or ``"abs"``.
      cooldown: the epochs after a cut during which bad epochs are not counted.
      min_lr: a float, or a tuple of floats (one per group).
      eps: a cut smaller than ``eps`` is not made.

    >>> import jopt.compat.torch as jt
    >>> jt.ReduceLROnPlateau(min_lr=[0.1, 0.0]).min_lr
    (0.1, 0.0)
    """

    mode: str
    factor: float
    patience: int
    threshold: float
    threshold_mode: str
    cooldown: int
    min_lr: float | tuple[float, ...]
    eps: float

    def min_lrs(self, n_listed: int, call: str) -> list[float]:
        """Each group's ``min_lr`` for ``n_listed`` listed groups and the default group
        (None for a default group a list of ``n_listed`` leaves out)."""
        if not isinstance(self.min_lr, tuple):
            return [self.min_lr] * (n_listed + 1)
        if len(self.min_lr) not in (n_listed, n_listed + 1):
            raise ValueError(
                f"{call}: ReduceLROnPlateau's min_lr lists {len(self.min_lr)} rates for "
                f"{n_listed} listed groups (and the group of the other parameters); list "
                f"{n_listed} or {n_listed + 1}."
            )
        return list(self.min_lr)


@checked(
    mode=choice("min", "max"),
    factor=unit_interval(),
    patience=integer(0),
    threshold=nonnegative(),
    threshold_mode=choice("rel", "abs"),
    cooldown=integer(0),
    min_lr=MinLr(),
    eps=EPS,
)
def ReduceLROnPlateau(  # noqa: N802 (PyTorch's class name)
    mode: str = "min",
    factor: float = 0.1,
    patience: int = 10,
    threshold: float = 1e-4,
    threshold_mode: str = "rel",
    cooldown: int = 0,
    min_lr: float | Sequence[float] = 0.0,
    eps: float = 1e-8,
) -> PlateauScheduler:
    """``torch.optim.lr_scheduler.ReduceLROnPlateau`` for ``lr_scheduler=`` of a preset.

    PyTorch's arguments (without the optimizer). Each group's rate α_i is cut when the
    metric stalls, as PyTorch's ``scheduler.step(metric)`` after ``optimizer.step()``::

        better = metric < best·(1 − threshold)  (min, rel)  |  metric < best − threshold  (min, abs)
                 metric > best·(1 + threshold)  (max, rel)  |  metric > best + threshold  (max, abs)
        if better: best = metric; bad = 0  else: bad += 1
        if cooldown_counter > 0: cooldown_counter −= 1; bad = 0
        if bad > patience:
            for each group: new = max(α_i·factor, min_lr_i); if α_i − new > eps: α_i = new
            cooldown_counter = cooldown; bad = 0

    The preset's ``update`` then takes the monitored metric of that step as ``value=``
    (``tx.update(grads, state, params, value=loss)``): the update runs at the current
    rates, then ``value`` is taken into account for the next one, PyTorch's
    ``optimizer.step(); scheduler.step(loss)``. Each group's state holds a
    :class:`jopt.ReduceLROnPlateauState` (the scale α_i / lr_i) and the rate the last update
    used, which :func:`jopt.get_learning_rate` reports (one per group). Every group's rate
    must be a number (no schedule), and the preset's step linear in it (not ``Rprop``,
    ``ASGD``, ``Adafactor``, whose rate enters otherwise).

    Args:
      mode: ``"min"`` (the metric should fall) or ``"max"``.
      factor: the cut, α ← α·factor, in [0, 1).
      patience: the bad epochs tolerated before a cut, an integer >= 0.
      threshold: the margin an improvement must beat, >= 0.
      threshold_mode: ``"rel"`` (a fraction of ``best``) or ``"abs"``.
      cooldown: the epochs after a cut during which bad epochs are not counted, >= 0.
      min_lr: the floor of every group's rate, >= 0, or a list with one per group
        (the listed groups, then the group of the other parameters).
      eps: a cut smaller than ``eps`` is not made, >= 0.

    Returns:
      A scheduler for ``lr_scheduler=`` of any ``jopt.compat.torch`` preset.

    >>> import jax.numpy as jnp, jopt
    >>> import jopt.compat.torch as jt
    >>> tx = jt.SGD(lr=1.0, param_groups=[{"params": "b", "lr": 0.5}],
    ...             lr_scheduler=jt.ReduceLROnPlateau(factor=0.5, patience=0, min_lr=[0.3, 0.0]))
    >>> params = {"a": jnp.zeros(1), "b": jnp.zeros(1)}
    >>> state = tx.init(params)
    >>> for loss in [2.0, 3.0, 3.0]:
    ...     _, state = tx.update(params, state, params, value=loss)
    ...     print(jopt.get_learning_rate(state))
    [0.5 1. ]
    [0.5 1. ]
    [0.3 0.5]
    """
    floor = typing.cast("float | tuple[float, ...]", min_lr)  # MinLr made a list a tuple
    arguments = (mode, factor, patience, threshold, threshold_mode, cooldown, floor, eps)
    return PlateauScheduler(*arguments)


# Presets whose rate is not a factor of the step (a cut of it is not a cut of the step).
_NOT_LINEAR_IN_LR = frozenset({"Rprop", "ASGD", "Adafactor"})


class PlateauGroupState(NamedTuple):
    """A group under :func:`ReduceLROnPlateau`.

    Args:
      learning_rate: the rate the last update used, α·scale (before the first update,
        the rate it will use); :func:`jopt.get_learning_rate` reads it.
      plateau: the scheduler's state; ``scale`` is the rate of the next update over the
        group's ``lr``.
      inner: the group's optimizer state (its rate the group's ``lr``).
    """

    learning_rate: ScaleByLearningRateState
    plateau: ReduceLROnPlateauState
    inner: Any


def plateau_group(
    tx: optax.GradientTransformation, spec: PlateauScheduler, lr: Any, min_lr: float
) -> optax.GradientTransformationExtraArgs:
    """``tx`` (a group's preset, at rate ``lr``) whose updates are scaled by the plateau's
    scale, which takes ``value=`` into account after the update (PyTorch's order)."""
    tx = optax.with_extra_args_support(tx)
    positive = float(np.asarray(lr)) > 0
    plateau = reduce_lr_on_plateau(
        factor=spec.factor,
        patience=spec.patience,
        threshold=spec.threshold,
        threshold_mode=spec.threshold_mode,
        cooldown=spec.cooldown,
        mode=spec.mode,
        eps=spec.eps,
        min_lr=min_lr if positive else None,
        base_lr=lr if positive else None,
    )

    def rate(scale: jax.Array) -> ScaleByLearningRateState:
        return ScaleByLearningRateState(cast(lr, scale.dtype) * scale)

    def init_fn(params: Any) -> PlateauGroupState:
        inner = tx.init(params)
        state = typing.cast(ReduceLROnPlateauState, plateau.init(params))
        return PlateauGroupState(rate(state.scale), state, inner)

    def update_fn(
        updates: Any, state: Any, params: Any = None, *, value: Any = None, **extra: Any
    ) -> tuple[Any, PlateauGroupState]:
        if value is None:
            raise UnnamedValueError(
                "update() needs the monitored metric as value= (lr_scheduler="
                "ReduceLROnPlateau(...)), e.g. tx.update(grads, state, params, value=loss)."
            )
        scale = state.plateau.scale
        out, inner = tx.update(updates, state.inner, params, **extra)

        def scaled(g: jax.Array) -> jax.Array:
            dt = compute_dtype(g)
            return (g.astype(dt) * cast(scale, dt)).astype(g.dtype)

        out = jax.tree.map(scaled, out)
        after = typing.cast(
            ReduceLROnPlateauState, plateau.update(out, state.plateau, value=value)[1]
        )
        return out, PlateauGroupState(rate(scale), after, inner)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@dataclasses.dataclass(frozen=True)
class TorchPreset:
    """What a ``jopt.compat.torch`` preset was built from (read by the checkpoint code).

    Args:
      name: the ``torch.optim`` class, e.g. ``"AdamW"``.
      groups: each group's arguments, PyTorch's ``param_groups`` order: the listed groups,
        then the group of the other parameters (a preset without ``param_groups`` has
        that one group only). ``lr`` is the group's own rate, before ``lr_scheduler``.
      selectors: each listed group's ``"params"``.
      schedulers: each group's ``base_lr -> schedule`` (None: no ``lr_scheduler``, or
        :func:`ReduceLROnPlateau`; an entry is None for a default group that
        ``lr_scheduler`` left out).
      plateau: the :func:`ReduceLROnPlateau` given as ``lr_scheduler`` (None: none).
    """

    name: str
    groups: tuple[dict[str, Any], ...]
    selectors: tuple[Any, ...] = ()
    schedulers: tuple[Scheduler | None, ...] | None = None
    plateau: PlateauScheduler | None = None


_PRESETS = Registry[TorchPreset]()
register = _PRESETS.record
"""Records what ``tx`` (a preset's result) was built from; returns ``tx``."""
preset_of = _PRESETS.of
"""What the ``jopt.compat.torch`` preset ``tx`` was built from (None: not a preset)."""


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
    """None, a function ``base_lr -> schedule``, a list of such functions, or
    :func:`ReduceLROnPlateau`."""

    kind = "scheduler"

    def __call__(self, name: str, value: Any) -> Any:
        if value is None or callable(value) or isinstance(value, PlateauScheduler):
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
            f"{name}={value!r} is invalid; {name} must be a function base_lr -> schedule, "
            "a list of them (one per group) or jopt.compat.torch.ReduceLROnPlateau(...)."
        )

    def bad(self) -> dict[str, Any]:
        return {"number": 0.1, "numbers": [0.1]}


PARAM_GROUPS = ParamGroups()
LR_SCHEDULER = LrScheduler()


def _refuse_default(n: int, what: str = "lr_scheduler lists {n} schedulers") -> Any:
    def init_fn(params: Any) -> Any:
        raise UnnamedValueError(
            f"{what.format(n=n)}, one per listed group, but some parameters are in no "
            "listed group: they form one more group, which needs one too "
            f"(list {n + 1})."
        )

    def update_fn(updates: Any, state: Any, params: Any = None) -> Any:
        return updates, state

    return optax.GradientTransformation(init_fn, update_fn)


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


_GROUP_ARGS = (
    'param_groups: PyTorch\'s parameter groups, a list of dicts: ``"params"`` (a regular',
    "  expression matched in full against a leaf's ``/`` path, a function",
    "  ``(path, leaf) -> bool`` or a tree of bools) and the arguments the group overrides;",
    "  the other leaves form the last group (see :mod:`jopt.compat.torch`).",
    "lr_scheduler: a function ``base_lr -> schedule`` applied to each group's rate, a list",
    "  of them (one per group), or a :class:`ReduceLROnPlateau`.",
)


def _with_group_args(doc: str) -> str:
    """``doc`` with ``param_groups`` and ``lr_scheduler`` at the end of its ``Args:``."""
    lines = doc.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == "Returns:":
            indent = line[: len(line) - len(line.lstrip())] + "  "
            while i > 0 and not lines[i - 1].strip():
                i -= 1
            return "\n".join([*lines[:i], *(indent + a for a in _GROUP_ARGS), *lines[i:]])
    return doc


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
        lr_scheduler: Scheduler | Sequence[Scheduler] | PlateauScheduler | None = None,
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
        plateau = lr_scheduler if isinstance(lr_scheduler, PlateauScheduler) else None
        min_lrs: list[float] = []
        if plateau is not None:
            if preset.__name__ in _NOT_LINEAR_IN_LR:
                raise ValueError(
                    f"{call}: lr_scheduler=ReduceLROnPlateau(...) cuts the rate by scaling "
                    f"the step; {preset.__name__}'s step is not proportional to its lr."
                )
            for i, config in enumerate(configs):
                if callable(config["lr"]):
                    where = f"param_groups[{i}]" if i < len(groups) else "the default group"
                    raise ValueError(
                        f"{call}: lr_scheduler=ReduceLROnPlateau(...) needs a number as the "
                        f"rate of each group, not a schedule (in {where})."
                    )
            min_lrs = plateau.min_lrs(len(groups), call)
            default_missing = len(min_lrs) == len(groups)
        elif lr_scheduler is not None:
            if callable(lr_scheduler):
                schedulers = [lr_scheduler] * len(configs)
            else:
                schedulers = list(typing.cast(Sequence[Scheduler], lr_scheduler))
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
                what = "ReduceLROnPlateau's min_lr lists {n} rates" if plateau else None
                transforms.append(_refuse_default(len(groups), *([what] if what else [])))
                continue
            try:
                transform = preset(**config)
            except (TypeError, ValueError) as error:
                where = f"param_groups[{i}]" if i < len(groups) else "the default group"
                raise type(error)(f"{error} (in {where})") from None
            if plateau is not None:
                transform = plateau_group(transform, plateau, config["lr"], min_lrs[i])
            transforms.append(transform)
        selectors = [g["params"] for g in groups]
        tx = _named(call, groups_transform(selectors, transforms[:-1], transforms[-1]))
        preset_record = TorchPreset(preset.__name__, own, tuple(selectors), per_group, plateau)
        return register(tx, preset_record)

    extra = [
        inspect.Parameter("param_groups", inspect.Parameter.KEYWORD_ONLY, default=None),
        inspect.Parameter("lr_scheduler", inspect.Parameter.KEYWORD_ONLY, default=None),
    ]
    grouped.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), *extra]
    )
    grouped.__doc__ = _with_group_args(preset.__doc__ or "")
    declared = declaration(preset)
    assert declared is not None, f"{call}: torch_groups wraps a @checked preset"
    grouped.__jopt_declaration__ = Declaration(  # type: ignore[attr-defined]
        declared.call,
        {**declared.rules, "param_groups": PARAM_GROUPS, "lr_scheduler": LR_SCHEDULER},
        declared.relations,
    )
    return typing.cast(F, grouped)
