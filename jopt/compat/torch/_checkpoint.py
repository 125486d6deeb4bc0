"""PyTorch optimizer checkpoints, both ways: :func:`load_state_dict` turns what
``torch.optim.Optimizer.state_dict()`` returns into the state of the matching
``jopt.compat.torch`` preset, :func:`state_dict` turns such a state back into PyTorch's
structure (NumPy arrays and Python numbers), for ``optimizer.load_state_dict``.

PyTorch numbers the parameters group by group (``param_groups[i]["params"]``); ``order``
names the leaf path (:func:`jopt.compat.layout.path_string`) of each of those numbers.
Its default is jopt's own order: the leaves of each group in flatten order, the listed
groups first, then the default group, which is PyTorch's numbering when the torch
optimizer was built with the same groups in the same order.

Where the two keep different things:

- a step count. PyTorch keeps ``step`` per parameter (a 0-d tensor of its default dtype,
  float32 unless changed, which saving writes; SGD, Muon and LBFGS keep none; LBFGS's
  ``n_iter`` and ``func_evals`` count iterations and evaluations), jopt one count per
  group, only where the math reads it (Adam's bias correction, a schedule, dampening).
  Loading sets every count of a group, the schedule's included, to the checkpoint's step
  (all parameters of a group must have the same).
  Where the checkpoint has no step and jopt's state counts (SGD with dampening or a
  schedule, Muon or LBFGS with a schedule), give ``step=``. Saving writes jopt's count;
  where jopt keeps none (Adagrad without ``lr_decay``, RMSprop, Adadelta, Rprop), give
  ``step=``.
- state before the first step. PyTorch creates a parameter's state at its first step
  (Adagrad at construction); jopt's ``init`` holds the same zeros (Rprop: ``lr`` step
  sizes). A missing entry loads as ``init``'s; saving writes none before the first step
  (for SGD's and Muon's momentum, whose count jopt does not keep, none while the buffer is
  zero, which PyTorch's first step treats the same).
- scalars PyTorch recomputes: ASGD's ``eta`` and ``mu`` (jopt derives them from the count,
  so loading reads only ``step``; saving writes the next step's, in JAX's default float,
  as PyTorch keeps them in its default dtype); the rate a schedule recorded at the last
  update (loading recomputes it by replaying that update's schedules;
  ``get_learning_rate`` reads it).
- LBFGS keeps its history as lists, oldest first, under the first parameter's number;
  jopt a ring of ``history_size`` rows (loaded from row 0 on). Its flat vectors follow
  PyTorch's parameter order and shapes, converted to jopt's (the leaves in flatten order,
  after ``layout``). PyTorch's scratch list ``al`` is accepted and not saved.
- complex parameters: PyTorch's complex state tensors are jopt's real views (a trailing
  axis of 2) and back.
- Adafactor's factored moments ``row_var`` ``(…, m, 1)`` and ``col_var`` ``(…, 1, n)`` are
  jopt's ``row`` ``(…, m)`` and ``col`` ``(…, n)``; a layout that transposes a 2-D weight
  swaps them (the factored estimate R Cᵀ / mean(R) is symmetric in them); any other layout
  that moves a factored weight's axes is refused.

Group hyperparameters are fixed when a jopt optimizer is built, so loading compares the
checkpoint's with the preset's (the kernel switches ``foreach``, ``fused``,
``capturable``, ``differentiable`` aside; ``lr`` against ``initial_lr`` when the preset has
an ``lr_scheduler``; schedules aside) and refuses any difference.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jopt._algorithms.adam.adam import ScaleByAdamState, ScaleByAmsgradState
from jopt._algorithms.adam.adamax import ScaleByAdamaxState
from jopt._algorithms.adam.nadam import ScaleByNadamState
from jopt._algorithms.adaptive.adadelta import ScaleByAdadeltaState
from jopt._algorithms.adaptive.adagrad import ScaleByAdagradState
from jopt._algorithms.adaptive.rmsprop import ScaleByRmsState, ScaleByStddevState
from jopt._algorithms.averaging.average import AsgdAverageState
from jopt._algorithms.matrix.adafactor import FactoredSecondMoment, ScaleByAdafactorState
from jopt._algorithms.regularization.weight_decay import AddDecayedWeightsState
from jopt._algorithms.sgd.sgd import ScaleByCountedTraceState, ScaleByTraceState
from jopt._algorithms.sign.rprop import ScaleByRpropState
from jopt._core.checks import (
    UnnamedTypeError,
    UnnamedValueError,
    checked,
    integer,
    optional,
    transformation,
    unchecked,
)
from jopt._core.groups import ParamGroupsState, group_labels, groups_in_use, path_string
from jopt._core.learning_rate import ScaleByLearningRateState, ScaleByScheduleState
from jopt._core.state import evaluate
from jopt.compat._port import resolve_order
from jopt.compat.layout import LayoutArg, inverse_of, layouts_for
from jopt.compat.torch._groups import TorchPreset, preset_of
from jopt.compat.torch._lbfgs import LbfgsState

LOAD = "jopt.compat.torch.load_state_dict"
SAVE = "jopt.compat.torch.state_dict"

# ------------------------------------------------------------------ PyTorch's groups

# Each class's group keys in PyTorch 2.13, in its order.
_ADAM_KEYS = (
    "lr", "betas", "eps", "weight_decay", "amsgrad", "maximize", "foreach", "capturable",
    "differentiable", "fused", "decoupled_weight_decay",
)  # fmt: skip
GROUP_KEYS: dict[str, tuple[str, ...]] = {
    "SGD": (
        "lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize", "foreach",
        "differentiable", "fused",
    ),
    "Adam": _ADAM_KEYS,
    "AdamW": _ADAM_KEYS,
    "Adamax": (
        "lr", "betas", "eps", "weight_decay", "foreach", "maximize", "differentiable",
        "capturable",
    ),
    "NAdam": (
        "lr", "betas", "eps", "weight_decay", "momentum_decay", "decoupled_weight_decay",
        "maximize", "foreach", "capturable", "differentiable",
    ),
    "RAdam": (
        "lr", "betas", "eps", "weight_decay", "maximize", "foreach", "capturable",
        "decoupled_weight_decay", "differentiable",
    ),
    "Adagrad": (
        "lr", "lr_decay", "eps", "weight_decay", "initial_accumulator_value", "foreach",
        "maximize", "differentiable", "fused",
    ),
    "RMSprop": (
        "lr", "momentum", "alpha", "eps", "centered", "weight_decay", "capturable", "foreach",
        "maximize", "differentiable",
    ),
    "Adadelta": (
        "lr", "rho", "eps", "weight_decay", "maximize", "capturable", "foreach",
        "differentiable",
    ),
    "ASGD": (
        "lr", "lambd", "alpha", "t0", "weight_decay", "foreach", "maximize", "differentiable",
        "capturable",
    ),
    "Rprop": (
        "lr", "etas", "step_sizes", "foreach", "maximize", "differentiable", "capturable",
    ),
    "Adafactor": ("lr", "beta2_decay", "eps", "d", "weight_decay", "foreach", "maximize"),
    "Muon": (
        "lr", "weight_decay", "momentum", "nesterov", "ns_coefficients", "eps", "ns_steps",
        "adjust_lr_fn",
    ),
    "LBFGS": (
        "lr", "max_iter", "max_eval", "tolerance_grad", "tolerance_change", "history_size",
        "line_search_fn",
    ),
}  # fmt: skip
KERNEL_FLAGS = frozenset({"foreach", "fused", "capturable", "differentiable"})
# keys a checkpoint of an older PyTorch may lack (its load_state_dict fills them in)
_LATE_KEYS = KERNEL_FLAGS | {"maximize", "decoupled_weight_decay"}
# PyTorch's value of an argument jopt spells None (off)
_OFF: dict[str, Any] = {"weight_decay": 0, "momentum": 0, "dampening": 0, "lr_decay": 0}
_FIXED: dict[tuple[str, str], Any] = {("AdamW", "decoupled_weight_decay"): True}

# Each class's per-parameter state keys, and the classes that keep a step.
STATE_KEYS: dict[str, frozenset[str]] = {
    "SGD": frozenset({"momentum_buffer"}),
    "Adam": frozenset({"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}),
    "AdamW": frozenset({"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}),
    "Adamax": frozenset({"step", "exp_avg", "exp_inf"}),
    "NAdam": frozenset({"step", "mu_product", "exp_avg", "exp_avg_sq"}),
    "RAdam": frozenset({"step", "exp_avg", "exp_avg_sq"}),
    "Adagrad": frozenset({"step", "sum"}),
    "RMSprop": frozenset({"step", "square_avg", "momentum_buffer", "grad_avg"}),
    "Adadelta": frozenset({"step", "square_avg", "acc_delta"}),
    "ASGD": frozenset({"step", "eta", "mu", "ax"}),
    "Rprop": frozenset({"step", "prev", "step_size"}),
    "Adafactor": frozenset({"step", "row_var", "col_var", "variance"}),
    "Muon": frozenset({"momentum_buffer"}),
    "LBFGS": frozenset(
        {
            "func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag",
            "prev_flat_grad", "prev_loss", "al",
        }
    ),
}  # fmt: skip
_STEPLESS = frozenset({"SGD", "Muon", "LBFGS"})

# --------------------------------------------------------------- jopt's state fields

_COUNT = "<count>"  # the step count
_SCALAR = "<scalar:{}>"  # one scalar per group, one 0-d tensor per parameter in PyTorch
_FACTORED = "<adafactor>"
_KEEP = "<keep>"  # a field with no PyTorch counterpart that init fills in
_RECORDED = "<recorded rate>"

FIELDS: dict[type, dict[str, str]] = {
    ScaleByAdamState: {"count": _COUNT, "mu": "exp_avg", "nu": "exp_avg_sq"},
    ScaleByAmsgradState: {
        "count": _COUNT,
        "mu": "exp_avg",
        "nu": "exp_avg_sq",
        "nu_max": "max_exp_avg_sq",
    },
    ScaleByAdamaxState: {"count": _COUNT, "mu": "exp_avg", "nu": "exp_inf"},
    ScaleByNadamState: {
        "count": _COUNT,
        "mu_product": _SCALAR.format("mu_product"),
        "mu": "exp_avg",
        "nu": "exp_avg_sq",
    },
    ScaleByTraceState: {"trace": "momentum_buffer"},
    ScaleByCountedTraceState: {"count": _COUNT, "trace": "momentum_buffer"},
    ScaleByAdagradState: {"sum_of_squares": "sum"},
    ScaleByRmsState: {"nu": "square_avg"},
    ScaleByStddevState: {"mu": "grad_avg", "nu": "square_avg"},
    ScaleByAdadeltaState: {"e_g": "square_avg", "e_x": "acc_delta"},
    AsgdAverageState: {"count": _COUNT, "ax": "ax"},
    ScaleByRpropState: {"step_size": "step_size", "prev": "prev"},
    ScaleByAdafactorState: {"count": _COUNT, "nu": _FACTORED},
    ScaleByScheduleState: {"count": _COUNT, "learning_rate": _RECORDED},
    ScaleByLearningRateState: {"learning_rate": _KEEP},
    AddDecayedWeightsState: {"count": _COUNT},
}
_KNOWN = tuple(FIELDS)


def _is_known(x: Any) -> bool:
    return isinstance(x, _KNOWN)


def _is_masked(x: Any) -> bool:
    return isinstance(x, optax.MaskedNode)


def _known_nodes(state: Any) -> list[Any]:
    return [x for x in jax.tree.leaves(state, is_leaf=_is_known) if _is_known(x)]


def _check_covered(state: Any, name: str) -> None:
    """Every array of a group's state is a field this module knows (else it would be
    dropped silently)."""
    stray = [
        x
        for x in jax.tree.leaves(state, is_leaf=_is_known)
        if not _is_known(x) and not _is_masked(x)
    ]
    if stray:
        raise UnnamedValueError(
            f"the state of this {name} holds {len(stray)} arrays outside the states this "
            f"function converts ({', '.join(t.__name__ for t in _KNOWN)}); was tx built "
            "by a jopt.compat.torch preset?"
        )


# ---------------------------------------------------------------------- the context


class _Param(NamedTuple):
    leaf: int  # index among the params' leaves (flatten order)
    path: str
    index: int  # PyTorch's number
    layout: Callable[[Any], Any] | None


class _Context(NamedTuple):
    preset: TorchPreset
    name: str
    grouped: bool
    params: list[Any]  # the leaves
    paths: list[str]
    labels: list[int]
    used: list[int]  # jopt's group of each PyTorch group
    layouts: list[Callable[[Any], Any] | None]
    index_of: dict[str, int]  # path -> PyTorch number


def _preset(tx: Any, call: str) -> TorchPreset:
    preset = preset_of(tx)
    if preset is None:
        raise UnnamedTypeError(
            f"tx={tx!r} is not a jopt.compat.torch preset; {call.rsplit('.', 1)[1]} "
            "converts the state of a preset as built (e.g. jopt.compat.torch.AdamW(...), "
            "not wrapped in optax.chain or another transform)."
        )
    if preset.name not in GROUP_KEYS:
        raise UnnamedTypeError(
            f"tx is jopt.compat.torch.{preset.name}, which has no checkpoint format here "
            f"(the optimizers with one: {sorted(GROUP_KEYS)})."
        )
    return preset


def _context(
    tx: Any, params: Any, order: Sequence[str] | None, layout: LayoutArg, call: str
) -> _Context:
    preset = _preset(tx, call)
    grouped = len(preset.groups) > 1 or preset.schedulers is not None
    with_paths = jax.tree_util.tree_leaves_with_path(params)
    leaves = [leaf for _, leaf in with_paths]
    paths = [path_string(p) for p, _ in with_paths]
    if not leaves:
        raise UnnamedValueError("params has no leaves.")
    if grouped:
        labels = group_labels(preset.selectors, params)
        used = groups_in_use(len(preset.selectors), labels)
    else:
        labels, used = [0] * len(leaves), [0]
    given = resolve_order(order, paths, "PyTorch's parameter numbering")
    if given is None:
        ordered = [paths[i] for g in used for i in range(len(leaves)) if labels[i] == g]
    else:
        ordered = [paths[i] for i in given]
    return _Context(
        preset,
        preset.name,
        grouped,
        leaves,
        paths,
        labels,
        used,
        layouts_for(layout, paths),
        {p: k for k, p in enumerate(ordered)},
    )


def _groups_of(ctx: _Context, state: Any) -> list[Any]:
    if ctx.grouped:
        if not isinstance(state, ParamGroupsState) or len(state.groups) != len(ctx.used):
            raise UnnamedValueError(
                f"the state is not the state of this grouped {ctx.name} on these params "
                f"(a ParamGroupsState of {len(ctx.used)} groups); init it with tx.init(params)."
            )
        return list(state.groups)
    return [state]


def _with_groups(ctx: _Context, groups: list[Any]) -> Any:
    return ParamGroupsState(tuple(groups)) if ctx.grouped else groups[0]


# ------------------------------------------------------------------ hyperparameters


def _python(value: Any) -> Any:
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (tuple, list)):
        return tuple(_python(v) for v in value)
    array = np.asarray(value)
    if array.ndim == 0 and array.dtype.kind in "biuf":
        return array.item()
    return value


def _lr_schedule(ctx: _Context, group: int) -> Any:
    """The group's learning rate: a number, or a schedule ``count -> lr``."""
    config = ctx.preset.groups[group]
    schedulers = ctx.preset.schedulers
    scheduler = None if schedulers is None else schedulers[group]
    return config["lr"] if scheduler is None else scheduler(config["lr"])


def _torch_value(ctx: _Context, group: int, key: str, count: int | None) -> Any:
    """The group's ``key`` as PyTorch holds it (schedules evaluated at ``count``; None
    count: a schedule is returned as it is)."""
    config = ctx.preset.groups[group]
    if (ctx.name, key) in _FIXED:
        return _FIXED[(ctx.name, key)]
    if key == "lr":
        value = _lr_schedule(ctx, group)
    elif key == "max_eval" and config.get("max_eval") is None:
        return config["max_iter"] * 5 // 4
    else:
        value = config[key]
    if value is None and key in _OFF:
        return 0.0 if ctx.name == "Adafactor" else _OFF[key]

    def now(v: Any) -> Any:
        if callable(v):
            return v if count is None else _python(v(count))
        return _python(v)

    if isinstance(value, (tuple, list)):
        return tuple(now(v) for v in value)
    return now(value)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        if not (isinstance(a, (tuple, list)) and isinstance(b, (tuple, list))):
            return False
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if a is None or b is None or isinstance(a, str) or isinstance(b, str):
        return a == b
    try:
        return bool(np.asarray(a) == np.asarray(b))
    except (TypeError, ValueError):
        return False


def _has_schedule(value: Any) -> bool:
    if isinstance(value, tuple):
        return any(callable(v) for v in value)
    return callable(value)


def _check_hyperparameters(ctx: _Context, groups: Sequence[Mapping[str, Any]]) -> None:
    differences: list[str] = []
    for i, (g, saved) in enumerate(zip(ctx.used, groups, strict=True)):
        core = [k for k in GROUP_KEYS[ctx.name] if k not in KERNEL_FLAGS]
        missing = [k for k in core if k not in saved and k not in _LATE_KEYS]
        if missing:
            raise UnnamedValueError(
                f"param_groups[{i}] lacks {missing}, hyperparameters of torch.optim."
                f"{ctx.name}; is this the state dict of another optimizer class? "
                f"(its keys: {sorted(saved)})"
            )
        has_scheduler = ctx.preset.schedulers is not None and ctx.preset.schedulers[g] is not None
        for key in core:
            if key not in saved:
                continue
            if key == "lr" and (has_scheduler or ctx.preset.plateau is not None):
                # The scheduler sets the rate (OneCycleLR and CyclicLR even its first one,
                # initial_lr): load_scheduler_state checks it against the schedule.
                continue
            expected = _torch_value(ctx, g, key, None)
            got, key_name = saved[key], key
            if _has_schedule(expected):
                continue
            if not _same(expected, _python(got)):
                differences.append(
                    f"param_groups[{i}][{key_name!r}] is {got!r} in the checkpoint and "
                    f"{expected!r} in tx"
                )
    if differences:
        raise UnnamedValueError(
            "the checkpoint's group hyperparameters differ from tx's (jopt fixes them when "
            "the optimizer is built; build tx with the checkpoint's):\n  "
            + "\n  ".join(differences)
        )


# ----------------------------------------------------------------- array conversion


def _array(value: Any, where: str) -> np.ndarray:
    if isinstance(value, (list, tuple, dict, str)) or value is None:
        raise UnnamedTypeError(f"{where} is {type(value).__name__}, not a tensor or array.")
    try:
        array = np.asarray(value)
    except Exception as error:  # noqa: BLE001 (any failure to convert is reported)
        raise UnnamedTypeError(
            f"{where} is {type(value).__name__}, which np.asarray cannot convert ({error}); "
            "give tensors on the CPU or NumPy arrays."
        ) from None
    if array.dtype.kind not in "biufc":
        raise UnnamedTypeError(f"{where} has dtype {array.dtype}, not a number.")
    return array


def _to_jopt(
    value: Any, param: _Param, like: jax.Array, complex_param: bool, where: str
) -> jax.Array:
    """A PyTorch per-parameter tensor as the jopt field ``like``: layout, real view of a
    complex one, shape check, cast."""
    array = _array(value, where)
    if param.layout is not None:
        array = np.asarray(param.layout(array))
    complex_field = jnp.iscomplexobj(like)
    if np.iscomplexobj(array) and not complex_field:
        if not (complex_param and jnp.shape(like) == (*array.shape, 2)):
            raise UnnamedValueError(
                f"{where} is complex ({array.dtype}) and jopt keeps this field real, shape "
                f"{jnp.shape(like)}; a complex state tensor belongs to a complex parameter."
            )
        array = np.stack([np.real(array), np.imag(array)], axis=-1)
    elif complex_field and not np.iscomplexobj(array):
        raise UnnamedValueError(
            f"{where} is real ({array.dtype}) and jopt keeps this field complex "
            f"({jnp.asarray(like).dtype}), as PyTorch does for a complex parameter."
        )
    if array.shape != jnp.shape(like):
        raise UnnamedValueError(
            f"{where} has shape {array.shape}"
            + (" after layout" if param.layout is not None else "")
            + f"; the parameter's state has shape {jnp.shape(like)}"
            + (" (its real view)" if complex_param else "")
            + "."
        )
    return jnp.asarray(array.astype(jnp.asarray(like).dtype))


def _to_torch(x: Any, param: _Param, complex_param: bool) -> np.ndarray:
    """A jopt per-parameter field as PyTorch's tensor: complex from its real view, the
    layout's inverse."""
    array = np.asarray(x)
    if complex_param:
        array = array[..., 0] + 1j * array[..., 1]
        array = array.astype(np.result_type(array.dtype, np.complex64))
    inverse = inverse_of(param.layout, param.path)
    if inverse is not None:
        array = np.asarray(inverse(array))
    return _out(array)


def _out(x: Any) -> np.ndarray:
    """A writable C-contiguous copy (``torch.as_tensor`` warns on a read-only array, such
    as a JAX array's view)."""
    return np.array(x, order="C", copy=True)


def _is_complex_field(like: Any, leaf: Any) -> bool:
    return jnp.iscomplexobj(leaf) and jnp.shape(like) == (*jnp.shape(leaf), 2)


def _factored_swap(param: _Param, shape: tuple[int, ...]) -> bool:
    """Whether ``param``'s layout swaps the two factored axes (a 2-D transpose); raises
    for a layout that moves them otherwise."""
    if param.layout is None:
        return False
    # the PyTorch shape: the layout's inverse of jopt's, found on an index array
    probe = np.arange(math.prod(shape)).reshape(shape)
    try:
        inverse = inverse_of(param.layout, param.path)
    except TypeError:  # a plain function: try the transpose
        inverse = None
    torch_shape = np.shape(np.asarray(inverse(probe))) if inverse is not None else shape[::-1]
    torch_probe = np.arange(math.prod(torch_shape)).reshape(torch_shape)
    moved = np.asarray(param.layout(torch_probe))
    if moved.shape == shape and np.array_equal(moved, torch_probe.reshape(shape)):
        return False
    if len(shape) == 2 and np.array_equal(moved, torch_probe.T):
        return True
    raise UnnamedValueError(
        f"parameter {param.index} ({param.path!r}): its layout moves the axes of an "
        "Adafactor weight other than by a 2-D transpose; its factored row_var/col_var "
        "cannot follow (the factored axes are the last two)."
    )


# ------------------------------------------------------------------------- loading


def _group_params(ctx: _Context, g: int) -> list[_Param]:
    out = [
        _Param(i, ctx.paths[i], ctx.index_of[ctx.paths[i]], ctx.layouts[i])
        for i in range(len(ctx.params))
        if ctx.labels[i] == g
    ]
    return sorted(out, key=lambda p: p.index)


def _field_leaves(tree: Any) -> list[Any]:
    return jax.tree.leaves(
        tree, is_leaf=lambda x: _is_masked(x) or isinstance(x, FactoredSecondMoment)
    )


def _check_keys(ctx: _Context, param: _Param, saved: Mapping[str, Any], expected: set[str]):
    got = set(saved)
    extra, missing = sorted(got - expected), sorted(expected - got)
    if not extra and not missing:
        return
    foreign = [k for k in extra if k not in STATE_KEYS[ctx.name]]
    others = sorted({c for k in foreign for c, keys in STATE_KEYS.items() if k in keys})
    hint = (
        f"; {foreign} are state keys of {others}: is this the state dict of another "
        "optimizer class?"
        if others
        else "; do the checkpoint's hyperparameters (momentum, centered, amsgrad) match tx's?"
    )
    raise UnnamedValueError(
        f"state[{param.index}] (parameter {param.path!r}) of torch.optim.{ctx.name} has "
        f"extra keys {extra} and lacks {missing}; expected {sorted(expected)}{hint}"
    )


def _expected_keys(ctx: _Context, inner: Any, leaf: int) -> set[str]:
    keys: set[str] = set()
    if ctx.name not in _STEPLESS:
        keys.add("step")
    if ctx.name == "ASGD":
        keys |= {"eta", "mu"}
    for node in _known_nodes(inner):
        for field, key in FIELDS[type(node)].items():
            if key == _FACTORED:
                like = _field_leaves(getattr(node, field))[leaf]
                factored = isinstance(like, FactoredSecondMoment)
                keys |= {"row_var", "col_var"} if factored else {"variance"}
            elif key.startswith("<scalar:"):
                keys.add(key[len("<scalar:") : -1])
            elif not key.startswith("<"):
                keys.add(key)
    return keys


def _scalar_of(values: list[Any], key: str, params: list[_Param]) -> float:
    first = float(_array(values[0], f"state[{params[0].index}][{key!r}]").reshape(()))
    for value, p in zip(values[1:], params[1:], strict=True):
        other = float(_array(value, f"state[{p.index}][{key!r}]").reshape(()))
        if other != first:
            raise UnnamedValueError(
                f"state[{p.index}][{key!r}] (parameter {p.path!r}) is {other} and "
                f"state[{params[0].index}][{key!r}] ({params[0].path!r}) is {first}; jopt "
                "keeps one per group: parameters of one group must have stepped together."
            )
    return first


def _load_group(
    ctx: _Context,
    g: int,
    inner: Any,
    saved_state: Mapping[Any, Any],
    step_arg: int | None,
    lenient_count: bool,
) -> Any:
    params = _group_params(ctx, g)
    present = [p for p in params if p.index in saved_state]
    if present and len(present) != len(params):
        absent = next(p for p in params if p.index not in saved_state)
        raise UnnamedValueError(
            f"state[{absent.index}] (parameter {absent.path!r}) is missing while other "
            "parameters of its group have state; jopt keeps one step count per group, so "
            "the parameters of a group must have stepped together."
        )
    _check_covered(inner, f"torch.optim.{ctx.name}")
    saved = [saved_state[p.index] for p in present]
    for p, entry in zip(present, saved, strict=True):
        if not isinstance(entry, Mapping):
            raise UnnamedTypeError(
                f"state[{p.index}] (parameter {p.path!r}) is {type(entry).__name__}, not a "
                "dict of the parameter's state."
            )
        _check_keys(ctx, p, entry, _expected_keys(ctx, inner, p.leaf))
    counted = any(FIELDS[type(n)].get("count") == _COUNT for n in _known_nodes(inner))
    if ctx.name in _STEPLESS:
        step = step_arg if step_arg is not None else (None if present else 0)
        if step is None and counted and not lenient_count:
            raise UnnamedValueError(
                f"torch.optim.{ctx.name} keeps no step count and tx's state counts its "
                "steps (a schedule or dampening); give step= (the optimizer steps taken) "
                "or scheduler_state_dict=."
            )
    elif present:
        step_value = _scalar_of([e["step"] for e in saved], "step", present)
        if step_value != int(step_value) or step_value < 0:
            raise UnnamedValueError(
                f"state[{present[0].index}]['step'] is {step_value}, not a step count."
            )
        step = int(step_value)
        if step_arg is not None and step_arg != step:
            raise UnnamedValueError(
                f"step={step_arg} and the checkpoint's step is {step}; leave step= out."
            )
    else:
        step = 0 if step_arg is None else step_arg
    by_leaf = {p.leaf: (p, e) for p, e in zip(present, saved, strict=True)}

    def per_param(tree: Any, key: str) -> Any:
        leaves, structure = jax.tree.flatten(tree, is_leaf=_is_masked)
        out = list(leaves)
        for leaf, (p, entry) in by_leaf.items():
            where = f"state[{p.index}][{key!r}] (parameter {p.path!r})"
            complex_param = _is_complex_field(leaves[leaf], ctx.params[leaf])
            out[leaf] = _to_jopt(entry[key], p, leaves[leaf], complex_param, where)
        return structure.unflatten(out)

    def factored(tree: Any) -> Any:
        leaves, structure = jax.tree.flatten(
            tree, is_leaf=lambda x: _is_masked(x) or isinstance(x, FactoredSecondMoment)
        )
        out = list(leaves)
        for leaf, (p, entry) in by_leaf.items():
            like = leaves[leaf]
            if not isinstance(like, FactoredSecondMoment):
                where = f"state[{p.index}]['variance'] (parameter {p.path!r})"
                out[leaf] = _to_jopt(entry["variance"], p, like, False, where)
                continue
            shape = tuple(jnp.shape(ctx.params[leaf]))
            swap = _factored_swap(p, shape)
            row_key, col_key = ("col_var", "row_var") if swap else ("row_var", "col_var")
            plain = p._replace(layout=None)
            rows = _array(entry[row_key], f"state[{p.index}][{row_key!r}]")
            cols = _array(entry[col_key], f"state[{p.index}][{col_key!r}]")
            # PyTorch keeps them with the reduced axis as 1: (…, m, 1) and (…, 1, n)
            if swap:
                rows, cols = rows.T, cols.T
            row = _to_jopt(
                _squeeze(rows, -1, p, row_key),
                plain,
                like.row,
                False,
                f"state[{p.index}][{row_key!r}] (parameter {p.path!r})",
            )
            col = _to_jopt(
                _squeeze(cols, -2, p, col_key),
                plain,
                like.col,
                False,
                f"state[{p.index}][{col_key!r}] (parameter {p.path!r})",
            )
            out[leaf] = FactoredSecondMoment(row, col)
        return structure.unflatten(out)

    scalars: dict[str, float] = {}

    def convert(node: Any) -> Any:
        if not _is_known(node):
            return node
        updates = {}
        for field, key in FIELDS[type(node)].items():
            value = getattr(node, field)
            if key == _COUNT:
                if step is not None:
                    updates[field] = jnp.asarray(step, jnp.asarray(value).dtype)
            elif key.startswith("<scalar:"):
                name = key[len("<scalar:") : -1]
                if present:
                    if name not in scalars:
                        scalars[name] = _scalar_of([e[name] for e in saved], name, present)
                    updates[field] = jnp.asarray(scalars[name], jnp.asarray(value).dtype)
            elif key == _FACTORED:
                if present:
                    updates[field] = factored(value)
            elif not key.startswith("<") and present:
                updates[field] = per_param(value, key)
        return node._replace(**updates)

    return jax.tree.map(convert, inner, is_leaf=_is_known)


def _squeeze(array: np.ndarray, axis: int, param: _Param, key: str) -> np.ndarray:
    if array.ndim < 2 or array.shape[axis] != 1:
        raise UnnamedValueError(
            f"state[{param.index}][{key!r}] (parameter {param.path!r}) has shape "
            f"{array.shape}; PyTorch's Adafactor keeps it with axis {axis} of size 1."
        )
    return np.squeeze(array, axis)


def _replay_rates(tx: Any, template: Any, loaded: Any, params: Any) -> Any:
    """``loaded`` with the rate each schedule recorded at the last update: that update
    replayed (zero gradients) from the counts one less, its other results dropped."""

    def nodes(state: Any) -> list[Any]:
        return [
            x
            for x in jax.tree.leaves(state, is_leaf=lambda x: isinstance(x, ScaleByScheduleState))
            if isinstance(x, ScaleByScheduleState)
        ]

    if not any(int(n.count) > 0 for n in nodes(loaded)):
        return loaded

    def back(node: Any) -> Any:
        if _is_known(node) and FIELDS[type(node)].get("count") == _COUNT:
            return node._replace(count=jnp.maximum(node.count - 1, 0).astype(node.count.dtype))
        return node

    previous = jax.tree.map(back, loaded, is_leaf=_is_known)
    zeros = jax.tree.map(jnp.zeros_like, params)
    _, replayed = jax.jit(tx.update)(zeros, previous, params)
    recorded = iter(
        [
            r.learning_rate if int(n.count) > 0 else n.learning_rate
            for n, r in zip(nodes(loaded), nodes(replayed), strict=True)
        ]
    )

    def put(node: Any) -> Any:
        if isinstance(node, ScaleByScheduleState):
            return node._replace(learning_rate=next(recorded))
        return node

    return jax.tree.map(put, loaded, is_leaf=lambda x: isinstance(x, ScaleByScheduleState))


def _parse(state_dict: Any) -> tuple[Mapping[Any, Any], list[Mapping[str, Any]]]:
    if not isinstance(state_dict, Mapping) or set(state_dict) != {"state", "param_groups"}:
        keys = sorted(state_dict) if isinstance(state_dict, Mapping) else None
        raise UnnamedTypeError(
            f"state_dict is {type(state_dict).__name__}"
            + (f" with keys {keys}" if keys is not None else "")
            + "; it must be what torch.optim.Optimizer.state_dict() returns, a dict with "
            "the keys 'state' and 'param_groups'."
        )
    state, groups = state_dict["state"], state_dict["param_groups"]
    if not isinstance(state, Mapping):
        raise UnnamedTypeError(f"state_dict['state'] is {type(state).__name__}, not a dict.")
    if not isinstance(groups, Sequence) or not all(
        isinstance(g, Mapping) and "params" in g for g in groups
    ):
        raise UnnamedTypeError(
            "state_dict['param_groups'] must be a list of dicts, each with a 'params' list."
        )
    return state, list(groups)


def _check_numbering(
    ctx: _Context, groups: list[Mapping[str, Any]], saved: Mapping[Any, Any]
) -> None:
    if len(groups) != len(ctx.used):
        raise UnnamedValueError(
            f"the checkpoint has {len(groups)} param_groups and tx has {len(ctx.used)} "
            "(on these params): give tx the checkpoint's param_groups."
        )
    total = sum(len(g["params"]) for g in groups)
    if total != len(ctx.params):
        counts = [len(g["params"]) for g in groups]
        ours = [ctx.labels.count(g) for g in ctx.used]
        listed = {k for g in groups for k in g["params"]}
        unlisted = [f"{k} ({p!r})" for p, k in ctx.index_of.items() if k not in listed]
        raise UnnamedValueError(
            f"the checkpoint has {total} parameters (per group {counts}) and params has "
            f"{len(ctx.params)} leaves (per group {ours})"
            + (f"; the checkpoint lacks parameters {', '.join(unlisted)}" if unlisted else "")
            + "."
        )
    by_index = {k: p for p, k in ctx.index_of.items()}
    for i, (g, group) in enumerate(zip(ctx.used, groups, strict=True)):
        for k in group["params"]:
            path = by_index.get(k)
            if path is None:
                raise UnnamedValueError(
                    f"param_groups[{i}]['params'] holds {k!r}, not a parameter number "
                    f"0..{len(ctx.params) - 1}."
                )
            label = ctx.labels[ctx.paths.index(path)]
            if label != g:
                raise UnnamedValueError(
                    f"param_groups[{i}]['params'] holds parameter {k} ({path!r}), which "
                    f"tx puts in group {ctx.used.index(label)}; check order= and tx's "
                    "param_groups."
                )
    extra = sorted(set(saved) - set(by_index))
    if extra:
        raise UnnamedValueError(
            f"state_dict['state'] has entries {extra} for parameters no group holds."
        )


_TX = transformation("jopt.compat.torch.AdamW(lr=1e-3)")
_STEP = optional(integer(0))
_PARAMS = unchecked("any pytree; its leaves are checked against the checkpoint's tensors")
_ORDER = unchecked("checked against the params' paths (the error lists them)")
_LAYOUT = unchecked("jopt.compat.layout.layouts_for checks it against the params' paths")


@checked(
    tx=_TX,
    params=_PARAMS,
    state_dict=unchecked("PyTorch's structure, checked entry by entry (the error names it)"),
    order=_ORDER,
    layout=_LAYOUT,
    step=_STEP,
    scheduler_state_dict=unchecked("checked by the scheduler's loader"),
)
def load_state_dict(
    tx: optax.GradientTransformation,
    params: Any,
    state_dict: Mapping[str, Any],
    *,
    order: Sequence[str] | None = None,
    layout: LayoutArg = None,
    step: int | None = None,
    scheduler_state_dict: Mapping[str, Any] | None = None,
) -> Any:
    """The state of the preset ``tx`` on ``params`` from PyTorch's
    ``optimizer.state_dict()`` (tensors on the CPU or NumPy arrays; torch is not imported).

    Per parameter, PyTorch's ``step``, ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq``,
    ``exp_inf``, ``mu_product``, ``momentum_buffer``, ``sum``, ``square_avg``,
    ``grad_avg``, ``acc_delta``, ``eta``, ``mu``, ``ax``, ``prev``, ``step_size``,
    ``row_var``, ``col_var``, ``variance`` (and LBFGS's flat state) become the fields of
    ``tx.init(params)``: ``layout`` applied, then checked against the field's shape, then
    cast to its dtype. See the module's documentation for what differs. Each count of a
    group (the schedule's included) is set to the checkpoint's ``step``. What
    :func:`state_dict` saved loads back bit for bit (LBFGS's ring starting at row 0; a
    schedule's recorded rate as a jitted update computes it).

    Args:
      tx: a ``jopt.compat.torch`` preset as built (its class and groups are read from it).
      params: the parameters (jopt's layout).
      state_dict: ``{"state": {number: {key: tensor}}, "param_groups": [{..., "params":
        [numbers]}]}``.
      order: the leaf path (``"a/b/0"``) of each of PyTorch's parameter numbers; default:
        the leaves of each group in flatten order, group after group.
      layout: a layout (``jopt.compat.layout.linear``) or a dict path -> layout, from
        PyTorch's layout to the params'.
      step: the optimizer steps taken, for a class whose checkpoint has no step (SGD,
        Muon, LBFGS) when tx's state counts; must agree with the checkpoint otherwise.
      scheduler_state_dict: a PyTorch ``lr_scheduler.state_dict()``, loaded after the
        optimizer's state.

    Returns:
      A state for ``tx.update`` (the structure of ``tx.init(params)``).

    Raises:
      TypeError: tx is not a preset; state_dict is not PyTorch's structure.
      ValueError: another class's state, another number of parameters or groups, a
        tensor of another shape, missing or extra keys, different group hyperparameters
        (each naming the parameter number, its path and the key).

    >>> import numpy as np, jax.numpy as jnp
    >>> import jopt.compat.torch as jt
    >>> tx = jt.SGD(lr=0.1, momentum=0.9)
    >>> params = {"w": jnp.zeros(2)}
    >>> sd = {"state": {0: {"momentum_buffer": np.array([1.0, -1.0])}},
    ...       "param_groups": [{"lr": 0.1, "momentum": 0.9, "dampening": 0,
    ...                         "weight_decay": 0, "nesterov": False, "maximize": False,
    ...                         "params": [0]}]}
    >>> state = jt.load_state_dict(tx, params, sd)
    >>> state[0].trace["w"]
    Array([ 1., -1.], dtype=float32)
    >>> sd["param_groups"][0]["lr"] = 0.2
    >>> jt.load_state_dict(tx, params, sd)
    Traceback (most recent call last):
    ...
    ValueError: jopt.compat.torch.load_state_dict: the checkpoint's group hyperparameters ...
    """
    loaded = _load(tx, params, state_dict, order, layout, step, scheduler_state_dict)
    if scheduler_state_dict is not None:
        from jopt.compat.torch._scheduler_state import (  # pyright: ignore[reportMissingImports]
            load_scheduler_state,
        )

        return load_scheduler_state(tx, loaded, scheduler_state_dict)
    return loaded


def _load(
    tx: Any,
    params: Any,
    state_dict: Any,
    order: Sequence[str] | None,
    layout: LayoutArg,
    step: int | None,
    scheduler_state_dict: Any,
) -> Any:
    ctx = _context(tx, params, order, layout, LOAD)
    saved, groups = _parse(state_dict)
    _check_numbering(ctx, groups, saved)
    _check_hyperparameters(ctx, groups)
    template = tx.init(params)
    lenient = scheduler_state_dict is not None
    if ctx.name == "LBFGS":
        first = groups[0]["params"][0]
        return _load_lbfgs(ctx, tx, template, saved.get(first), first, step, lenient)
    inner = _groups_of(ctx, template)
    loaded = [
        _load_group(ctx, g, state, saved, step, lenient)
        for g, state in zip(ctx.used, inner, strict=True)
    ]
    return _replay_rates(tx, template, _with_groups(ctx, loaded), params)


# ------------------------------------------------------------------------- LBFGS


def _torch_sequence(ctx: _Context) -> list[_Param]:
    """The parameters in PyTorch's order (its flat vectors' order)."""
    return sorted(
        (
            _Param(i, ctx.paths[i], ctx.index_of[ctx.paths[i]], ctx.layouts[i])
            for i in range(len(ctx.params))
        ),
        key=lambda p: p.index,
    )


def _torch_shape(ctx: _Context, p: _Param) -> tuple[int, ...]:
    shape = tuple(jnp.shape(ctx.params[p.leaf]))
    if p.layout is None:
        return shape
    inverse = inverse_of(p.layout, p.path)  # LBFGS's flat vectors: torch's shape of each
    assert inverse is not None
    return tuple(np.shape(np.asarray(inverse(np.zeros(shape)))))


def _flat_to_jopt(ctx: _Context, vector: np.ndarray) -> np.ndarray:
    sizes = [int(np.prod(jnp.shape(leaf))) for leaf in ctx.params]
    parts: list[Any] = [None] * len(ctx.params)
    offset = 0
    for p in _torch_sequence(ctx):
        shape = _torch_shape(ctx, p)
        piece = vector[offset : offset + sizes[p.leaf]].reshape(shape)
        offset += sizes[p.leaf]
        if p.layout is not None:
            piece = np.asarray(p.layout(piece))
        parts[p.leaf] = np.ravel(piece)
    return np.concatenate(parts)


def _flat_to_torch(ctx: _Context, vector: np.ndarray) -> np.ndarray:
    sizes = [int(np.prod(jnp.shape(leaf))) for leaf in ctx.params]
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    parts = []
    for p in _torch_sequence(ctx):
        piece = vector[starts[p.leaf] : starts[p.leaf + 1]].reshape(jnp.shape(ctx.params[p.leaf]))
        inverse = inverse_of(p.layout, p.path)
        if inverse is not None:
            piece = np.asarray(inverse(piece))
        parts.append(np.ravel(piece))
    return _out(np.concatenate(parts))


_LBFGS_FULL = frozenset(STATE_KEYS["LBFGS"] - {"al"})


def _load_lbfgs(
    ctx: _Context,
    tx: Any,
    template: LbfgsState,
    saved: Any,
    index: int,
    step: int | None,
    lenient: bool,
) -> LbfgsState:
    path = next(p for p, k in ctx.index_of.items() if k == index)
    where = f"state[{index}] (parameter {path!r}, where LBFGS keeps its state)"
    scheduled = isinstance(template.rate, ScaleByScheduleState)
    if scheduled and step is None and not lenient:
        raise UnnamedValueError(
            "torch.optim.LBFGS keeps no step count and tx's learning rate is a schedule; "
            "give step= (the optimizer steps taken) or scheduler_state_dict=."
        )
    state = template
    if scheduled and step is not None:
        lr = _lr_schedule(ctx, 0)
        recorded = (
            template.rate.learning_rate
            if step == 0
            else jnp.asarray(evaluate(lr, jnp.asarray(step - 1, jnp.int32))).astype(
                template.rate.learning_rate.dtype
            )
        )
        state = state._replace(rate=ScaleByScheduleState(jnp.asarray(step, jnp.int32), recorded))
    if saved is None:
        return state
    if not isinstance(saved, Mapping):
        raise UnnamedTypeError(f"{where} is {type(saved).__name__}, not a dict.")
    got = set(saved)
    partial = {"func_evals", "n_iter"}
    if got != partial and frozenset(got - {"al"}) != _LBFGS_FULL:
        extra, missing = sorted(got - STATE_KEYS["LBFGS"]), sorted(_LBFGS_FULL - got)
        others = sorted({c for k in extra for c, keys in STATE_KEYS.items() if k in keys})
        raise UnnamedValueError(
            f"{where} has extra keys {extra} and lacks {missing}; expected "
            f"{sorted(_LBFGS_FULL)}"
            + (f"; {extra} are state keys of {others}: another optimizer class?" if others else "")
        )
    dt = template.d.dtype
    n = template.d.shape[0]
    m = template.old_dirs.shape[0]

    def number(key: str) -> Any:
        value = _array(saved[key], f"{where}[{key!r}]")
        if value.size != 1:
            raise UnnamedValueError(f"{where}[{key!r}] has shape {value.shape}, not a number.")
        return value.reshape(())

    def flat(value: Any, key: str) -> np.ndarray:
        array = _array(value, f"{where}[{key!r}]")
        if array.shape != (n,):
            raise UnnamedValueError(
                f"{where}[{key!r}] has shape {array.shape}; the params flatten to ({n},)."
            )
        return _flat_to_jopt(ctx, array)

    state = state._replace(
        n_iter=jnp.asarray(int(number("n_iter")), jnp.int32),
        func_evals=jnp.asarray(int(number("func_evals")), jnp.int32),
    )
    if got == partial:
        return state
    history = {k: saved[k] for k in ("old_dirs", "old_stps", "ro")}
    for key, value in history.items():
        if not isinstance(value, Sequence) or isinstance(value, str):
            raise UnnamedTypeError(f"{where}[{key!r}] is {type(value).__name__}, not a list.")
    length = len(history["old_dirs"])
    if {len(v) for v in history.values()} != {length} or length > m:
        raise UnnamedValueError(
            f"{where}: old_dirs, old_stps and ro hold {[len(v) for v in history.values()]} "
            f"entries; they must hold the same number, at most history_size={m}."
        )
    dirs = np.zeros((m, n), dt)
    stps = np.zeros((m, n), dt)
    ro = np.zeros((m,), dt)
    for i in range(length):
        dirs[i] = flat(history["old_dirs"][i], f"old_dirs[{i}]")
        stps[i] = flat(history["old_stps"][i], f"old_stps[{i}]")
        ro[i] = _array(history["ro"][i], f"{where}['ro'][{i}]").reshape(())
    return state._replace(
        d=jnp.asarray(flat(saved["d"], "d").astype(dt)),
        t=jnp.asarray(number("t").astype(dt)),
        old_dirs=jnp.asarray(dirs),
        old_stps=jnp.asarray(stps),
        ro=jnp.asarray(ro),
        history_start=jnp.asarray(0, jnp.int32),
        history_len=jnp.asarray(length, jnp.int32),
        h_diag=jnp.asarray(number("H_diag").astype(dt)),
        prev_flat_grad=jnp.asarray(flat(saved["prev_flat_grad"], "prev_flat_grad").astype(dt)),
        prev_loss=jnp.asarray(number("prev_loss").astype(dt)),
    )


def _save_lbfgs(ctx: _Context, state: Any) -> dict[str, Any]:
    if not isinstance(state, LbfgsState):
        raise UnnamedValueError("the state is not an LbfgsState; init it with tx.init(params).")
    n_iter, func_evals = int(state.n_iter), int(state.func_evals)
    if n_iter == 0 and func_evals == 0:
        return {}
    if n_iter == 0:
        return {"func_evals": func_evals, "n_iter": n_iter}
    m = state.old_dirs.shape[0]
    start, length = int(state.history_start), int(state.history_len)
    rows = [(start + i) % m for i in range(length)]
    dirs, stps, ro = np.asarray(state.old_dirs), np.asarray(state.old_stps), np.asarray(state.ro)
    return {
        "func_evals": func_evals,
        "n_iter": n_iter,
        "d": _flat_to_torch(ctx, np.asarray(state.d)),
        "t": _out(state.t),
        "old_dirs": [_flat_to_torch(ctx, dirs[r]) for r in rows],
        "old_stps": [_flat_to_torch(ctx, stps[r]) for r in rows],
        "ro": [_out(ro[r]) for r in rows],
        "H_diag": _out(state.h_diag),
        "prev_flat_grad": _flat_to_torch(ctx, np.asarray(state.prev_flat_grad)),
        "prev_loss": float(state.prev_loss),
    }


# -------------------------------------------------------------------------- saving


def _group_count(inner: Any, name: str) -> int | None:
    counts = {
        int(getattr(node, field))
        for node in _known_nodes(inner)
        for field, key in FIELDS[type(node)].items()
        if key == _COUNT
    }
    if len(counts) > 1:
        raise UnnamedValueError(
            f"the state of this {name} holds different step counts {sorted(counts)} in one "
            "group; it was not built by tx.init and tx.update."
        )
    return counts.pop() if counts else None


def _save_group(
    ctx: _Context, g: int, inner: Any, step_arg: int | None
) -> tuple[dict[int, dict[str, Any]], int | None]:
    _check_covered(inner, f"torch.optim.{ctx.name}")
    count = _group_count(inner, ctx.name)
    if count is not None and step_arg is not None and step_arg != count:
        raise UnnamedValueError(
            f"step={step_arg} and tx's state counts {count} steps; leave step= out."
        )
    step = count if count is not None else step_arg
    if step is None and ctx.name not in _STEPLESS:
        raise UnnamedValueError(
            f"torch.optim.{ctx.name} keeps a step count and tx's state does not (its math "
            "reads none); give step= (the optimizer steps taken)."
        )
    params = _group_params(ctx, g)
    nodes = _known_nodes(inner)
    buffers = [
        getattr(node, field)
        for node in nodes
        for field, key in FIELDS[type(node)].items()
        if key == _FACTORED or not key.startswith("<")
    ]
    if not buffers:  # SGD without momentum: PyTorch keeps nothing
        present = False
    elif ctx.name == "Adagrad":
        present = True
    elif step is not None:
        present = step > 0
    else:  # SGD or Muon, momentum without a count: a zero buffer is PyTorch's first step
        present = any(bool(np.any(np.asarray(x) != 0)) for x in jax.tree.leaves(buffers))
    out: dict[int, dict[str, Any]] = {}
    if not present:
        return out, step
    for p in params:
        entry: dict[str, Any] = {}
        if ctx.name not in _STEPLESS:
            entry["step"] = np.array(step, np.float32)
        leaf = ctx.params[p.leaf]
        for node in nodes:
            for field, key in FIELDS[type(node)].items():
                value = getattr(node, field)
                if key.startswith("<scalar:"):
                    entry[key[len("<scalar:") : -1]] = _out(value)
                elif key == _FACTORED:
                    like = _field_leaves(value)[p.leaf]
                    if isinstance(like, FactoredSecondMoment):
                        swap = _factored_swap(p, tuple(jnp.shape(leaf)))
                        row = np.expand_dims(np.asarray(like.row), -1)
                        col = np.expand_dims(np.asarray(like.col), -2)
                        if swap:
                            row, col = col.T, row.T
                        entry["row_var"], entry["col_var"] = _out(row), _out(col)
                    else:
                        entry["variance"] = _to_torch(like, p, False)
                elif not key.startswith("<"):
                    x = jax.tree.leaves(value, is_leaf=_is_masked)[p.leaf]
                    entry[key] = _to_torch(x, p, _is_complex_field(x, leaf))
        if ctx.name == "ASGD":
            entry["eta"], entry["mu"] = _asgd_scalars(ctx, g, step or 0)
        out[p.index] = entry
    return out, step


def _asgd_scalars(ctx: _Context, g: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's η and μ after ``count`` steps (the next step's): η = α/(1 + λαc)^a with
    α the rate of step c, μ = 1/max(1, c − t0)."""
    config = ctx.preset.groups[g]
    dtype = jnp.result_type(float)
    lr = _lr_schedule(ctx, g)
    rate = jnp.asarray(evaluate(lr, jnp.asarray(max(count - 1, 0), jnp.int32))).astype(dtype)
    lambd, alpha = jnp.asarray(config["lambd"], dtype), jnp.asarray(config["alpha"], dtype)
    eta = rate / (1.0 + lambd * rate * jnp.asarray(count, dtype)) ** alpha
    mu = 1.0 / max(1.0, count - float(config["t0"]))
    return _out(eta), np.array(mu, dtype)


@checked(
    tx=_TX,
    opt_state=unchecked("its structure must be tx.init(params)'s (checked)"),
    params=_PARAMS,
    order=_ORDER,
    layout=_LAYOUT,
    step=_STEP,
)
def state_dict(
    tx: optax.GradientTransformation,
    opt_state: Any,
    params: Any,
    *,
    order: Sequence[str] | None = None,
    layout: LayoutArg = None,
    step: int | None = None,
) -> dict[str, Any]:
    """PyTorch's ``optimizer.state_dict()`` of the preset ``tx``'s state ``opt_state``:
    NumPy arrays and Python numbers in PyTorch's structure; ``torch.as_tensor`` on each
    array gives what ``optimizer.load_state_dict`` takes.

    Each parameter's state holds PyTorch's keys for the class (``step`` as a float32 0-d
    array; none before the first step), each array laid out back (``layout``'s
    inverse) and complex for a complex parameter. Each group holds every key PyTorch's
    group has for the class (``lr`` the rate of the next step under a schedule,
    ``initial_lr`` with ``lr_scheduler``, the kernel switches as given) and ``params``,
    PyTorch's numbers of its parameters. See the module's documentation for what differs.

    Args:
      tx: a ``jopt.compat.torch`` preset as built.
      opt_state: its state.
      params: the parameters (jopt's layout).
      order: the leaf path of each of PyTorch's parameter numbers (see
        :func:`load_state_dict`).
      layout: a :class:`jopt.compat.layout.Layout` or a dict path -> Layout, from
        PyTorch's layout to the params' (its inverse is applied).
      step: the optimizer steps taken, for a class that keeps a step in PyTorch when
        tx's state keeps none (Adagrad without lr_decay, RMSprop, Adadelta, Rprop).

    Returns:
      ``{"state": {number: {key: array}}, "param_groups": [{..., "params": [numbers]}]}``.

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torch as jt
    >>> tx = jt.Adam(lr=0.1)
    >>> params = {"b": jnp.zeros(2), "w": jnp.zeros((2, 2))}
    >>> state = tx.init(params)
    >>> _, state = tx.update({"b": jnp.ones(2), "w": jnp.ones((2, 2))}, state)
    >>> sd = jt.state_dict(tx, state, params)
    >>> sorted(sd["state"][0]), sd["state"][0]["step"]
    (['exp_avg', 'exp_avg_sq', 'step'], array(1., dtype=float32))
    >>> sd["param_groups"][0]["betas"], sd["param_groups"][0]["params"]
    ((0.9, 0.999), [0, 1])
    """
    return _save(tx, opt_state, params, order, layout, step)


def _save(
    tx: Any,
    opt_state: Any,
    params: Any,
    order: Sequence[str] | None,
    layout: LayoutArg,
    step: int | None,
) -> dict[str, Any]:
    ctx = _context(tx, params, order, layout, SAVE)
    for i, p in enumerate(ctx.paths):  # a plain-function layout cannot save
        inverse_of(ctx.layouts[i], p)
    structure = jax.tree.structure(tx.init(params))
    if jax.tree.structure(opt_state) != structure:
        raise UnnamedValueError(
            "opt_state is not a state of tx on these params (another structure than "
            "tx.init(params))."
        )
    state: dict[int, dict[str, Any]] = {}
    groups: list[dict[str, Any]] = []
    if ctx.name == "LBFGS":
        counts: list[int | None] = [None]
        entry = _save_lbfgs(ctx, opt_state)
        if entry:
            state[min(ctx.index_of.values())] = entry
        if isinstance(opt_state.rate, ScaleByScheduleState):
            counts = [int(opt_state.rate.count)]
        elif step is not None:
            counts = [step]
    else:
        counts = []
        for g, inner in zip(ctx.used, _groups_of(ctx, opt_state), strict=True):
            entries, count = _save_group(ctx, g, inner, step)
            state.update(entries)
            counts.append(count)
    for g, count in zip(ctx.used, counts, strict=True):
        group: dict[str, Any] = {}
        for key in GROUP_KEYS[ctx.name]:
            value = _torch_value(ctx, g, key, count if count is not None else 0)
            if _has_schedule(value):
                value = _torch_value(ctx, g, key, 0)
            group[key] = value
        if ctx.preset.schedulers is not None and ctx.preset.schedulers[g] is not None:
            group["initial_lr"] = _python(ctx.preset.groups[g]["lr"])
        group["params"] = sorted(
            ctx.index_of[ctx.paths[i]] for i in range(len(ctx.params)) if ctx.labels[i] == g
        )
        groups.append(group)
    return {"state": dict(sorted(state.items())), "param_groups": groups}


__all__ = ["load_state_dict", "state_dict"]
