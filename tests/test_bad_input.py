"""Every public factory × every argument × every class of bad value: rejected at construction.

The table is built by introspection from the public API (each module's ``__all__``), so a
new factory is covered the moment it is exported. An argument's kind comes from its
annotation (``Scalar``/``ScalarOrSchedule``/``float``/``Any`` numbers, ``int``, ``bool``,
``str``, ``*_dtype``, pairs, name patterns, integer lists, wrapped transformations, and
the Keras base options every ``jopt.compat.keras`` preset takes); any other argument is
listed in ``UNCHECKED`` with its reason; a required argument gets a valid value from ``VALID`` (a new
required name fails ``test_every_required_argument_has_a_valid_value`` until added there).
Each bad value must raise TypeError or ValueError naming the call and the argument.
"""

from __future__ import annotations

import inspect
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jopt
import jopt.compat.keras as jk
import jopt.compat.torch as jt
import jopt.schedules as schedules


def _constant(count):
    return jnp.asarray(0.1) + 0.0 * jnp.asarray(count, jnp.float32)


MODULES = {
    "jopt": jopt,
    "jopt.schedules": schedules,
    "jopt.compat.torch": jt,
    "jopt.compat.keras": jk,
}
# Public functions that configure nothing (they read a state or scale a loss), and
# SparseAdam, which refuses every call (NotImplementedError: JAX has no sparse gradients).
NOT_FACTORIES = {
    "get_learning_rate",
    "averaged_params",
    "ema_params",
    "schedule_free_eval_params",
    "scale_loss",
    "SparseAdam",
}

# A valid value for each required argument, by name (and by call where a name needs more).
VALID = {
    "learning_rate": 0.1,
    "lr": 0.1,
    "base_lr": 0.1,
    "max_lr": 0.2,
    "weight_decay": 0.01,
    "t_max": 10,
    "t_0": 10,
    "step_size": 5,
    "total_steps": 20,
    "gamma": 0.5,
    "decay": 0.1,
    "milestones": [2, 4],
    "lr_lambda": lambda k: 1.0,
    "key": jax.random.key(0),
    "num_examples": 10,
    "batch_size": 2,
    "schedules": [_constant, _constant, _constant],
    "factors": _constant,
    "swa_lr": 0.05,
    "tx": jopt.sgd(0.1),
    "inner_optimizer": jk.SGD(0.1),
    "optimizer_map": jk.OptimizerMap(jk.SGD(0.1), {"b": jk.Adam(0.1)}),
}
# Where +inf means something (no upper bound on Rprop's step size), it is accepted.
ALLOW_INF = {("jopt.rprop", "max_step_size"), ("jopt.scale_by_rprop", "max_step_size")}
# Optional arguments of which one set is required (one_cycle_*: total_steps, or epochs and
# steps_per_epoch).
VALID_FOR = {
    "jopt.schedules.one_cycle_lr": dict(total_steps=20),
    "jopt.schedules.one_cycle_momentum": dict(total_steps=20),
}


def _factories():
    found = []
    for prefix, module in MODULES.items():
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj) and name not in NOT_FACTORIES:
                found.append((f"{prefix}.{name}", obj))
    return found


FACTORIES = _factories()
_CALLS = {factory: call for call, factory in FACTORIES}


def _annotation(p: inspect.Parameter) -> str:
    a = p.annotation
    if not isinstance(a, str):  # an evaluated annotation (the Keras options, with_options)
        a = getattr(a, "__name__", None) if isinstance(a, type) else str(a)
    return str(a).replace("jax.jaxlib._jax.Array", "jax.Array").replace("collections.abc.", "")


def _kind(p: inspect.Parameter) -> str | None:
    a = _annotation(p)
    optional = a.endswith("| None")
    a = a.removesuffix(" | None")
    if p.name.endswith("_dtype"):
        return "dtype"
    if a == "bool":
        return "flag"
    if a == "int":
        return "int"
    if a == "str":
        return "choice"
    if a.startswith(("Sequence[Scalar", "tuple[float", "tuple[Scalar")):
        return "pair"
    if "Scalar" in a or a in ("float", "float | jax.Array"):
        return "number"
    if a == "str | Sequence[str]":
        return "patterns"
    if a == "Sequence[int]":
        return "ints"
    if "GradientTransformation" in a and "Callable" not in a:
        return "transformation"
    if (
        a == "Any"
        and not optional
        and (
            p.default is p.empty
            or isinstance(p.default, (int, float))
            and not isinstance(p.default, bool)
        )
    ):
        return "number"
    return None


BAD = {
    "number": {
        "str": "0.1",
        "list": [0.1, 100.0],
        "dict": {"value": 0.1},
        "array": np.ones(2),
        "jax-array": jnp.ones(2),
        "complex": -0.1 + 0j,
        "bool": True,
        "nan": math.nan,
        "inf": math.inf,
        "-inf": -math.inf,
    },
    "int": {"float": 2.5, "str": "3", "list": [3], "bool": True, "negative": -1, "huge": 2**40},
    "flag": {"int": 1, "str": "yes", "float": 0.0},
    "choice": {"int": 1, "unknown": "nonsense"},
    "dtype": {"unknown": "float17", "int": 3, "integer-dtype": jnp.int32},
    "patterns": {"int": 3, "bad-regex": "bias("},
    "ints": {"str": "24", "float-entry": [2.5], "str-entry": ["2"], "bool-entry": [True]},
    "transformation": {"str": "adam", "factory": jopt.sgd, "none": None},
    "pair": {
        "str": "0.9",
        "scalar": 0.9,
        "one": (0.9,),
        "str-entry": (0.9, "x"),
        "nan-entry": (0.9, math.nan),
        "bool-entry": (True, 0.999),
    },
}


def _arguments(factory, **overrides):
    """Valid positional and keyword arguments for ``factory``, with ``overrides`` applied.

    Arguments before a ``*args`` are passed positionally (they cannot be keywords then).
    """
    overrides = {**VALID_FOR.get(_CALLS.get(factory, ""), {}), **overrides}
    params = list(inspect.signature(factory).parameters.values())
    star = next((i for i, p in enumerate(params) if p.kind == p.VAR_POSITIONAL), None)
    args, kwargs = [], {}
    for i, p in enumerate(params):
        value = overrides.get(p.name, VALID.get(p.name))
        if star is not None and i <= star:
            args.append(value)
        elif p.name in overrides or (p.default is p.empty and p.kind != p.VAR_KEYWORD):
            kwargs[p.name] = value
    return args, kwargs


CASES = [
    (call, factory, p.name, label, value)
    for call, factory in FACTORIES
    for p in inspect.signature(factory).parameters.values()
    if _kind(p) is not None
    for label, value in BAD[_kind(p)].items()
]
# Arguments the table does not read a kind from, each with its reason (a new argument of
# an unknown kind fails test_every_argument_is_checked_or_listed until it is one or the
# other). Their checks are tested where they are defined.
UNCHECKED = {
    "mask": "a tree or a function of the params, as optax's; checked against the params",
    "scale_fn": "a function; tests/test_schedules.py",
    "lr_lambda": "a function; tests/test_schedules.py",
    "key": "a PRNG key; jax checks it",
    "factors": "a schedule; tests/test_schedules.py",
    "schedules": "schedules; tests/test_schedules.py",
    "exclude_layers": "name patterns; tests/test_keras_options.py",
    "optimizer_map": "tests/test_keras_options.py (test_bad_options_jopt_only)",
}


def test_every_argument_is_checked_or_listed():
    unread = {
        (call, p.name)
        for call, factory in FACTORIES
        for p in inspect.signature(factory).parameters.values()
        if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        and _kind(p) is None
        and p.name not in UNCHECKED
    }
    assert not unread, f"give these arguments a kind in _kind or a reason in UNCHECKED: {unread}"


def _with_ema(factory, bad: dict) -> dict:
    # Keras checks the EMA's options only with use_ema=True: turn it on for them.
    if "use_ema" in inspect.signature(factory).parameters and "use_ema" not in bad:
        if any(n.startswith("ema_") for n in bad):
            return {"use_ema": True, **bad}
    return bad


def test_every_required_argument_has_a_valid_value():
    missing = {
        (call, p.name)
        for call, factory in FACTORIES
        for p in inspect.signature(factory).parameters.values()
        if p.default is p.empty and p.kind not in (p.VAR_KEYWORD,) and p.name not in VALID
    }
    assert not missing, f"add a valid value for these required arguments to VALID: {missing}"


@pytest.mark.parametrize("call, factory", FACTORIES, ids=[c for c, _ in FACTORIES])
def test_valid_arguments_construct(call, factory):
    args, kwargs = _arguments(factory)
    factory(*args, **kwargs)


@pytest.mark.parametrize(
    "call, factory, name, label, value",
    CASES,
    ids=[f"{c}-{n}-{label}" for c, _, n, label, _ in CASES],
)
def test_bad_value_is_rejected_at_construction(call, factory, name, label, value):
    args, kwargs = _arguments(factory, **_with_ema(factory, {name: value}))
    if label == "inf" and (call, name) in ALLOW_INF:
        factory(*args, **kwargs)
        return
    with pytest.raises((TypeError, ValueError)) as error:
        factory(*args, **kwargs)
    message = str(error.value)
    assert message.startswith(f"{call}: "), message
    assert name in message, message


def test_the_table_checks_fail_on_a_factory_that_accepts_anything():
    # The checker above must catch a factory that validates nothing.
    def lax_factory(learning_rate: jopt._base.ScalarOrSchedule, beta: jopt._base.Scalar = 0.9):
        return jopt.sgd(0.1)

    with pytest.raises(pytest.fail.Exception):
        test_bad_value_is_rejected_at_construction(
            "jopt.lax_factory", lax_factory, "beta", "str", "0.9"
        )


def _mixed(factory):
    params = [p for p in inspect.signature(factory).parameters.values() if _kind(p) is not None]
    return st.fixed_dictionaries(
        {p.name: st.one_of(st.just(None), st.sampled_from(list(BAD[_kind(p)]))) for p in params}
    )


@pytest.mark.parametrize("call, factory", FACTORIES, ids=[c for c, _ in FACTORIES])
@settings(max_examples=15, deadline=None, derandomize=True, database=None)
@given(data=st.data())
def test_mixed_bad_arguments_name_one_of_them(call, factory, data):
    # Several arguments wrong at once, of different kinds: the error names one of them.
    choice = data.draw(_mixed(factory))
    params = inspect.signature(factory).parameters
    bad = {
        n: BAD[_kind(params[n])][label]
        for n, label in choice.items()
        if label is not None and not (label == "inf" and (call, n) in ALLOW_INF)
    }
    args, kwargs = _arguments(factory, **_with_ema(factory, bad))
    if not bad:
        factory(*args, **kwargs)
        return
    with pytest.raises((TypeError, ValueError)) as error:
        factory(*args, **kwargs)
    message = str(error.value)
    assert message.startswith(f"{call}: ") and any(n in message for n in bad), message
