"""Keras optimizer checkpoints in and out of jopt: the store of Keras'
``Optimizer.save_own_variables`` / ``load_own_variables`` (what ``model.save`` writes under
``optimizer/vars`` of a ``.keras`` file), read into a jopt state and written from one.
Keras' order of the variables is spelled out in :func:`load_own_variables`."""

from __future__ import annotations

import io
import typing
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jopt._algorithms.averaging.schedule_free import ScheduleFreeAdamWState
from jopt._algorithms.matrix.adafactor import FactoredSecondMoment
from jopt._core.checks import UnnamedTypeError, UnnamedValueError, checked, unchecked
from jopt._core.groups import path_string
from jopt._core.learning_rate import ScaleByLearningRateState, ScaleByScheduleState
from jopt._core.state import requested
from jopt.compat._port import resolve_order
from jopt.compat.keras._common import KerasPreset, preset_of
from jopt.compat.keras._loss_scale import LossScaleState
from jopt.compat.keras._multi import MultiOptimizerState, OptimizerMap
from jopt.compat.keras._options import KerasBaseState, path_name
from jopt.compat.layout import LayoutArg, inverse_of, layouts_for

KeyPath = tuple[Any, ...]
_GET = jax.tree_util.GetAttrKey
_SEQ = jax.tree_util.SequenceKey
_DICT = jax.tree_util.DictKey


# ------------------------------------------------------------------ the description


@dataclass(eq=False)
class _Scope:
    """One Keras optimizer inside ``tx`` (the preset, a LossScaleOptimizer's inner one, a
    MultiOptimizer's member): what its ``iteration`` sets and reads."""

    preset: KerasPreset
    base: KeyPath | None = None  # the KerasBaseState's count (calls), if any
    counts: list[KeyPath] = field(default_factory=lambda: [])  # the step's counts (updates)
    steps: int | None = None  # gradient_accumulation_steps
    iteration: int | None = None  # read from the store (load)
    parent: _Scope | None = None  # the MultiOptimizer whose member it is


@dataclass(eq=False)
class _Slot:
    """Keras variable ``index`` of the store: ``key`` its name in Keras, ``kind`` how it
    maps onto the jopt state."""

    key: str
    kind: str  # iteration | learning_rate | tensor | scalar | row | col | velocity | fixed
    scope: _Scope | None = None
    param: int | None = None  # the jopt leaf (flatten order) of a per-parameter variable
    keras_param: int | None = None  # its Keras index (``order``)
    leaf: KeyPath | None = None  # the jopt state leaf (row/col/velocity: the nu node)
    value: Any = None  # fixed: Keras' constant; learning_rate: the preset's rate
    sign: int = 1  # Keras' variable is sign × the jopt leaf (RMSprop's momentum: −1)


class _Description(NamedTuple):
    slots: list[_Slot]
    scopes: list[_Scope]
    paths: list[str]  # the parameters' paths, flatten order
    param_paths: list[KeyPath]
    shapes: list[tuple[int, ...]]
    layouts: list[Callable[[Any], Any] | None]  # per parameter, flatten order
    template: Any  # tx.init(params)
    summary: str  # "jopt.compat.keras.Adam on 2 parameters"


def _node(tree: Any, path: KeyPath) -> Any:
    for key in path:
        if isinstance(key, _GET):
            tree = getattr(tree, key.name)
        elif isinstance(key, _SEQ):
            tree = tree[key.idx]
        elif isinstance(key, _DICT):
            tree = tree[key.key]
        else:  # pragma: no cover - a key kind jopt's states do not use
            raise UnnamedTypeError(f"cannot follow the key {key!r} of a state path.")
    return tree


def _named_tuples(tree: Any, path: KeyPath = ()) -> list[tuple[KeyPath, Any]]:
    """Every NamedTuple node of ``tree`` with its path, outermost first."""
    found: list[tuple[KeyPath, Any]] = []
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        found.append((path, tree))
        for name, child in zip(tree._fields, tree, strict=True):  # type: ignore[attr-defined]
            found += _named_tuples(child, (*path, _GET(name)))
    elif isinstance(tree, (tuple, list)):
        for i, child in enumerate(typing.cast(Sequence[Any], tree)):
            found += _named_tuples(child, (*path, _SEQ(i)))
    elif isinstance(tree, dict):
        for key, child in typing.cast(dict[Any, Any], tree).items():
            found += _named_tuples(child, (*path, _DICT(key)))
    return found


def _field(tree: Any, path: KeyPath, name: str) -> KeyPath | None:
    """The path of the first field ``name`` of a NamedTuple inside ``tree`` (at ``path``)
    that is not a learning-rate state's."""
    for p, node in _named_tuples(tree, path):
        if isinstance(node, (ScaleByLearningRateState, ScaleByScheduleState)):
            continue
        if name in node._fields:
            return (*p, _GET(name))
    return None


def _is_masked(node: Any) -> bool:
    return isinstance(node, optax.MaskedNode)


def _keras_order(order: Any, paths: list[str], names: list[str]) -> list[int]:
    """``order`` (paths, Keras' ``model.trainable_variables`` order) as jopt leaf indices."""
    given = resolve_order(order, paths, "model.trainable_variables order", names)
    return list(range(len(paths))) if given is None else given


def _summary(preset: KerasPreset) -> str:
    return f"jopt.compat.keras.{preset.name}"


def _has_rate_variable(preset: KerasPreset) -> bool:
    """Keras keeps a ``learning_rate`` variable when the rate is a number."""
    lr = preset.arguments.get("learning_rate")
    if preset.name == "SGD" and requested(preset.arguments.get("decay")):
        return False  # tf.keras 2's decay: Keras 3 runs it as InverseTimeDecay, a schedule
    return not callable(lr)


def _interleave(
    scope: _Scope,
    members: list[tuple[int, int]],
    param_paths: list[KeyPath],
    *trees: Any,
    sign: int = 1,
) -> list[_Slot]:
    """One call of Keras' ``add_optimizer_variables(vars, [names…])``: per parameter, each
    ``(name, tree path)`` of ``trees``."""
    slots: list[_Slot] = []
    for k, j in members:
        for name, tree in trees:
            slots.append(_Slot(name, "tensor", scope, j, k, (*tree, *param_paths[j]), sign=sign))
    return slots


def _preset_slots(
    preset: KerasPreset,
    state: Any,
    path: KeyPath,
    members: list[tuple[int, int]],
    param_paths: list[KeyPath],
    scopes: list[_Scope],
    parent: _Scope | None = None,
) -> list[_Slot]:
    """The Keras variables of ``preset`` (a non-wrapper class) whose jopt state is
    ``state`` (at ``path``), built on the parameters ``members`` ((Keras index, jopt
    index) pairs, Keras' order)."""
    a = preset.arguments
    node = _node(state, path)
    scope = _Scope(preset, parent=parent)
    scopes.append(scope)
    steps = a.get("gradient_accumulation_steps")
    scope.steps = int(typing.cast(int, steps)) if requested(steps) else None
    slots = [_Slot("iteration", "iteration", scope)]
    if _has_rate_variable(preset):
        slots.append(_Slot("learning_rate", "learning_rate", scope, value=a["learning_rate"]))
    body = path
    if isinstance(node, KerasBaseState):
        scope.base = (*path, _GET("count"))
        if node.ema is not None:
            slots += _interleave(scope, members, param_paths, ("average", (*path, _GET("ema"))))
        if node.accumulated is not None:
            accumulated = (*path, _GET("accumulated"))
            slots += _interleave(scope, members, param_paths, ("gradient_accumulator", accumulated))
        body = (*path, _GET("inner"))
    inner = _node(state, body)
    scope.counts = [
        p
        for p, _ in jax.tree_util.tree_flatten_with_path(inner)[0]
        if p and isinstance(p[-1], _GET) and p[-1].name == "count"
    ]
    scope.counts = [(*body, *p) for p in scope.counts]

    def f(name: str, tree: Any = inner, at: KeyPath = body) -> KeyPath | None:
        return _field(tree, at, name)

    def need(name: str, tree: Any = inner, at: KeyPath = body) -> KeyPath:
        found = f(name, tree, at)
        if found is None:  # pragma: no cover - a preset state this module does not know
            raise RuntimeError(f"{_summary(preset)}: no {name!r} in its state.")
        return found

    name = preset.name
    if name == "SGD":
        trace = f("trace")
        if trace is not None:
            slots += _interleave(scope, members, param_paths, ("momentum", trace))
    elif name == "RMSprop":
        slots += _interleave(scope, members, param_paths, ("velocity", need("nu")))
        trace, mean = f("trace"), f("mu")
        if trace is not None:  # Keras: b ← μb + δ, θ ← θ − b; jopt's trace holds −b
            slots += _interleave(scope, members, param_paths, ("momentum", trace), sign=-1)
        if mean is not None:
            slots += _interleave(scope, members, param_paths, ("average_gradient", mean))
    elif name in ("Adam", "AdamW", "Lamb", "Nadam", "Adamax"):
        second = "norm" if name == "Adamax" else "velocity"
        slots += _interleave(
            scope, members, param_paths, ("momentum", need("mu")), (second, need("nu"))
        )
        hat = f("nu_max")
        if hat is not None:
            slots += _interleave(scope, members, param_paths, ("velocity_hat", hat))
        if name == "Nadam":
            slots.append(_Slot("u_product", "scalar", scope, leaf=need("mu_product")))
    elif name == "Adadelta":
        slots += _interleave(
            scope,
            members,
            param_paths,
            ("accumulated_grad", need("e_g")),
            ("accumulated_delta_var", need("e_x")),
        )
    elif name == "Adagrad":
        slots += _interleave(scope, members, param_paths, ("accumulator", need("sum_of_squares")))
    elif name == "Ftrl":
        slots += _interleave(
            scope,
            members,
            param_paths,
            ("accumulator", need("accumulator")),
            ("linear", need("linear")),
        )
    elif name == "Lion":
        slots += _interleave(scope, members, param_paths, ("momentum", need("mu")))
    elif name == "ScheduleFreeAdamW":
        slots += _interleave(
            scope, members, param_paths, ("momentum", need("z")), ("velocity", need("v"))
        )
    elif name == "Adafactor":
        nu = need("nu")
        for k, j in members:
            leaf = (*nu, *param_paths[j])
            if isinstance(_node(state, leaf), FactoredSecondMoment):
                slots += [
                    _Slot("r", "row", scope, j, k, leaf),
                    _Slot("c", "col", scope, j, k, leaf),
                    _Slot("velocity", "velocity", scope, j, k, leaf),
                ]
            else:  # Keras' placeholders for r and c: int32 zeros
                zero = np.zeros((), np.int32)
                slots += [
                    _Slot("r", "fixed", scope, j, k, value=zero),
                    _Slot("c", "fixed", scope, j, k, value=zero),
                    _Slot("velocity", "tensor", scope, j, k, leaf),
                ]
    elif name == "Muon":
        muon_branch, adam_branch = (*body, _SEQ(0)), (*body, _SEQ(1))
        trace = need("trace", _node(state, muon_branch), muon_branch)
        mu = need("mu", _node(state, adam_branch), adam_branch)
        nu = need("nu", _node(state, adam_branch), adam_branch)
        for k, j in members:
            if _is_masked(_node(state, (*mu, *param_paths[j]))):
                slots.append(_Slot("momentum", "tensor", scope, j, k, (*trace, *param_paths[j])))
            else:
                slots.append(_Slot("momentum", "tensor", scope, j, k, (*mu, *param_paths[j])))
                slots.append(_Slot("velocity", "tensor", scope, j, k, (*nu, *param_paths[j])))
    else:
        raise UnnamedValueError(f"{_summary(preset)} has no Keras checkpoint layout here.")
    return slots


def _multi_members(
    preset: KerasPreset, keras: list[int], names: list[str]
) -> tuple[list[Any], list[int], list[Any]]:
    """Keras' inner optimizers of a MultiOptimizer in its order, and jopt's: (Keras'
    list, each jopt leaf's label, jopt's list of the labels' optimizers)."""
    optimizer_map = preset.arguments["optimizer_map"]

    def of(name: str) -> Any:
        if isinstance(optimizer_map, OptimizerMap):
            return optimizer_map[name]
        return optimizer_map(name)

    chosen: list[Any] = []
    labels: list[int] = []
    for name in names:  # jopt's labels: first use, flatten order (MultiOptimizer's grouped)
        tx = of(name)
        index = next((i for i, t in enumerate(chosen) if t is tx), None)
        if index is None:
            index = len(chosen)
            chosen.append(tx)
        labels.append(index)
    ordered: list[Any] = []

    def add(tx: Any) -> None:
        if not any(t is tx for t in ordered):
            ordered.append(tx)

    if isinstance(optimizer_map, OptimizerMap):
        for key in optimizer_map:
            add(optimizer_map[key])
        add(optimizer_map.default_optimizer)
    for j in keras:  # Keras' build: the others, in model.trainable_variables order
        add(chosen[labels[j]])
    return ordered, labels, chosen


def _slots(
    tx: Any,
    state: Any,
    path: KeyPath,
    members: list[tuple[int, int]],
    param_paths: list[KeyPath],
    names: list[str],
    scopes: list[_Scope],
    parent: _Scope | None = None,
) -> list[_Slot]:
    preset = preset_of(tx)
    if preset is None:
        raise UnnamedTypeError(
            f"{tx!r} is not a jopt.compat.keras optimizer (the result of one of its "
            "classes, e.g. jopt.compat.keras.Adam(...), not wrapped in optax.chain or "
            "optax.inject_hyperparams): its Keras variables are not known."
        )
    if preset.name == "LossScaleOptimizer":
        node = _node(state, path)
        if not isinstance(node, LossScaleState):  # pragma: no cover - registry and state agree
            raise RuntimeError("a LossScaleOptimizer without its state")
        slots = [
            _Slot("iteration", "fixed", value=np.zeros((), np.int32)),
            _Slot("learning_rate", "fixed", value=np.zeros((), np.float32)),
            _Slot("step_counter", "scalar", leaf=(*path, _GET("step_counter"))),
            _Slot("dynamic_scale", "scalar", leaf=(*path, _GET("dynamic_scale"))),
        ]
        inner = preset.arguments["inner_optimizer"]
        at = (*path, _GET("inner"))
        return slots + _slots(inner, state, at, members, param_paths, names, scopes, parent)
    if preset.name == "MultiOptimizer":
        node = _node(state, path)
        if not isinstance(node, MultiOptimizerState):  # pragma: no cover
            raise RuntimeError("a MultiOptimizer without its state")
        multi = _Scope(preset, parent=parent)
        scopes.append(multi)
        slots = [
            _Slot("iteration", "iteration", multi),
            _Slot("learning_rate", "fixed", value=np.zeros((), np.float32)),
        ]
        keras = [j for _, j in members]
        ordered, labels, chosen = _multi_members(preset, keras, names)
        for tx_m in ordered:
            label = next((i for i, t in enumerate(chosen) if t is tx_m), None)
            mine = [(k, j) for k, j in members if label is not None and labels[j] == label]
            if not mine:  # Keras never builds it: its iteration (0) and rate only
                sub = preset_of(tx_m)
                if sub is None:
                    raise UnnamedTypeError(
                        f"{tx_m!r} (an optimizer of the MultiOptimizer) is not a "
                        "jopt.compat.keras optimizer: its Keras variables are not known."
                    )
                slots.append(_Slot("iteration", "fixed", value=np.zeros((), np.int32)))
                if _has_rate_variable(sub):
                    lr = np.asarray(sub.arguments["learning_rate"], np.float32)
                    slots.append(_Slot("learning_rate", "fixed", value=lr))
                continue
            at = (*path, _GET("inner"), _GET("inner_states"), _DICT(label), _GET("inner_state"))
            slots += _slots(tx_m, state, at, mine, param_paths, names, scopes, multi)
        return slots
    return _preset_slots(preset, state, path, members, param_paths, scopes, parent)


def _describe(tx: Any, params: Any, order: Any, layout: LayoutArg) -> _Description:
    """The Keras variables of ``tx`` on ``params``, in Keras' order, and where each lives
    in the jopt state."""
    flat = jax.tree_util.tree_flatten_with_path(params)[0]
    if not flat:
        raise UnnamedValueError("params has no leaves.")
    param_paths = [tuple(p) for p, _ in flat]
    paths = [path_string(p) for p in param_paths]
    names = [path_name(p) for p in param_paths]
    shapes = [tuple(np.shape(x)) for _, x in flat]
    keras = _keras_order(order, paths, names)
    layouts = layouts_for(layout, paths)
    template = tx.init(params)
    scopes: list[_Scope] = []
    members = list(enumerate(keras))
    slots = _slots(tx, template, (), members, param_paths, names, scopes)
    preset = preset_of(tx)
    assert preset is not None
    _check_covered(template, slots, scopes)
    summary = f"{_summary(preset)} on {len(paths)} parameters"
    return _Description(slots, scopes, paths, param_paths, shapes, layouts, template, summary)


def _check_covered(template: Any, slots: list[_Slot], scopes: list[_Scope]) -> None:
    """Every leaf of the jopt state is read from (or derived with) a Keras variable: a
    state this module does not know fails here, not by a silently kept initial value."""
    claimed: set[KeyPath] = set()
    for s in slots:
        if s.leaf is None:
            continue
        if s.kind in ("row", "col", "velocity"):
            claimed.add((*s.leaf, _GET("row")))
            claimed.add((*s.leaf, _GET("col")))
        else:
            claimed.add(s.leaf)
    for scope in scopes:
        claimed.update(scope.counts)
        if scope.base is not None:
            claimed.add(scope.base)
    for p, node in _named_tuples(template):
        if isinstance(node, (ScaleByLearningRateState, ScaleByScheduleState)):
            claimed.add((*p, _GET("learning_rate")))  # the rate, recomputed
            claimed.add((*p, _GET("count")))
        if isinstance(node, ScheduleFreeAdamWState):
            claimed.add((*p, _GET("beta_1")))  # a constant of the preset
    unclaimed = [
        jax.tree_util.keystr(p)
        for p, _ in jax.tree_util.tree_flatten_with_path(template)[0]
        if tuple(p) not in claimed
    ]
    if unclaimed:  # pragma: no cover - a preset state this module does not know
        raise RuntimeError(f"jopt.compat.keras checkpoints: no Keras variable for {unclaimed}.")


def _where(d: _Description, i: int) -> str:
    s = d.slots[i]
    if s.param is None:
        return f"store[{str(i)!r}] (Keras variable {i}, {s.key!r})"
    return (
        f"store[{str(i)!r}] (Keras variable {i}, {s.key!r} of parameter {s.keras_param} "
        f"{d.paths[s.param]!r})"
    )


def _layout_text(d: _Description) -> str:
    names = [s.key if s.param is None else f"{s.key}[{s.keras_param}]" for s in d.slots]
    shown = ", ".join(names[:12]) + (", …" if len(names) > 12 else "")
    return f"{d.summary} has {len(d.slots)} Keras variables ({shown})"


def _check_keys(d: _Description, store: Mapping[str, Any]) -> None:
    if not isinstance(store, Mapping) and not hasattr(store, "keys"):
        raise UnnamedTypeError(
            f"store={store!r} is invalid; a store is a dict {{'0': array, '1': …}} as Keras' "
            "optimizer.save_own_variables(store) fills it."
        )
    keys = [str(k) for k in store.keys()]
    expected = [str(i) for i in range(len(d.slots))]
    missing = [k for k in expected if k not in keys]
    extra = [k for k in keys if k not in expected]
    if missing or extra:
        hint = ""
        if len(keys) != len(expected):
            hint = (
                f"; the store holds {len(keys)} variables: a checkpoint of another Keras "
                "class, other options (momentum, amsgrad, centered, use_ema, "
                "gradient_accumulation_steps, a schedule in place of a number), or another "
                "number of parameters"
            )
        raise UnnamedValueError(
            f"the store does not match: {_layout_text(d)}; keys missing {missing}, keys "
            f"not expected {extra}{hint}."
        )


def _axes(fn: Callable[[Any], Any] | None, shape: tuple[int, ...]) -> str:
    """How ``fn`` (a layout, Keras' to jopt's) moves the last two axes of a weight of
    jopt shape ``shape``: "same" or "swap" (Adafactor's r and c follow)."""
    if fn is None or len(shape) < 2:
        return "same"
    size = int(np.prod(shape))
    swapped = (*shape[:-2], shape[-1], shape[-2])
    for kind, kshape in (("same", shape), ("swap", swapped)):
        probe = np.arange(size).reshape(kshape)
        out = np.asarray(fn(probe))
        if out.shape != shape:
            continue
        if kind == "same" and np.array_equal(out, probe):
            return "same"
        if kind == "swap" and np.array_equal(out, np.swapaxes(probe, -1, -2)):
            return "swap"
    raise UnnamedValueError(
        f"the layout {fn!r} of a parameter of shape {shape} neither keeps nor swaps its last "
        "two axes: Adafactor's factored moments (mean over rows, over columns) cannot follow."
    )


# ------------------------------------------------------------------------------ load


def _scalar(d: _Description, i: int, value: np.ndarray, integer: bool = False) -> np.ndarray:
    if value.shape != ():
        raise UnnamedValueError(
            f"{_where(d, i)} has shape {value.shape}; Keras keeps a scalar there "
            f"({_layout_text(d)})."
        )
    if integer and not (
        np.issubdtype(value.dtype, np.integer) or float(value) == np.round(float(value))
    ):
        raise UnnamedValueError(f"{_where(d, i)} is {value}, not an integer count.")
    return value


def _real(d: _Description, i: int, store: Mapping[str, Any]) -> np.ndarray:
    try:
        value = np.asarray(store[str(i)])
    except Exception as error:  # noqa: BLE001 - any unreadable entry
        raise UnnamedValueError(f"{_where(d, i)} cannot be read as an array: {error}") from None
    if value.dtype.kind not in "biuf":
        raise UnnamedValueError(
            f"{_where(d, i)} has dtype {value.dtype}; Keras' variables are real numbers."
        )
    return value


@checked(
    tx=unchecked("a jopt.compat.keras optimizer; found in the registry of presets below"),
    params=unchecked("any pytree of arrays; its leaves are the parameters"),
    store=unchecked("a dict of arrays; checked entry by entry below"),
    order=unchecked("None or a list of paths; checked against params below"),
    layout=unchecked("checked by jopt.compat.layout.layouts_for"),
)
def load_own_variables(
    tx: optax.GradientTransformation,
    params: Any,
    store: Mapping[str, Any],
    *,
    order: Sequence[str] | None = None,
    layout: LayoutArg = None,
) -> Any:
    """The state of ``tx`` read from a Keras optimizer's store: what
    ``optimizer.save_own_variables(store)`` fills (``{"0": array, "1": …}``, one entry per
    variable of ``optimizer.variables``; the ``optimizer/vars`` of a ``.keras`` file, see
    :func:`read_keras_file`), to go on where Keras stopped.

    ``tx`` is a ``jopt.compat.keras`` optimizer built with the arguments the Keras
    optimizer had (the same class, options, rate); the store's layout follows from them.
    A store is a dict ``{"0": array, "1": array, …}``, one entry per variable of
    ``optimizer.variables``, in Keras' order (``keras/src/optimizers/base_optimizer.py`` and
    each class's ``build``):

    - ``iteration`` (int32; Keras' ``_iterations``: the calls, with gradient accumulation
      too), then ``learning_rate`` (float32) when the rate is a number (a schedule or a
      function keeps none);
    - with ``use_ema``: one ``average`` per parameter; with ``gradient_accumulation_steps``:
      one ``gradient_accumulator`` per parameter;
    - the class's own slots, in the order its ``build`` adds them: the slots one call of
      ``add_optimizer_variables`` creates together are interleaved per parameter (Adam:
      momentum and velocity of the first parameter, then of the second, …), separate calls
      follow each other (RMSprop: every velocity, then every momentum, then every average
      gradient). Adafactor adds, per parameter, r and c (two int32 zeros for a parameter of
      fewer than two axes) then a velocity (for two axes or more, (r/mean(r)) ⊗ c, which
      Keras recomputes before reading it); Nadam its ``u_product`` last; Muon a momentum per
      parameter, followed by a velocity for the parameters it hands to AdamW;
    - ``LossScaleOptimizer``: its own ``iteration`` and ``learning_rate`` (which Keras never
      changes: 0 and 0.0), ``step_counter``, ``dynamic_scale``, then the inner optimizer's
      variables; ``MultiOptimizer``: its ``iteration`` (the calls) and ``learning_rate``
      (0.0), then each inner optimizer's variables, in Keras' order of its inner optimizers (an
      ``OptimizerMap``'s values in insertion order, then its default optimizer; an optimizer
      that steps no parameter keeps its ``iteration`` (0) and ``learning_rate`` only).

    Per parameter slots (momentum, velocity, ``average``, ``gradient_accumulator``, …)
    become the matching leaves, moved by ``layout`` (RMSprop's momentum b, which Keras
    subtracts, is jopt's trace negated); ``iteration`` becomes every count of the state
    (divided by ``gradient_accumulation_steps`` for the preset's own); the stored
    ``learning_rate`` must equal the preset's (Keras goes on at the stored one). A state
    that keeps no count (a constant rate of SGD, RMSprop, Adagrad, Adadelta, Lion, Ftrl,
    and a MultiOptimizer's own) needs none: the iteration is checked and not kept (see
    :func:`save_own_variables`'s ``iterations``). Adafactor's velocity of a factored
    parameter ((r/mean(r)) ⊗ c, recomputed by Keras before each use), Keras' placeholders and
    a LossScaleOptimizer's own ``iteration`` and ``learning_rate`` (never changed by Keras)
    are checked for their shape and not read.

    With a Flax ``nnx.Optimizer(model, tx, wrt=nnx.Param)``: ``params =
    nnx.as_pure(nnx.state(model, nnx.Param))``, then ``nnx.update(optimizer.opt_state,
    nnx.state(state))``; :func:`save_own_variables` takes ``nnx.as_pure(optimizer.opt_state)``.

    Args:
      tx: the ``jopt.compat.keras`` optimizer (as its class returned it).
      params: the parameters (the values do not matter; their structure, shapes and dtypes
        do).
      store: the Keras store, a dict from ``"0"``, ``"1"``, … to arrays.
      order: Keras' order of the parameters (``model.trainable_variables``), as the paths
        of ``params``' leaves (``"dense/kernel"``, :func:`jopt.compat.layout.path_string`);
        None: ``params``' flatten order.
      layout: Keras' layout to jopt's of each per-parameter variable
        (:mod:`jopt.compat.layout`): a function for all, or a dict path -> function.

    Returns:
      The state of ``tx`` on ``params``, to hand to ``tx.update``.

    Raises:
      ValueError: naming the variable index, the parameter's path and the key: a store
        of another layout (another class, other options, another number of parameters:
        keys missing or extra), a shape that differs (after ``layout``), another
        learning rate; TypeError for a ``tx`` that is not a ``jopt.compat.keras``
        optimizer.

    >>> import numpy as np, jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.SGD(learning_rate=0.5, momentum=0.9)
    >>> params = {"w": jnp.zeros(2), "b": jnp.zeros(())}
    >>> store = {  # Keras: iteration, learning_rate, then a momentum per variable
    ...     "0": np.int32(3), "1": np.float32(0.5),
    ...     "2": np.array([-0.25, 0.5], np.float32), "3": np.float32(-1.0)}
    >>> state = jk.load_own_variables(tx, params, store, order=["w", "b"])
    >>> state[1].trace["w"], state[1].trace["b"]
    (Array([-0.25,  0.5 ], dtype=float32), Array(-1., dtype=float32))
    >>> jk.load_own_variables(tx, params, {"0": np.int32(3)})
    Traceback (most recent call last):
    ...
    ValueError: jopt.compat.keras.load_own_variables: the store does not match: ...
    """
    d = _describe(tx, params, order, layout)
    _check_keys(d, store)
    flat, treedef = jax.tree_util.tree_flatten_with_path(d.template)
    index = {tuple(p): n for n, (p, _) in enumerate(flat)}
    leaves = [leaf for _, leaf in flat]

    def put(path: KeyPath, value: Any) -> None:
        n = index[path]
        leaves[n] = jnp.asarray(value, dtype=jnp.asarray(leaves[n]).dtype)

    for i, s in enumerate(d.slots):
        value = _real(d, i, store)
        if s.kind == "iteration":
            assert s.scope is not None
            value = _scalar(d, i, value, integer=True)
            if int(value) < 0:
                raise UnnamedValueError(f"{_where(d, i)} is {int(value)}, a negative count.")
            s.scope.iteration = int(value)
        elif s.kind == "learning_rate":
            value = _scalar(d, i, value)
            ours = np.asarray(s.value, value.dtype)
            if not np.array_equal(ours, value):
                raise UnnamedValueError(
                    f"{_where(d, i)} is {value.item()!r}, the preset's learning_rate is "
                    f"{s.value!r}: "
                    f"Keras goes on at the stored rate; build the preset with "
                    f"learning_rate={float(value)!r}."
                )
        elif s.kind == "fixed":
            if value.shape != np.shape(s.value):
                raise UnnamedValueError(
                    f"{_where(d, i)} has shape {value.shape}, Keras' is {np.shape(s.value)} "
                    f"({_layout_text(d)})."
                )
        elif s.kind == "scalar":
            assert s.leaf is not None
            put(s.leaf, _scalar(d, i, value))
        else:
            assert s.param is not None and s.leaf is not None
            fn = d.layouts[s.param]
            shape = d.shapes[s.param]
            after = " after layout" if fn is not None else ""
            if s.kind == "tensor":
                moved = np.asarray(fn(value)) if fn is not None else value
                if moved.shape != shape:
                    raise UnnamedValueError(
                        f"{_where(d, i)} has shape {np.shape(moved)}{after}; the parameter's "
                        f"is {shape}."
                    )
                put(s.leaf, -moved if s.sign < 0 else moved)
                continue
            axes = _axes(fn, shape)
            if s.kind == "velocity":
                kshape = shape if axes == "same" else (*shape[:-2], shape[-1], shape[-2])
                if value.shape != kshape:
                    raise UnnamedValueError(
                        f"{_where(d, i)} has shape {value.shape}; Keras' velocity of this "
                        f"parameter is {kshape}."
                    )
                continue
            # r: Keras' mean over its last axis, c: over its second last
            own = "row" if (s.kind == "row") == (axes == "same") else "col"
            target = (*s.leaf, _GET(own))
            want = np.shape(leaves[index[target]])
            if value.shape != want:
                raise UnnamedValueError(
                    f"{_where(d, i)} has shape {value.shape}{after}; Adafactor's {s.key} of "
                    f"a parameter of shape {shape} is {want}."
                )
            put(target, value)
    for scope in d.scopes:
        it = scope.iteration
        if it is None:
            continue
        updates = it // scope.steps if scope.steps else it
        if scope.base is not None:
            put(scope.base, it)
        for p in scope.counts:
            put(p, updates)
    state = treedef.unflatten(leaves)
    return _recorded_rates(tx, state, params, d)


def _recorded_rates(tx: Any, state: Any, params: Any, d: _Description) -> Any:
    """A schedule's step records the rate of the last update (``ScaleByScheduleState``):
    recomputed by one update of zero gradients from the counts one update back."""
    schedules = [p for p, node in _named_tuples(state) if isinstance(node, ScaleByScheduleState)]
    if not schedules:
        return state
    flat, treedef = jax.tree_util.tree_flatten_with_path(state)
    index = {tuple(p): n for n, (p, _) in enumerate(flat)}
    leaves = [leaf for _, leaf in flat]
    probe = list(leaves)
    moved: set[KeyPath] = set()
    for scope in d.scopes:
        it = scope.iteration
        if it is None:
            continue
        n = scope.steps or 1
        updates = it // n
        if updates == 0:
            continue  # no update yet: init recorded the first one's rate
        if scope.base is not None:
            probe[index[scope.base]] = jnp.asarray(updates * n - 1, probe[index[scope.base]].dtype)
        for p in scope.counts:
            probe[index[p]] = jnp.asarray(updates - 1, probe[index[p]].dtype)
            moved.add(p)
    wanted = [(*p, _GET("learning_rate")) for p in schedules if (*p, _GET("count")) in moved]
    if not wanted:
        return state
    zeros = jax.tree.map(jnp.zeros_like, params)
    # compiled, as the updates that recorded the rates usually are (the same rounding)
    _, after = jax.jit(tx.update)(zeros, treedef.unflatten(probe), params)
    recorded = {tuple(p): leaf for p, leaf in jax.tree_util.tree_flatten_with_path(after)[0]}
    for p in wanted:
        leaves[index[p]] = recorded[p]
    return treedef.unflatten(leaves)


# ------------------------------------------------------------------------------ save


@checked(
    tx=unchecked("a jopt.compat.keras optimizer; found in the registry of presets below"),
    opt_state=unchecked("tx's state; its structure is compared with tx.init(params) below"),
    params=unchecked("any pytree of arrays; its leaves are the parameters"),
    order=unchecked("None or a list of paths; checked against params below"),
    layout=unchecked("checked by jopt.compat.layout.layouts_for and inverse_of"),
    iterations=unchecked("None or an integer >= 0; checked below"),
)
def save_own_variables(
    tx: optax.GradientTransformation,
    opt_state: Any,
    params: Any,
    *,
    order: Sequence[str] | None = None,
    layout: LayoutArg = None,
    iterations: int | None = None,
) -> dict[str, np.ndarray]:
    """The Keras store of ``tx``'s state ``opt_state``: what a Keras optimizer of the same
    class and arguments, built on the same variables, would write with
    ``optimizer.save_own_variables(store)``; load it with
    ``optimizer.load_own_variables(store)`` (after ``optimizer.build(variables)``) and
    Keras goes on where jopt stopped.

    Each per-parameter slot is the matching leaf moved back by ``layout``'s inverse;
    ``iteration`` is the state's count (the calls, with gradient accumulation);
    ``learning_rate`` the preset's rate (float32); Adafactor's velocity of a factored
    parameter is (r/mean(r)) ⊗ c as Keras computes it (zeros before the first step).

    Args:
      tx: the ``jopt.compat.keras`` optimizer (as its class returned it).
      opt_state: its state (``tx.init(params)`` updated; of a Flax ``nnx.Optimizer``:
        ``nnx.as_pure(optimizer.opt_state)``).
      params: the parameters.
      order: Keras' order of the parameters (``model.trainable_variables``) as paths of
        ``params``' leaves; None: the flatten order.
      layout: jopt's layout from Keras' (as for :func:`load_own_variables`); saving
        applies its inverse, so each must be a :class:`jopt.compat.layout.Layout`.
      iterations: Keras' ``iteration`` of an optimizer whose state keeps no count (a
        constant rate of SGD, RMSprop, Adagrad, Adadelta, Lion or Ftrl without
        ``use_ema`` or accumulation: nothing in their step reads one); refused where the
        state keeps one that differs.

    Returns:
      The store, a dict ``{"0": numpy array, …}`` in Keras' order.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> tx = jk.Adam(learning_rate=0.5)
    >>> params = {"w": jnp.ones(2)}
    >>> state = tx.update({"w": jnp.ones(2)}, tx.init(params), params)[1]
    >>> store = jk.save_own_variables(tx, state, params)
    >>> {k: v.tolist() for k, v in store.items()}  # iteration, rate, momentum, velocity
    {'0': 1, '1': 0.5, '2': [0.1, 0.1], '3': [0.001, 0.001]}
    """
    d = _describe(tx, params, order, layout)
    if iterations is not None and (
        isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer))
    ):
        raise UnnamedTypeError(f"iterations={iterations!r} is invalid; an integer >= 0 or None.")
    if iterations is not None and iterations < 0:
        raise UnnamedValueError(f"iterations={iterations!r} is invalid; an integer >= 0 or None.")
    if jax.tree.structure(opt_state) != jax.tree.structure(d.template):
        raise UnnamedValueError(
            f"opt_state is not a state of {d.summary} (its structure differs from "
            "tx.init(params)'s); pass the state tx.update returned."
        )
    values = {tuple(p): leaf for p, leaf in jax.tree_util.tree_flatten_with_path(opt_state)[0]}

    def own(scope: _Scope) -> int | None:
        """The calls ``scope``'s state counts (None: it keeps no count)."""
        if scope.base is not None:
            return int(np.asarray(values[scope.base]))
        seen = {int(np.asarray(values[p])) for p in scope.counts}
        if len(seen) > 1:
            raise UnnamedValueError(
                f"the counts of {_summary(scope.preset)}'s state differ ({sorted(seen)}): "
                "not a state its update produced."
            )
        return seen.pop() if seen else None

    def iteration_of(scope: _Scope) -> int:
        it = own(scope)
        multi = scope if scope.preset.name == "MultiOptimizer" else scope.parent
        if it is None and multi is not None:  # a MultiOptimizer calls every member
            found = [c for c in (own(m) for m in d.scopes if m.parent is multi) if c is not None]
            it = found[0] if found else None
        if it is None:
            if iterations is None:
                raise UnnamedValueError(
                    f"{_summary(scope.preset)}'s state keeps no count (nothing in its step "
                    "reads one), and Keras stores its iteration: pass iterations= (the number "
                    "of updates applied)."
                )
            return int(iterations)
        if iterations is not None and int(iterations) != it:
            raise UnnamedValueError(
                f"iterations={iterations} differs from the count {it} of "
                f"{_summary(scope.preset)}'s state."
            )
        return it

    store: dict[str, np.ndarray] = {}
    for i, s in enumerate(d.slots):
        if s.kind == "iteration":
            assert s.scope is not None
            out: np.ndarray = np.asarray(iteration_of(s.scope), np.int32)
        elif s.kind == "learning_rate":
            out = np.asarray(s.value, np.float32)
        elif s.kind == "fixed":
            out = np.asarray(s.value)
        elif s.kind == "scalar":
            assert s.leaf is not None
            out = np.asarray(values[s.leaf])
        else:
            assert s.param is not None and s.leaf is not None
            path = d.paths[s.param]
            fn = d.layouts[s.param]
            inverse = inverse_of(fn, path)
            if s.kind == "tensor":
                leaf = np.asarray(values[s.leaf])
                leaf = -leaf if s.sign < 0 else leaf
                out = np.asarray(inverse(leaf)) if inverse is not None else leaf
            else:
                axes = _axes(fn, d.shapes[s.param])
                row = np.asarray(values[(*s.leaf, _GET("row"))])
                col = np.asarray(values[(*s.leaf, _GET("col"))])
                r, c = (row, col) if axes == "same" else (col, row)
                if s.kind == "row":
                    out = r
                elif s.kind == "col":
                    out = c
                elif not r.any():
                    out = np.zeros((*r.shape, c.shape[-1]), r.dtype)  # Keras' initial zeros
                else:
                    normalized = r / r.mean(axis=-1, keepdims=True)
                    out = (normalized[..., None] * c[..., None, :]).astype(r.dtype)
        store[str(i)] = out
    return store


# --------------------------------------------------------------------- .keras files


class KerasFile(NamedTuple):
    """What :func:`read_keras_file` reads from a ``.keras`` file.

    Args:
      weights: each layer's variables in Keras' order (``layer.weights``: a ``Dense``'s
        kernel, then its bias), by the layer's path in the file (``"layers/dense"``,
        ``"layers/dense_1"``, …; a nested model's layers ``"layers/encoder/layers/dense"``).
      optimizer: the optimizer's store (``optimizer/vars``: ``{"0": array, …}``), for
        :func:`load_own_variables`; empty if the model was saved without one.

    >>> import numpy as np
    >>> from jopt.compat.keras import KerasFile
    >>> KerasFile({"layers/dense": [np.zeros((2, 3)), np.zeros(3)]}, {}).weights.keys()
    dict_keys(['layers/dense'])
    """

    weights: dict[str, list[np.ndarray]]
    optimizer: dict[str, np.ndarray]


@checked(path=unchecked("a path; opened below (a missing file is Python's error)"))
def read_keras_file(path: str | PathLike[str]) -> KerasFile:
    """The weights and the optimizer store of a model saved by Keras 3
    (``model.save("run.keras")``, or ``model.save_weights("run.weights.h5")``), read with
    ``h5py`` (which Keras itself needs) and without Keras.

    A ``.keras`` file is a zip holding ``model.weights.h5``, an HDF5 file with one group
    per layer (``layers/<name>/vars/0``, ``1``, …) and the optimizer's variables
    (``optimizer/vars/0``, ``1``, …: :func:`load_own_variables`'s store). With Keras at
    hand, the same store is ``store = {}; model.optimizer.save_own_variables(store)``
    after ``model = keras.models.load_model("run.keras")``.

    Args:
      path: the ``.keras`` (zip) or ``.weights.h5`` file.

    Returns:
      A :class:`KerasFile` (``weights``, ``optimizer``).

    >>> import jopt.compat.keras as jk
    >>> jk.read_keras_file("missing.keras")
    Traceback (most recent call last):
    ...
    FileNotFoundError: ...
    """
    try:
        import h5py  # type: ignore[import-untyped]  # noqa: PLC0415 - only this reader needs it
    except ImportError as error:  # pragma: no cover - Keras installs it
        raise UnnamedValueError(
            "reading a .keras file needs h5py (pip install h5py); or, with Keras, "
            "store = {}; keras.models.load_model(path).optimizer.save_own_variables(store)."
        ) from error
    with open(path, "rb") as file:
        data = file.read()
    if zipfile.is_zipfile(io.BytesIO(data)):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if "model.weights.h5" not in archive.namelist():
                raise UnnamedValueError(
                    f"{str(path)!r} is a zip without model.weights.h5: not a Keras 3 .keras file."
                )
            data = archive.read("model.weights.h5")
    weights: dict[str, list[np.ndarray]] = {}
    optimizer: dict[str, np.ndarray] = {}
    with h5py.File(io.BytesIO(data), "r") as h5:
        groups: list[str] = []
        h5.visit(lambda name: groups.append(name) if name.endswith("vars") else None)  # type: ignore[no-untyped-call]
        for name in groups:
            group = h5[name]
            if not isinstance(group, h5py.Group):
                continue
            entries = {str(k): np.asarray(group[k]) for k in group.keys()}
            owner = name[: -len("vars")].rstrip("/")
            if owner == "optimizer":
                optimizer = entries
            elif entries:
                weights[owner] = [entries[str(i)] for i in range(len(entries))]
    return KerasFile(weights, optimizer)


__all__ = ["KerasFile", "load_own_variables", "read_keras_file", "save_own_variables"]
