"""PyTorch's ``lr_scheduler`` state dicts in and out of a ``jopt.compat.torch`` preset's state.

A preset built with ``lr_scheduler=`` (see :mod:`jopt.compat.torch._groups`) evaluates each
group's schedule at the count of updates the group's learning-rate step has applied, which
is PyTorch's ``last_epoch`` under ``optimizer.step(); scheduler.step()``. So a scheduler
state is, in jopt, that count (per group), plus for :func:`ReduceLROnPlateau` the
scheduler's own ``best``, ``num_bad_epochs``, ``cooldown_counter`` and the cut rates.

What is read (:func:`load_scheduler_state`):

- ``last_epoch`` (``SWALR``: ``_step_count - 1``, the count its rates follow;
  ``ChainedScheduler``: its children's common ``last_epoch``) sets the count of each group's
  learning-rate step (:class:`jopt.ScaleByScheduleState`) and of a group's momentum or β1
  schedule (``CyclicLR``/``OneCycleLR``'s ``cycle_momentum``). Where that momentum count is
  also the optimizer's own step (Adam's bias correction, SGD's dampened first step), it
  belongs to the optimizer's state: it must already equal ``last_epoch``.
- ``_last_lr`` and ``base_lrs`` are checked (one rate per group; ``_last_lr`` must be the
  schedule's rate at ``last_epoch`` to a relative 1e-6: a state from a scheduler built with
  other arguments is refused).
- ``ReduceLROnPlateau``: ``best``, ``num_bad_epochs``, ``cooldown_counter``, ``last_epoch``
  and ``_last_lr`` (each group's scale is ``_last_lr[i] / lr_i``); its arguments present in
  the dict (``mode``, ``factor``, ``patience``, ``threshold``, ``threshold_mode``,
  ``cooldown``, ``eps``, ``min_lrs``) must equal the preset's.

What is written (:func:`scheduler_state_dict`): what changes as the scheduler steps, not
its constructor's arguments, so ``scheduler.load_state_dict(d)`` (an update of the
scheduler's ``__dict__``) on a scheduler built with the same arguments continues with the
same rates: ``last_epoch``, ``_step_count``, ``_last_lr``, ``base_lrs``, ``_is_initial``,
``_get_lr_called_within_step``; ``lr_lambdas`` (``[None, …]``, which ``LambdaLR`` and
``MultiplicativeLR`` require) and ``_scale_fn_custom`` (None, ``CyclicLR``'s, as required);
``T_cur`` and ``T_i`` (``CosineAnnealingWarmRestarts``);
``_milestones`` and ``_schedulers`` (``SequentialLR``, ``ChainedScheduler``: the children's
states, those not yet in force as a fresh ``SequentialLR`` holds them). ``ReduceLROnPlateau``
is written in full (its arguments too), as PyTorch writes it. Each value written equals the
one in PyTorch's own ``state_dict()`` after as many steps (tests/compat/torch compare them
key by key, the children's too). PyTorch's chainable
schedulers also read each group's ``"lr"`` in the optimizer: load the optimizer's state
dict too (its ``param_groups`` carry the rates), or set ``group["lr"] = _last_lr[i]``.
The class of a schedule is known for the :mod:`jopt.schedules` functions; a schedule
written by hand gets the common keys only.

After a load, :func:`jopt.get_learning_rate` reports what it reports after ``last_epoch``
updates: each group's rate of the last update applied (``schedule(last_epoch - 1)``); for
``ReduceLROnPlateau``, whose earlier rates the state does not hold, ``_last_lr`` (the rate
of the next update, PyTorch's ``get_last_lr()``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jopt._algorithms.control.plateau import ReduceLROnPlateauState
from jopt._algorithms.sgd.sgd import ScaleByCountedTraceState
from jopt._core.checks import UnnamedTypeError, UnnamedValueError, checked, unchecked
from jopt._core.groups import ParamGroupsState
from jopt._core.learning_rate import ScaleByLearningRateState, ScaleByScheduleState
from jopt._core.state import find_states
from jopt.compat.torch._groups import PlateauGroupState, PlateauScheduler, TorchPreset, preset_of
from jopt.schedules._common import description

_RTOL = 1e-6  # _last_lr against the schedule: a check of the configuration, not of rounding

# The keys that tell a torch scheduler's class apart in its state dict.
_SIGNATURE_KEYS = {
    "step_size": ("StepLR",),
    "milestones": ("MultiStepLR",),
    "start_factor": ("LinearLR",),
    "power": ("PolynomialLR",),
    "T_max": ("CosineAnnealingLR",),
    "T_0": ("CosineAnnealingWarmRestarts",),
    "max_lrs": ("CyclicLR",),
    "total_steps": ("OneCycleLR",),
    "anneal_epochs": ("SWALR",),
    "lr_lambdas": ("LambdaLR", "MultiplicativeLR"),
    "_milestones": ("SequentialLR",),
}


# Any of them: a ReduceLROnPlateau's state (one with some of its keys missing too).
_PLATEAU_KEYS = ("best", "num_bad_epochs", "cooldown_counter", "mode_worse", "patience")


def _torch_class(sd: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The torch classes a scheduler state dict can be from (None: not told by its keys)."""
    if any(key in sd for key in _PLATEAU_KEYS):
        return ("ReduceLROnPlateau",)
    for key, classes in _SIGNATURE_KEYS.items():
        if key in sd:
            return classes
    if "_schedulers" in sd:
        return ("ChainedScheduler",)
    if "factor" in sd and "total_iters" in sd:
        return ("ConstantLR",)
    if "gamma" in sd:
        return ("ExponentialLR",)
    return None


def _require(sd: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in sd:
        raise UnnamedValueError(
            f"scheduler_state_dict{where} has no {key!r}; a torch scheduler's state_dict() "
            f"holds it (keys: {sorted(sd)})."
        )
    return sd[key]


def _integer(sd: Mapping[str, Any], key: str, where: str) -> int:
    value = _require(sd, key, where)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise UnnamedTypeError(
            f"scheduler_state_dict{where}[{key!r}]={value!r} is invalid; it must be an integer."
        )
    return int(value)


def _rates(sd: Mapping[str, Any], key: str, n: int, where: str = "") -> list[float]:
    value = _require(sd, key, where)
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise UnnamedTypeError(
            f"scheduler_state_dict{where}[{key!r}]={value!r} is invalid; it must be a list "
            f"of {n} numbers, one per group."
        )
    if len(value) != n:
        raise UnnamedValueError(
            f"scheduler_state_dict{where}[{key!r}] lists {len(value)} rates for the "
            f"{n} groups of this optimizer state; a state of another optimizer?"
        )
    return [float(v) for v in value]


def _preset(tx: Any) -> TorchPreset:
    preset = preset_of(tx)
    if preset is None:
        raise UnnamedValueError(
            f"tx={tx!r} is not a jopt.compat.torch preset; scheduler states are read and "
            "written for presets built with lr_scheduler=."
        )
    if preset.schedulers is None and preset.plateau is None:
        raise UnnamedValueError(
            f"tx is a jopt.compat.torch.{preset.name} without lr_scheduler=; it has no "
            "scheduler state."
        )
    return preset


def _group_states(opt_state: Any, preset: TorchPreset) -> tuple[Any, ...]:
    found = find_states(opt_state, (ParamGroupsState,))
    if not found:
        raise UnnamedValueError(
            "opt_state holds no parameter groups; pass the state tx.init(params) returned "
            "(or one updated since)."
        )
    groups = found[0].groups
    listed = len(preset.groups) - 1
    if len(groups) not in (listed, listed + 1):
        raise UnnamedValueError(
            f"opt_state holds {len(groups)} groups, tx has {listed} listed groups (and the "
            "group of the other parameters); a state of another optimizer?"
        )
    return groups


def _replace_groups(opt_state: Any, groups: Sequence[Any]) -> Any:
    def swap(x: Any) -> Any:
        return ParamGroupsState(tuple(groups)) if isinstance(x, ParamGroupsState) else x

    return jax.tree.map(swap, opt_state, is_leaf=lambda x: isinstance(x, ParamGroupsState))


def _value(schedule: Callable[[Any], Any], k: int) -> float:
    return float(schedule(jnp.asarray(k, jnp.int32)))


def _schedules(preset: TorchPreset, n: int) -> list[Callable[[Any], Any]]:
    assert preset.schedulers is not None
    out = []
    for i in range(n):
        scheduler = preset.schedulers[i]
        assert scheduler is not None  # a default group without one is refused at init
        out.append(scheduler(preset.groups[i]["lr"]))
    return out


def _class_of(schedules: Sequence[Any]) -> tuple[str, dict[str, Any]] | None:
    """The torch class every group's schedule reproduces (None: unknown, or not one)."""
    found = [description(s) for s in schedules]
    names = {f[0] if f is not None else None for f in found}
    if len(names) != 1 or None in names:
        return None
    return found[0]


# --------------------------------------------------------------------------- counts


def _momentum_scheduled(config: Mapping[str, Any]) -> bool:
    betas = config.get("betas")
    first = betas[0] if isinstance(betas, (tuple, list)) and betas else None
    return callable(config.get("momentum")) or callable(first)


def _set_counts(group: Any, config: Mapping[str, Any], k: int, last_rate: float, i: int) -> Any:
    """``group``'s state with its rate's count (and its momentum schedule's) at ``k``."""
    momentum = _momentum_scheduled(config)
    kinds = (ScaleByScheduleState, ScaleByCountedTraceState)

    def is_state(x: Any) -> bool:
        return isinstance(x, kinds) or (
            momentum and hasattr(x, "_fields") and "count" in getattr(x, "_fields", ())
        )

    def visit(x: Any) -> Any:
        if isinstance(x, ScaleByScheduleState):
            return ScaleByScheduleState(
                jnp.full_like(x.count, k), jnp.full_like(x.learning_rate, last_rate)
            )
        if not momentum or not is_state(x) or isinstance(x, ReduceLROnPlateauState):
            return x
        if isinstance(x, ScaleByCountedTraceState) and not config.get("dampening"):
            return x._replace(count=jnp.full_like(x.count, k))  # read by the schedule only
        count = int(np.asarray(x.count))
        if count != k:
            raise UnnamedValueError(
                f"group {i}'s momentum is a schedule evaluated at {type(x).__name__}.count "
                f"= {count}, the optimizer's own step (its bias correction or first step), "
                f"and the scheduler's last_epoch is {k}; load the optimizer's state of the "
                "same point of the run first."
            )
        return x

    return jax.tree.map(visit, group, is_leaf=is_state)


# ----------------------------------------------------------------------------- loading


def _last_epoch(sd: Mapping[str, Any], classes: tuple[str, ...] | None) -> int:
    if classes == ("ChainedScheduler",):
        children = _require(sd, "_schedulers", "")
        epochs = {
            _integer(child, "last_epoch", f"['_schedulers'][{j}]")
            for j, child in enumerate(children)
        }
        if len(epochs) != 1:
            raise UnnamedValueError(
                f"scheduler_state_dict['_schedulers'] hold last_epoch {sorted(epochs)}; "
                "a ChainedScheduler steps its children together."
            )
        return epochs.pop()
    k = _integer(sd, "last_epoch", "")
    if classes == ("SWALR",):
        return _integer(sd, "_step_count", "") - 1  # SWALR's rates follow _step_count
    if classes not in (("SequentialLR",),):
        _integer(sd, "_step_count", "")
    return k


def _check_class(sd: Mapping[str, Any], classes: tuple[str, ...] | None, ours: str | None) -> None:
    plateau_sd = classes == ("ReduceLROnPlateau",)
    if plateau_sd != (ours == "ReduceLROnPlateau"):
        theirs = "a ReduceLROnPlateau's" if plateau_sd else "another scheduler's"
        mine = "ReduceLROnPlateau" if ours == "ReduceLROnPlateau" else "a schedule"
        raise UnnamedValueError(
            f"scheduler_state_dict is {theirs} state (keys {sorted(sd)}), and tx's "
            f"lr_scheduler is {mine}."
        )
    if ours is not None and classes is not None and ours not in classes:
        raise UnnamedValueError(
            f"scheduler_state_dict is a {' or '.join(classes)}'s state (keys {sorted(sd)}), "
            f"and tx's lr_scheduler is {ours}."
        )


def _check_children(sd: Mapping[str, Any], ours: tuple[str, dict[str, Any]]) -> None:
    name, arguments = ours
    children = _require(sd, "_schedulers", "")
    mine = arguments["schedules"] if name == "SequentialLR" else arguments["factors"]
    if len(children) != len(mine):
        raise UnnamedValueError(
            f"scheduler_state_dict['_schedulers'] holds {len(children)} schedulers, and tx's "
            f"{name} has {len(mine)}."
        )
    if name == "SequentialLR":
        milestones = list(_require(sd, "_milestones", ""))
        if milestones != list(arguments["milestones"]):
            raise UnnamedValueError(
                f"scheduler_state_dict['_milestones']={milestones!r}, and tx's SequentialLR "
                f"has milestones={list(arguments['milestones'])!r}."
            )


def _load_plateau(preset: TorchPreset, groups: Sequence[Any], sd: Mapping[str, Any]) -> list[Any]:
    spec = preset.plateau
    assert spec is not None
    n = len(groups)
    mine = _plateau_arguments(spec, preset, n)
    for key in ("mode", "factor", "patience", "threshold", "threshold_mode", "cooldown", "eps"):
        if key in sd and sd[key] != mine[key]:
            raise UnnamedValueError(
                f"scheduler_state_dict[{key!r}]={sd[key]!r}, and tx's "
                f"ReduceLROnPlateau has {key}={mine[key]!r}."
            )
    if "min_lrs" in sd and _rates(sd, "min_lrs", n) != mine["min_lrs"]:
        raise UnnamedValueError(
            f"scheduler_state_dict['min_lrs']={sd['min_lrs']!r}, and tx's "
            f"ReduceLROnPlateau has min_lr {mine['min_lrs']!r} per group."
        )
    best = float(_require(sd, "best", ""))
    bad = _integer(sd, "num_bad_epochs", "")
    cooling = _integer(sd, "cooldown_counter", "")
    k = _integer(sd, "last_epoch", "")
    last = _rates(sd, "_last_lr", n)
    out = []
    for i, group in enumerate(groups):
        if not isinstance(group, PlateauGroupState):
            raise UnnamedValueError(f"opt_state's group {i} is not a ReduceLROnPlateau group.")
        lr = float(np.asarray(preset.groups[i]["lr"]))
        p = group.plateau
        scale = last[i] / lr if lr > 0 else 1.0
        plateau = ReduceLROnPlateauState(
            best=jnp.full_like(p.best, best),
            num_bad_epochs=jnp.full_like(p.num_bad_epochs, bad),
            cooldown_counter=jnp.full_like(p.cooldown_counter, cooling),
            scale=jnp.full_like(p.scale, scale),
            count=jnp.full_like(p.count, k),
        )
        rate = ScaleByLearningRateState(jnp.full_like(group.learning_rate.learning_rate, last[i]))
        out.append(PlateauGroupState(rate, plateau, group.inner))
    return out


def load_scheduler_state(tx: Any, opt_state: Any, scheduler_state_dict: Mapping[str, Any]) -> Any:
    """``opt_state`` (of the preset ``tx``) with the scheduler state ``scheduler_state_dict``
    (a torch ``scheduler.state_dict()``) loaded; see the module's docstring for what is
    read and checked. Raises :class:`jopt._core.checks.UnnamedValueError` (the public
    caller names it) for a state of another kind, a missing key or a mismatched length.

    >>> import functools, torch
    >>> import jax.numpy as jnp, jopt
    >>> import jopt.compat.torch as jt, jopt.schedules as schedules
    >>> from jopt.compat.torch._scheduler_state import load_scheduler_state
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    >>> for _ in range(3):
    ...     opt.step(); sched.step()
    >>> tx = jt.SGD(0.1, lr_scheduler=functools.partial(schedules.step_lr, step_size=2,
    ...                                                  gamma=0.5))
    >>> state = load_scheduler_state(tx, tx.init(jnp.zeros(1)), sched.state_dict())
    >>> _, state = tx.update(jnp.zeros(1), state)
    >>> float(jopt.get_learning_rate(state)[0]), opt.param_groups[0]["lr"]
    (0.05, 0.05)
    """
    if not isinstance(scheduler_state_dict, Mapping):
        raise UnnamedTypeError(
            f"scheduler_state_dict={scheduler_state_dict!r} is invalid; it must be a dict, "
            "a torch scheduler's state_dict()."
        )
    sd = scheduler_state_dict
    preset = _preset(tx)
    groups = list(_group_states(opt_state, preset))
    n = len(groups)
    classes = _torch_class(sd)
    if preset.plateau is not None:
        _check_class(sd, classes, "ReduceLROnPlateau")
        return _replace_groups(opt_state, _load_plateau(preset, groups, sd))
    schedules = _schedules(preset, n)
    ours = _class_of(schedules)
    _check_class(sd, classes, ours[0] if ours else None)
    k = _last_epoch(sd, classes)
    if k < 0:
        raise UnnamedValueError(
            f"scheduler_state_dict's last_epoch is {k}; a scheduler that has stepped "
            "(constructed: 0) has last_epoch >= 0."
        )
    if "_schedulers" not in sd:
        _rates(sd, "base_lrs", n)
    if ours is not None and ours[0] in ("SequentialLR", "ChainedScheduler"):
        _check_children(sd, ours)
    last = _rates(sd, "_last_lr", n)
    for i, (schedule, rate) in enumerate(zip(schedules, last, strict=True)):
        mine = _value(schedule, k)
        # rates far below the group's own (a cosine's end) are compared to it instead
        floor = _RTOL * 1e-3 * abs(float(np.asarray(preset.groups[i]["lr"])))
        if not math.isclose(mine, rate, rel_tol=_RTOL, abs_tol=floor):
            raise UnnamedValueError(
                f"scheduler_state_dict['_last_lr'][{i}]={rate!r}, and tx's schedule of "
                f"group {i} gives {mine!r} at last_epoch={k}; a scheduler built with other "
                "arguments?"
            )
    out = [
        _set_counts(group, preset.groups[i], k, _value(schedules[i], max(k - 1, 0)), i)
        for i, group in enumerate(groups)
    ]
    return _replace_groups(opt_state, out)


# ----------------------------------------------------------------------------- writing


def _plateau_arguments(spec: PlateauScheduler, preset: TorchPreset, n: int) -> dict[str, Any]:
    listed = len(preset.groups) - 1
    per_group = spec.min_lrs(listed, "jopt.compat.torch.scheduler_state_dict")
    return {
        "factor": spec.factor,
        "default_min_lr": None if isinstance(spec.min_lr, tuple) else spec.min_lr,
        "min_lrs": [float(m) for m in per_group[:n]],
        "patience": spec.patience,
        "cooldown": spec.cooldown,
        "eps": spec.eps,
        "mode": spec.mode,
        "threshold": spec.threshold,
        "threshold_mode": spec.threshold_mode,
        "mode_worse": math.inf if spec.mode == "min" else -math.inf,
    }


def _count(groups: Sequence[Any]) -> int:
    counts = {int(np.asarray(s.count)) for s in find_states(groups, (ScaleByScheduleState,))}
    if len(counts) != 1:
        raise UnnamedValueError(
            f"opt_state's groups hold learning-rate counts {sorted(counts)}; the groups of "
            "one optimizer step together."
        )
    return counts.pop()


def _warm_restarts(k: int, t_0: int, t_mult: int) -> tuple[int, int]:
    """(T_cur, T_i) of ``CosineAnnealingWarmRestarts`` after ``k`` steps."""
    t_cur, t_i = 0, t_0
    for _ in range(k):
        t_cur += 1
        if t_cur >= t_i:
            t_cur, t_i = t_cur - t_i, t_i * t_mult
    return t_cur, t_i


def _state(
    name: str | None,
    arguments: Mapping[str, Any],
    k: int,
    last: list[float],
    base: list[float],
    step_count: int | None = None,
) -> dict[str, Any]:
    """A (non-composite) torch scheduler's state after ``k`` steps."""
    out: dict[str, Any] = {
        "base_lrs": base,
        "last_epoch": k,
        "_step_count": k + 1 if step_count is None else step_count,
        "_is_initial": False,
        "_get_lr_called_within_step": False,
        "_last_lr": last,
    }
    if name in ("LambdaLR", "MultiplicativeLR"):
        out["lr_lambdas"] = [None] * len(last)  # their load_state_dict requires the key
    if name == "CyclicLR":
        out["_scale_fn_custom"] = None  # as lr_lambdas (a custom scale_fn's __dict__ or None)
    if name == "CosineAnnealingWarmRestarts":
        out["T_cur"], out["T_i"] = _warm_restarts(max(k, 0), arguments["T_0"], arguments["T_mult"])
        out["_step_count"] = 0  # its own step() never counts (torch's value, kept as it is)
    return out


def _bases(name: str | None, schedules: Sequence[Any], lrs: list[float]) -> list[float]:
    """torch's ``base_lrs``: the group's rate, or the cycle's start (``CyclicLR``,
    ``OneCycleLR``: their schedule at 0)."""
    if name in ("CyclicLR", "OneCycleLR"):
        return [_value(s, 0) for s in schedules]
    return lrs


def _composite(
    name: str, parts: list[dict[str, Any]], k: int, lrs: list[float]
) -> list[dict[str, Any]]:
    """The children's states of a SequentialLR or ChainedScheduler (``parts``: each group's
    description arguments)."""
    if name == "SequentialLR":
        milestones = parts[0]["milestones"]
        offsets = [0, *milestones]
        active = sum(m <= k for m in milestones)
        children = []
        for j, offset in enumerate(offsets):
            kids = [p["schedules"][j] for p in parts]
            child = _class_of(kids)
            child_name, child_args = child if child else (None, {})
            if j > active:  # not yet in force: as a fresh SequentialLR holds it
                first = [_value(p["schedules"][0], 0) for p in parts]
                children.append(_state(child_name, child_args, -1, first, lrs, step_count=1))
                continue
            end = k if j == active else offsets[j + 1] - 1
            local = end - offset
            last = [_value(s, local) for s in kids]
            children.append(
                _state(child_name, child_args, local, last, _bases(child_name, kids, lrs))
            )
        return children
    # Child j steps the rate its predecessors left at step k, the later ones at k - 1:
    # its _last_lr is lr * prod_{l <= j} f_l(k) * prod_{l > j} f_l(k - 1).
    factors = [p["factors"] for p in parts]
    children = []
    for j in range(len(factors[0])):
        kids = [f[j] for f in factors]
        child = _class_of(kids)
        child_name, child_args = child if child else (None, {})
        last = []
        for lr, fs in zip(lrs, factors, strict=True):
            rate = lr
            for index, factor in enumerate(fs):
                if index <= j:
                    rate *= _value(factor, k)
                elif k > 0:
                    rate *= _value(factor, k - 1)
            last.append(rate)
        children.append(_state(child_name, child_args, k, last, lrs))
    return children


@checked(
    tx=unchecked("a jopt.compat.torch preset, looked up in the registry"),
    opt_state=unchecked("any pytree holding the preset's state; searched by type"),
)
def scheduler_state_dict(tx: Any, opt_state: Any) -> dict[str, Any]:
    """PyTorch's ``scheduler.state_dict()`` of the ``lr_scheduler=`` of the preset ``tx``,
    from its state ``opt_state``.

    ``scheduler.load_state_dict(d)`` on a torch scheduler built with the same arguments
    (over an optimizer whose ``param_groups`` carry the same rates, e.g. loaded from its own
    state dict) then continues with jopt's rates. Written: ``last_epoch`` (the updates
    applied), ``_step_count`` (``last_epoch + 1``), ``_last_lr`` (each group's rate of the
    next update), ``base_lrs``, and the class's own state (``T_cur``/``T_i``, ``lr_lambdas``,
    a ``SequentialLR``/``ChainedScheduler``'s children); ``ReduceLROnPlateau`` in full
    (``best``, ``num_bad_epochs``, ``cooldown_counter`` and its arguments). See
    the module ``jopt/compat/torch/_scheduler_state.py`` for the details.

    Args:
      tx: a ``jopt.compat.torch`` preset built with ``lr_scheduler=``.
      opt_state: its state (``tx.init(params)``, or one updated since).

    Returns:
      A dict of Python numbers and lists, as torch's ``state_dict()``.

    >>> import functools, torch
    >>> import jax.numpy as jnp
    >>> import jopt.compat.torch as jt, jopt.schedules as schedules
    >>> tx = jt.SGD(0.1, lr_scheduler=functools.partial(schedules.step_lr, step_size=2,
    ...                                                  gamma=0.5))
    >>> state = tx.init(jnp.zeros(1))
    >>> for _ in range(3):
    ...     _, state = tx.update(jnp.zeros(1), state)
    >>> d = jt.scheduler_state_dict(tx, state)
    >>> d["last_epoch"], d["_last_lr"]
    (3, [0.05])
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    >>> sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    >>> sched.load_state_dict(d)
    >>> opt.param_groups[0]["lr"] = d["_last_lr"][0]  # the optimizer's state dict does it
    >>> opt.step(); sched.step()
    >>> sched.get_last_lr()  # the rate of step 4 (count 4), jopt's too
    [0.025]
    """
    preset = _preset(tx)
    groups = _group_states(opt_state, preset)
    n = len(groups)
    lrs = [float(np.asarray(preset.groups[i]["lr"])) for i in range(n)]
    if preset.plateau is not None:
        states = find_states(groups, (PlateauGroupState,))
        if len(states) != n:
            raise UnnamedValueError("opt_state's groups are not ReduceLROnPlateau groups.")
        first = states[0].plateau
        return {
            **_plateau_arguments(preset.plateau, preset, n),
            "last_epoch": int(np.asarray(first.count)),
            "_last_lr": [
                lr * float(np.asarray(s.plateau.scale)) for lr, s in zip(lrs, states, strict=True)
            ],
            "best": float(np.asarray(first.best)),
            "cooldown_counter": int(np.asarray(first.cooldown_counter)),
            "num_bad_epochs": int(np.asarray(first.num_bad_epochs)),
        }
    schedules = _schedules(preset, n)
    k = _count(groups)
    last = [_value(s, k) for s in schedules]
    described = _class_of(schedules)
    name, arguments = described if described else (None, {})
    if name in ("SequentialLR", "ChainedScheduler"):
        parts = [description(s)[1] for s in schedules]  # type: ignore[index]
        children = _composite(name, parts, k, lrs)
        if name == "ChainedScheduler":
            return {"_last_lr": last, "_schedulers": children}
        milestones = list(parts[0]["milestones"])
        return {
            "_milestones": milestones,
            "last_epoch": k,
            "_last_lr": last,
            "_schedulers": children,
        }
    return _state(name, arguments, k, last, _bases(name, schedules, lrs))
