"""Every schedule factory (jopt.schedules, jopt.compat.keras.schedules) and
reduce_lr_on_plateau rejects bad input at construction, naming the call and the argument.

Built by introspection: each parameter's annotation says what kind of value it takes
(``Scalar``/``float`` numbers, ``int`` static integers, ``bool`` flags, ``str`` modes,
sequences, functions), and every bad-value class of that kind is tried against an
otherwise valid configuration, so a new factory or argument is covered automatically
once it has a valid configuration in ``VALID``.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import optax
import pytest

import jopt
import jopt.compat.keras.schedules as ks
import jopt.schedules as schedules
from jopt._core.checks import Real
from jopt.schedules._common import Numbers, Schedules


def _one(k):
    return 1.0


VALID = {
    "chained_lr": dict(base_lr=0.1),
    "constant_lr": dict(base_lr=0.1),
    "cosine_annealing_lr": dict(base_lr=0.1, t_max=10),
    "cosine_annealing_warm_restarts": dict(base_lr=0.1, t_0=10),
    "cyclic_lr": dict(base_lr=0.1, max_lr=1.0),
    "cyclic_momentum": dict(),
    "exponential_lr": dict(base_lr=0.1, gamma=0.9),
    "inverse_time_decay": dict(base_lr=0.1, decay=0.1),
    "lambda_lr": dict(base_lr=0.1, lr_lambda=_one),
    "linear_lr": dict(base_lr=0.1),
    "multi_step_lr": dict(base_lr=0.1, milestones=[3, 5]),
    "multiplicative_lr": dict(base_lr=0.1, lr_lambda=_one),
    "one_cycle_lr": dict(max_lr=0.1, total_steps=100),
    "one_cycle_momentum": dict(total_steps=100),
    "polynomial_lr": dict(base_lr=0.1),
    "sequential_lr": dict(
        schedules=[schedules.step_lr(0.1, 2), schedules.step_lr(0.1, 2)], milestones=[5]
    ),
    "step_lr": dict(base_lr=0.1, step_size=3),
    "swalr": dict(base_lr=0.1, swa_lr=0.01),
    "ExponentialDecay": dict(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.9),
    "PiecewiseConstantDecay": dict(boundaries=[10], values=[0.1, 0.01]),
    "PolynomialDecay": dict(initial_learning_rate=0.1, decay_steps=10),
    "InverseTimeDecay": dict(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5),
    "CosineDecay": dict(initial_learning_rate=0.1, decay_steps=10, warmup_target=0.2),
    "CosineDecayRestarts": dict(initial_learning_rate=0.1, first_decay_steps=10),
    "reduce_lr_on_plateau": dict(),
}
FACTORIES = {n: getattr(schedules, n) for n in schedules.__all__}
FACTORIES |= {n: getattr(ks, n) for n in ks.__all__}
FACTORIES["reduce_lr_on_plateau"] = jopt.reduce_lr_on_plateau
# Positional ``*args`` of a factory (chained_lr's factors).
VARARGS = {"chained_lr": (schedules.step_lr(1.0, 2),)}
# Arguments that only count together with another one: the rest of their configuration.
TOGETHER = {
    ("one_cycle_lr", "epochs"): dict(total_steps=None, steps_per_epoch=10),
    ("one_cycle_lr", "steps_per_epoch"): dict(total_steps=None, epochs=10),
    ("one_cycle_momentum", "epochs"): dict(total_steps=None, steps_per_epoch=10),
    ("one_cycle_momentum", "steps_per_epoch"): dict(total_steps=None, epochs=10),
    ("reduce_lr_on_plateau", "min_lr"): dict(base_lr=0.1),
    ("CosineDecay", "warmup_steps"): dict(warmup_target=0.2),
}

NUMBER = {
    "str": "0.1",
    "list": [0.1],
    "dict": {"a": 0.1},
    "array": np.ones(2),
    "complex": 0.1 + 0j,
    "bool": True,
    "nan": math.nan,
    "inf": math.inf,
    "-inf": -math.inf,
}
BAD = {
    "number": NUMBER,
    "int": NUMBER | {"fraction": 2.5, "float": 3.0},
    "bool": {"str": "yes", "int": 1, "none": None},
    "str": {"int": 3, "none": None, "list": ["cos"]},
    "sequence": {"str": "ab", "number": 0.5, "dict": {"a": 1}},
    "function": {"number": 0.5, "str": "f"},
}


def _kind(annotation: str) -> str | None:
    a = annotation.replace(" | None", "")
    if a in ("Scalar", "float", "ScalarOrSchedule"):
        return "number"
    if a == "int":
        return "int"
    if a in ("bool", "str"):
        return a
    if a.startswith("Sequence["):
        return "sequence"
    if a.startswith("Callable["):
        return "function"
    return None


def _table():
    rows = []
    for name, factory in FACTORIES.items():
        for p in inspect.signature(factory).parameters.values():
            if p.kind is p.VAR_POSITIONAL:
                continue
            kind = _kind(p.annotation)
            assert kind is not None, f"{name}({p.name}): annotation {p.annotation!r} unknown"
            rows.append(pytest.param(name, p.name, kind, id=f"{name}-{p.name}"))
    return rows


def _build(name, kwargs):
    if name in VARARGS:  # chained_lr(base_lr, *factors): its one named argument first
        return FACTORIES[name](*kwargs.values(), *VARARGS[name])
    return FACTORIES[name](**kwargs)


def test_every_factory_has_a_valid_configuration():
    assert set(FACTORIES) == set(VALID)
    for name in FACTORIES:
        built = _build(name, VALID[name])  # a schedule or a transformation
        assert callable(built) or isinstance(built, optax.GradientTransformation)


@pytest.mark.parametrize("name, arg, kind", _table())
def test_bad_input_is_rejected_at_construction(name, arg, kind):
    for label, value in BAD[kind].items():
        kwargs = {**VALID[name], **TOGETHER.get((name, arg), {}), arg: value}
        with pytest.raises((TypeError, ValueError)) as info:
            _build(name, kwargs)
        message = str(info.value)
        call = "jopt.reduce_lr_on_plateau" if name == "reduce_lr_on_plateau" else f".{name}:"
        assert call in message and arg in message, (label, message)


def test_the_table_fails_on_a_factory_that_does_not_check():
    # The checker itself: an unchecked factory lets bad values through.
    def unchecked(base_lr: float, t_max: int) -> object:
        return lambda k: base_lr

    FACTORIES["unchecked"], VALID["unchecked"] = unchecked, dict(base_lr=0.1, t_max=3)
    try:
        with pytest.raises(pytest.fail.Exception):
            test_bad_input_is_rejected_at_construction("unchecked", "base_lr", "number")
    finally:
        del FACTORIES["unchecked"], VALID["unchecked"]


# The two sequence rules of the schedules (the other rules are tested in tests/core).
SEQUENCE_RULES = {
    "schedules": (Schedules(), [[_one], (_one, _one)]),
    "numbers": (Numbers(Real(0.0)), [[], [0, 2.5], np.asarray([1.0, 2.0])]),
    "numbers-static": (Numbers(Real(0.0, static=True)), [[1, 2.5]]),
}
SEQUENCE_CASES = [
    (kind, label, value)
    for kind, (rule, _) in SEQUENCE_RULES.items()
    for label, value in rule.bad().items()
]


@pytest.mark.parametrize("kind", SEQUENCE_RULES)
def test_sequence_rules_accept_their_valid_values(kind):
    rule, good = SEQUENCE_RULES[kind]
    for value in good:
        assert list(rule("jopt.f", "x", value)) == list(value)


def test_static_numbers_are_floats():
    # Static numbers shape the schedule (boundaries): normalized to Python floats.
    out = Numbers(Real(0.0, static=True))("jopt.f", "x", [1, np.int64(2)])
    assert out == [1.0, 2.0] and all(type(v) is float for v in out)


@pytest.mark.parametrize(
    "kind, label, value", SEQUENCE_CASES, ids=[f"{k}-{n}" for k, n, _ in SEQUENCE_CASES]
)
def test_sequence_rules_reject_each_class_of_bad_value(kind, label, value):
    rule, _ = SEQUENCE_RULES[kind]
    with pytest.raises((TypeError, ValueError)) as error:
        rule("jopt.f", "x", value)
    message = str(error.value)
    assert message.startswith("jopt.f: x") and "invalid" in message, message
