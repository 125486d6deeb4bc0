"""The argument rules (jopt/_core/checks.py), each tested once with every class of bad
value it exists to reject, and the ``@checked`` declaration itself."""

from __future__ import annotations

import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jopt._core import checks as C

# Every rule kind with parameters that exercise its ends, and values it must accept.
RULES: dict[str, tuple[C.Rule, list]] = {
    "real": (C.real(), [-1.5, 0, 2, np.float32(3.0), jnp.asarray(1.0)]),
    "nonnegative": (C.nonnegative(), [0.0, 1e-12, 5]),
    "positive": (C.positive(), [1e-12, 3.0]),
    "unit_interval": (C.unit_interval(), [0.0, 0.5, 0.999]),
    "unit_interval-schedule": (C.unit_interval(schedule=True), [0.9, lambda c: 0.9]),
    "closed_unit_interval": (C.closed_unit_interval(), [0.0, 1.0]),
    "learning_rate": (C.learning_rate(), [0.0, 1e-3, lambda count: 0.1]),
    "at-least-4": (C.Real(4.0), [4.0, 5.0]),
    "at-most-0": (C.Real(hi=0.0), [-0.8, 0.0]),
    "open-range": (C.Real(0.0, 1.0, lo_open=True, hi_open=True), [0.5]),
    "allow-inf": (C.Real(0.0, allow_inf=True), [0.0, math.inf]),
    "static": (C.Real(0.0, lo_open=True, static=True), [3.0]),
    "optional": (C.optional(C.unit_interval()), [None, 0.5]),
    "flag": (C.flag(), [True, False, np.bool_(True)]),
    "flag-optional": (C.flag(optional=True), [None, True]),
    "integer": (C.integer(1), [1, np.int64(7), jnp.asarray(3)]),
    "integer-traced": (C.integer(1, traced=True), [2]),
    "choice": (C.choice("cos", "linear"), ["cos", "linear"]),
    "dtype": (C.dtype(), [None, jnp.float32, "bfloat16", np.float64]),
    "transformation": (C.transformation(), [optax.sgd(0.1)]),
    "function": (C.function("a function k -> factor"), [lambda k: 1.0, abs]),
    "pair": (C.pair(C.unit_interval(), C.nonnegative()), [(0.9, 0.0), [0.0, 3.0]]),
    "integers": (C.integers(0), [[], [0, 3, 3], (2, 1)]),
    "integers-increasing": (C.integers(0, increasing=True), [[1, 2, 5]]),
    "patterns": (C.patterns(), [None, "bias", ["bias", "norm/.*"]]),
    "text": (C.text(), ["name"]),
}
CASES = [
    (kind, label, value) for kind, (rule, _) in RULES.items() for label, value in rule.bad().items()
]


@pytest.mark.parametrize("kind", RULES)
def test_every_rule_accepts_its_valid_values(kind):
    rule, good = RULES[kind]
    for value in good:
        rule("x", value)


@pytest.mark.parametrize("kind, label, value", CASES, ids=[f"{k}-{label}" for k, label, _ in CASES])
def test_every_rule_rejects_each_class_of_bad_value(kind, label, value):
    rule, _ = RULES[kind]
    with pytest.raises((TypeError, ValueError)) as error:
        rule("x", value)
    # a rule's error is Unnamed: the factory that declared the rule names it
    assert isinstance(error.value, C.Unnamed), type(error.value)
    message = str(error.value.named("jopt.f"))
    assert message.startswith("jopt.f: ") and "x" in message, message


def test_every_rule_kind_is_listed_here():
    kinds = {v for v in vars(C).values() if isinstance(v, type) and issubclass(v, C.Rule)} - {
        C.Rule,
        C.Unchecked,
    }
    listed = {type(rule) for rule, _ in RULES.values()}
    assert kinds <= listed, f"rules without a test here: {kinds - listed}"


def test_the_rejection_check_fails_on_a_rule_that_accepts_anything():
    class Lax(C.Real):
        def __call__(self, name, value):
            return value

    RULES["lax"] = (Lax(0.0), [])
    try:
        with pytest.raises(pytest.fail.Exception):
            test_every_rule_rejects_each_class_of_bad_value("lax", "below", -0.5)
    finally:
        del RULES["lax"]


@pytest.mark.parametrize(
    "rule, value, kind, text",
    [
        (C.unit_interval(), 1.0, ValueError, "x=1.0 is invalid; x must be in [0, 1)."),
        (C.nonnegative(), -1, ValueError, "x=-1 is invalid; x must be in [0, inf)."),
        (C.Real(0.0, 1.0), math.nan, ValueError, "x must be a finite number in [0, 1]"),
        (C.real(), "0.1", TypeError, "x='0.1' is invalid; x must be a real number."),
        (C.learning_rate(), [0.1], TypeError, "a real number or a schedule"),
        (C.real(), np.ones(2), TypeError, "x has shape (2,); x must be a real number"),
        (C.flag(), 1, TypeError, "x=1 is invalid; x must be True or False."),
        (C.integer(1), 2**40, ValueError, "x must be an integer in [1, 2147483647]"),
        (C.choice("a", "b"), "c", ValueError, "x must be one of 'a', 'b'."),
        (C.dtype(), jnp.int32, TypeError, "x must be None or a floating-point dtype"),
        (C.pair(C.real()), 0.9, TypeError, "x must be a pair of numbers, got 0.9."),
        (C.integers(increasing=True), [3, 1], ValueError, "x must be strictly increasing."),
        (C.patterns(), "bias(", ValueError, "(the strings are regular expressions"),
        (
            C.nonnegative(message="Invalid learning rate"),
            -1,
            ValueError,
            "Invalid learning rate: -1; x must be in [0, inf).",
        ),
        # an end at infinity is written open, whichever way the rule was declared
        (C.Real(1.0), 0.5, ValueError, "x=0.5 is invalid; x must be in [1, inf)."),
        (C.Real(hi=0.0), 0.1, ValueError, "x=0.1 is invalid; x must be in (-inf, 0]."),
        (C.closed_unit_interval(), 1.5, ValueError, "x=1.5 is invalid; x must be in [0, 1]."),
        (
            C.learning_rate(),
            math.nan,
            ValueError,
            "x=nan is invalid; x must be a finite number in [0, inf).",
        ),
        # a concrete JAX scalar is checked as a number is
        (C.learning_rate(), jnp.asarray(-1.0), ValueError, "is invalid; x must be in [0, inf)."),
        (C.integer(1), 10.5, TypeError, "x=10.5 is invalid; x must be an integer >= 1."),
        (C.integer(0, 99), 100, ValueError, "x=100 is invalid; x must be an integer in [0, 99]"),
    ],
)
def test_messages_name_the_call_the_argument_the_value_and_the_range(rule, value, kind, text):
    with pytest.raises(kind) as error:
        rule("x", value)
    assert text in str(error.value), str(error.value)


def test_a_pair_names_the_entry():
    rule = C.pair(C.unit_interval(), C.unit_interval())
    with pytest.raises(ValueError, match=re.escape("betas[1]=1.5 is invalid")):
        rule("betas", (0.9, 1.5))


def test_rules_normalize_what_they_accept():
    assert C.integer(0)("n", np.int64(3)) == 3 and type(C.integer(0)("n", np.int64(3))) is int
    assert C.pair(C.real())("p", [1.0, 2.0]) == (1.0, 2.0)
    assert C.integers(0)("m", np.array([2, 1])) == (2, 1)
    assert C.dtype()("d", "bfloat16") == jnp.bfloat16
    assert [p.pattern for p in C.patterns()("p", "bias")] == ["bias"]


def test_traced_values_are_checked_for_shape_and_dtype_only():
    def run(rule, x):
        return jax.jit(lambda v: jnp.asarray(rule("x", v)) * 1.0)(x)

    run(C.unit_interval(), jnp.asarray(5.0))  # out of range, but traced: the caller's
    with pytest.raises(TypeError, match="traced array of shape"):
        run(C.unit_interval(), jnp.ones(2))
    with pytest.raises(TypeError, match="x is traced; x must be a concrete number"):
        run(C.Real(0.0, static=True), jnp.asarray(2.0))
    with pytest.raises(TypeError):
        run(C.integer(0), jnp.asarray(2))
    run(C.integer(0, traced=True), jnp.asarray(2))


# ---------------------------------------------------------------------- the declaration


@C.checked(beta=C.unit_interval(), steps=C.integer(1), name=C.unchecked("any label"))
def _factory(beta=0.9, steps=2, name=None):
    return beta, steps, C.building()


def test_checked_checks_every_argument_defaults_and_normalizes():
    assert _factory(0.5, np.int32(3)) == (0.5, 3, "tests.core.test_checks._factory")
    with pytest.raises(ValueError, match=r"^tests\.core\.test_checks\._factory: beta=1\.0"):
        _factory(beta=1.0)
    with pytest.raises(TypeError, match="_factory: got an unexpected keyword argument 'bta'"):
        _factory(bta=0.5)


def test_the_call_is_named_from_the_function_itself():
    import jopt
    import jopt.compat.torch as jt

    assert C.public_name(jopt.adam) == "jopt.adam"
    assert C.public_name(jt.Adam) == "jopt.compat.torch.Adam"
    assert C.declaration(jopt.adam).call == "jopt.adam"


def test_a_declaration_must_cover_every_argument():
    with pytest.raises(TypeError, match=r"no rule for \['b'\]"):

        @C.checked(a=C.real())
        def partial(a, b):
            return a, b

    with pytest.raises(TypeError, match=r"rules for unknown arguments \['c'\]"):

        @C.checked(a=C.real(), c=C.real())
        def unknown(a):
            return a


def _needs_order(arguments):
    if arguments["low"] > arguments["high"]:
        raise C.UnnamedValueError("low must be <= high")  # the factory names it


@C.checked(_needs_order, low=C.real(), high=C.real())
def _ranged(low, high):
    return low, high


def test_a_factory_built_under_jit_takes_traced_values():
    # Under jit a learning rate is a tracer: construction must not try to read it.
    import jopt

    @jax.jit
    def build_and_step(lr, b1):
        tx = jopt.adam(lr, b1)
        return tx.update(jnp.ones(2), tx.init(jnp.zeros(2)))[0]

    assert build_and_step(0.1, 0.9).shape == (2,)


def test_relations_run_after_the_rules():
    assert _ranged(1, 2) == (1, 2)
    with pytest.raises(ValueError, match="_ranged: low must be <= high"):
        _ranged(3, 2)
    with pytest.raises(TypeError, match="_ranged: high='x'"):
        _ranged(3, "x")  # the rule, before the relation


def test_errors_of_init_and_update_are_named_by_the_outermost_factory():
    import jopt

    tx = jopt.adam(0.1)  # scale_by_adam inside: the user called jopt.adam
    with pytest.raises(
        TypeError, match=r"^jopt\.adam: init\(\) got the parameter \['w'\] of dtype int32"
    ):
        tx.init({"w": jnp.zeros(2, jnp.int32)})
    state = tx.init({"w": jnp.zeros(2)})
    with pytest.raises(ValueError, match=r"^jopt\.adam: the gradient tree does not match"):
        tx.update({"v": jnp.zeros(2)}, state)
    inner = jopt.scale_by_adam()
    with pytest.raises(TypeError, match=r"^jopt\.scale_by_adam: init\(\)"):
        inner.init(jnp.zeros(2, jnp.int32))


def test_unnamed_errors_are_plain_type_and_value_errors_once_named():
    error = C.UnnamedValueError("bad").named("jopt.f")
    assert type(error) is ValueError and str(error) == "jopt.f: bad"
    error = C.UnnamedTypeError("bad").named("jopt.f")
    assert type(error) is TypeError


# ------------------------------------------------- ranges and relations of public factories
# One bad value per (factory, argument): the range each factory declares, and the relations
# between its arguments (Nesterov's), with the exact message. Kept from the old
# tests/test_validation.py until tests/test_bindings.py pins these ranges (it pins the rules
# of arguments with a shared meaning, e.g. every learning_rate, b1, eps); then the rows it
# covers go, and the relations move to the test files of the modules that define them.

import jopt  # noqa: E402

BAD_FACTORY_ARGUMENTS = [
    (
        jopt.gd,
        dict(learning_rate=-0.1),
        r"jopt.gd: learning_rate=-0.1 is invalid; learning_rate must be in \[0, inf\)",
    ),
    (jopt.momentum, dict(learning_rate=0.1, beta=1.0), r"jopt.momentum: beta=1.0 .* \[0, 1\)"),
    (jopt.momentum, dict(learning_rate=0.1, beta=-0.1), r"beta=-0.1"),
    (jopt.nesterov, dict(learning_rate=0.1, beta=1.5), r"jopt.nesterov: beta=1.5"),
    (jopt.sgd, dict(learning_rate=0.1, momentum=-0.5), r"jopt.sgd: momentum=-0.5 .* \[0, inf\)"),
    (
        jopt.sgd,
        dict(learning_rate=0.1, nesterov=True),
        r"jopt.sgd: Nesterov momentum requires a momentum and zero dampening",
    ),
    (
        jopt.sgd,
        dict(learning_rate=0.1, momentum=0.9, dampening=0.1, nesterov=True),
        r"zero dampening.*dampening=0.1",
    ),
    (jopt.sgd, dict(learning_rate=0.1, weight_decay=-1.0), r"weight_decay=-1.0"),
    (jopt.adagrad, dict(learning_rate=0.1, eps=-1e-8), r"jopt.adagrad: eps=-1e-08"),
    (
        jopt.adagrad,
        dict(learning_rate=0.1, initial_accumulator_value=-1.0),
        r"initial_accumulator_value=-1.0",
    ),
    (
        jopt.rmsprop,
        dict(learning_rate=0.1, rho=1.5),
        r"jopt.rmsprop: rho=1.5 is invalid; rho must be in \[0, 1\)",
    ),
    (jopt.rmsprop, dict(learning_rate=0.1, momentum=-0.1), r"momentum=-0.1"),
    (jopt.adam, dict(b1=1.0), r"jopt.adam: b1=1.0 .* \[0, 1\)"),
    (jopt.adam, dict(b2=-0.5), r"jopt.adam: b2=-0.5"),
    (jopt.adam, dict(eps=-1.0), r"jopt.adam: eps=-1.0"),
    (jopt.adam, dict(learning_rate=float("nan")), r"learning_rate=nan"),
    (jopt.adamw, dict(weight_decay=-0.01), r"jopt.adamw: weight_decay=-0.01"),
    (jopt.adam, dict(learning_rate=jnp.asarray(-1.0)), r"learning_rate="),
    (jopt.scale_by_adam, dict(b1=2.0), r"jopt.scale_by_adam: b1=2.0"),
    (jopt.scale_by_rms, dict(rho=-1.0), r"jopt.scale_by_rms: rho=-1.0"),
    (jopt.scale_by_trace, dict(momentum=0.0, nesterov=True), r"jopt.scale_by_trace: Nesterov"),
    (jopt.add_decayed_weights, dict(weight_decay=-1.0), r"jopt.add_decayed_weights"),
    (jopt.scale_by_learning_rate, dict(learning_rate=-1.0), r"jopt.scale_by_learning_rate"),
    (jopt.adafactor, dict(clip_threshold=0.5), r"jopt.adafactor: clip_threshold=0.5 .* \[1, inf\)"),
    (jopt.adafactor, dict(b2_decay=0.1), r"jopt.adafactor: b2_decay=0.1 .* \(-inf, 0\]"),
    (jopt.adafactor, dict(relative_step=1), r"relative_step=1 is invalid; .* True or False"),
    (jopt.scale_by_adafactor, dict(eps2=-1.0), r"jopt.scale_by_adafactor: eps2=-1.0"),
    (jopt.muon, dict(ns_steps=100), r"jopt.muon: ns_steps=100 .* \[0, 99\]"),
    (jopt.muon, dict(adjust_lr="sqrt"), r"jopt.muon: adjust_lr='sqrt' .* 'original'"),
    (jopt.muon, dict(ns_coefficients=(1.0, 2.0)), r"jopt.muon: ns_coefficients must be"),
    (jopt.muon, dict(adam_b2=1.0), r"jopt.muon: adam_b2=1.0"),
    (jopt.scale_by_muon, dict(momentum=-0.1), r"jopt.scale_by_muon: momentum=-0.1"),
    (jopt.lion, dict(b1=1.5), r"jopt.lion: b1=1.5 .* \[0, 1\]"),
    (jopt.scale_by_lion, dict(b2=-0.5), r"jopt.scale_by_lion: b2=-0.5"),
    (jopt.lamb, dict(eps=-1.0), r"jopt.lamb: eps=-1.0"),
    (jopt.lamb, dict(weight_decay=-1.0), r"jopt.lamb: weight_decay=-1.0"),
]


@pytest.mark.parametrize(
    "factory, kwargs, match",
    BAD_FACTORY_ARGUMENTS,
    ids=[f"{f.__name__}-{i}" for i, (f, _, _) in enumerate(BAD_FACTORY_ARGUMENTS)],
)
def test_a_factory_refuses_a_value_outside_its_declared_range(factory, kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        factory(**kwargs)
