"""Each public factory binds the right rule to each argument, and applies it.

The rules themselves are tested once each, with every class of bad value, where they live
(``tests/core/test_checks.py`` for the core's). Here, per factory:

- every parameter has a declared rule, of the kind its annotation says (a number, an int,
  a flag, a dtype, ...), so every rejection that kind makes applies to it;
- the arguments that mean the same thing across jopt (a learning rate, β1, ε, a state
  dtype, Keras' base options, torch's kernel switches) have the rule that meaning implies,
  written here from the references (the paper's ranges, PyTorch's and Keras' checks), not
  read from jopt; the exceptions are listed with their reason;
- the factory applies its rules: one bad value per checked argument is refused at
  construction, with a message that starts with the factory's public name and names the
  argument.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import pytest

import jopt
import jopt.compat.bitsandbytes as jb
import jopt.compat.keras as jk
import jopt.compat.keras.schedules as jks
import jopt.compat.schedulefree as sf
import jopt.compat.torch as jt
import jopt.compat.torchao as jao
import jopt.schedules as js
from jopt._core import checks as C
from jopt._core.moments import state_format
from jopt.compat.keras._common import KerasLearningRate

MODULES = {
    "jopt": jopt,
    "jopt.schedules": js,
    "jopt.compat.torch": jt,
    "jopt.compat.bitsandbytes": jb,
    "jopt.compat.keras": jk,
    "jopt.compat.keras.schedules": jks,
    "jopt.compat.torchao": jao,
    "jopt.compat.schedulefree": sf,
    "jopt.sharding": jopt.sharding,
}


def _factories() -> dict[str, Callable[..., Any]]:
    """Every public callable with a declaration (a class's declared methods under the
    class's name), by its public name."""
    found: dict[str, Callable[..., Any]] = {}
    for prefix, module in MODULES.items():
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj):
                for method in ("__init__", "__setitem__"):
                    fn = obj.__dict__.get(method)
                    if fn is not None and C.declaration(fn) is not None:
                        found[f"{prefix}.{name}.{method}"] = fn
            elif callable(obj) and C.declaration(obj) is not None:
                found[f"{prefix}.{name}"] = obj
    return found


FACTORIES = _factories()
# Public callables that declare nothing: not factories (a type alias, an annotation, a
# registration function whose only argument is a class).
UNDECLARED = {"jopt.Schedule", "jopt.sharding.PerParam", "jopt.sharding.declare"}


def test_every_public_callable_declares_its_rules():
    public = {
        f"{prefix}.{name}"
        for prefix, module in MODULES.items()
        for name in module.__all__
        if callable(getattr(module, name)) and not inspect.ismodule(getattr(module, name))
    }
    classes = {n for n in public if inspect.isclass(eval_name(n))}
    functions = public - classes - UNDECLARED
    assert functions <= set(FACTORIES), f"not declared with @checked: {functions - set(FACTORIES)}"


def eval_name(name: str) -> Any:
    module, _, attr = name.rpartition(".")
    return getattr(MODULES[module], attr)


# ----------------------------------------------------------- kinds from the annotations


def annotated_kind(p: inspect.Parameter) -> str | None:
    """The kind of value an annotation asks for (None: no kind to read from it)."""
    a = p.annotation if isinstance(p.annotation, str) else inspect.formatannotation(p.annotation)
    a = a.replace("jax.jaxlib._jax.Array", "jax.Array").replace("collections.abc.", "")
    a = a.removesuffix(" | None")
    if p.name.endswith("_dtype"):
        return "dtype"
    table = {
        "bool": "flag",
        "int": "int",
        "str": "choice",  # a mode; names (Text) are listed below
        "str | Sequence[str]": "patterns",
        "Sequence[int]": "ints",
    }
    if a in table:
        return table[a]
    if a.startswith(("tuple[float, float, float]", "tuple[Scalar, Scalar, Scalar]")):
        return "triple"
    if a.startswith(("Sequence[Scalar", "tuple[float", "tuple[Scalar")):
        return "pair"
    if a.startswith("Sequence[float"):
        return "numbers"
    if "Scalar" in a or a in ("float", "float | jax.Array"):
        return "number"
    if "GradientTransformation" in a and "Callable" not in a:
        return "transformation"
    return None


# Where the annotation's kind is not the rule's, and why.
KIND_EXCEPTIONS = {
    # names, not modes
    ("name", "choice"): "text",
    ("device", "choice"): "text",
    ("zero_axis", "choice"): "text",
    ("batch_axis_name", "choice"): "text",  # jopt.sam's pmean axis
    # Keras' ema_overwrite_frequency is checked by a relation, only with use_ema=True
    ("ema_overwrite_frequency", "int"): "unchecked",
    # an int or a float step count, fixing the schedule's shape (Keras' decay_steps)
    ("decay_steps", "int"): "number",
    ("ns_steps", "int"): "int",
    # Newton–Schulz's three coefficients (a, b, c), a sequence of three numbers
    ("ns_coefficients", "pair"): "triple",
    # Keras' PiecewiseConstantDecay values: one rate per interval
    ("values", "pair"): "numbers",
}


@pytest.mark.parametrize("call", sorted(FACTORIES))
def test_each_argument_has_a_rule_of_its_annotated_kind(call):
    fn = FACTORIES[call]
    declared = C.declaration(fn)
    assert declared is not None
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_KEYWORD,) or p.name == "self":
            continue
        rule = declared.rules.get(p.name)
        if p.kind == p.VAR_POSITIONAL and rule is None:
            continue
        assert rule is not None, f"{call}: no rule for {p.name}"
        want = annotated_kind(p)
        if (
            want is None
            or rule.kind == "unchecked"
            and isinstance(rule, C.Unchecked)
            and rule.reason
        ):
            continue  # no kind to read, or deliberately unchecked with a reason
        want = KIND_EXCEPTIONS.get((p.name, want), want)
        assert rule.kind == want, f"{call}({p.name}): a {rule.kind} rule, annotated {want}"


# ------------------------------------------------------ rules implied by what an argument is

LR = C.learning_rate()
B1 = C.unit_interval(schedule=True)
B2 = C.unit_interval()
EPS = C.nonnegative()
DECAY = C.optional(C.nonnegative(schedule=True))
TORCH_FLAG = C.flag(optional=True)
# What a name means across jopt, with the rule that meaning implies.
MEANING: dict[str, C.Rule] = {
    "learning_rate": LR,
    "b1": B1,
    "b2": B2,
    "beta_1": B1,
    "beta_2": B2,
    "adam_b1": B1,
    "adam_b2": B2,
    "adam_beta_1": B1,
    "adam_beta_2": B2,
    "eps": EPS,
    "epsilon": EPS,
    "adam_eps": EPS,
    # a state format: a dtype or jopt.quantized(...) (jopt/_core/moments.py)
    "mu_dtype": state_format(),
    "nu_dtype": state_format(),
    "ns_dtype": C.dtype(),
    "weight_decay": DECAY,
    "amsgrad": C.flag(),
    "nesterov": C.flag(),
    "maximize": C.flag(),
    "centered": C.flag(),
    "eps_in_sqrt": C.flag(),
    "mask": C.unchecked("optax's mask"),
    # torch's kernel switches: None or a bool, accepted and ignored
    "foreach": TORCH_FLAG,
    "fused": TORCH_FLAG,
    "capturable": TORCH_FLAG,
    "differentiable": TORCH_FLAG,
    # Keras' base options (keras/src/optimizers/base_optimizer.py)
    "clipnorm": C.optional(C.nonnegative()),
    "clipvalue": C.optional(C.nonnegative()),
    "global_clipnorm": C.optional(C.nonnegative()),
    "use_ema": C.flag(),
    "ema_momentum": C.real(),  # its range [0, 1] only with use_ema (a relation)
    "loss_scale_factor": C.optional(C.positive()),
    "exclude_from_weight_decay": C.patterns(),
    # schedules
    "base_lr": C.nonnegative(),
    "initial_learning_rate": C.nonnegative(),
    "eta_min": C.nonnegative(),
    "total_iters": C.integer(1),
    "anneal_strategy": C.choice("cos", "linear"),
}
# torch's own wording (torch/optim/*.py) for the arguments every class checks
TORCH = {
    "lr": C.learning_rate(message="Invalid learning rate"),
    "eps": C.nonnegative(message="Invalid epsilon value"),
    "weight_decay": C.optional(C.nonnegative(schedule=True, message="Invalid weight_decay value")),
    "betas": C.pair(
        C.unit_interval(schedule=True, message="Invalid beta parameter at index 0"),
        C.unit_interval(message="Invalid beta parameter at index 1"),
        what="a pair (beta1, beta2)",
    ),
}
# bitsandbytes' own wording (bitsandbytes/optim/optimizer.py, Optimizer2State), for numbers
# only: it forms its step's scalars from Python floats in float64.
BNB = {
    "lr": C.Real(0.0, static=True, message="Invalid learning rate"),
    "eps": C.Real(0.0, static=True, message="Invalid epsilon value"),
    "weight_decay": C.Real(0.0, static=True, message="Invalid weight_decay value"),
    "betas": C.pair(
        C.Real(0.0, 1.0, hi_open=True, static=True, message="Invalid beta parameter at index 0"),
        C.Real(0.0, 1.0, hi_open=True, static=True, message="Invalid beta parameter at index 1"),
        what="a pair (beta1, beta2)",
    ),
}
# torchao's _AdamBase (torchao/optim/adam.py): torch's wording for lr, eps and the betas
# (numbers, never schedules); weight_decay it does not check (any real number).
TORCHAO = {
    "lr": TORCH["lr"],
    "eps": TORCH["eps"],
    "weight_decay": C.real(),
    "betas": C.pair(
        C.unit_interval(message="Invalid beta parameter at index 0"),
        C.unit_interval(message="Invalid beta parameter at index 1"),
        what="a pair (beta1, beta2)",
    ),
}
# Keras' learning rate also takes a function of no arguments, called at every step
# (keras/src/optimizers/base_optimizer.py, _get_current_learning_rate).
KERAS = {"learning_rate": KerasLearningRate()}
# Where a factory's rule differs from the meaning above, and why.
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("jopt.adamw", "weight_decay"): "a decoupled decay is AdamW's point: never None",
    ("jopt.add_decayed_weights", "weight_decay"): "the transform is the decay: never None",
    ("jopt.decoupled_weight_decay", "weight_decay"): "the transform is the decay: never None",
    ("jopt.adafactor", "learning_rate"): "the relative step's α_t cap may be None-free only",
    ("jopt.rprop", "learning_rate"): "Rprop's initial step size, > 0, not a rate",
    ("jopt.scale_by_rprop", "learning_rate"): "Rprop's initial step size",
    ("jopt.compat.torch.Rprop", "lr"): "Rprop's initial step size",
    ("jopt.scale_by_ftrl", "learning_rate"): "FTRL divides by α: > 0",
    ("jopt.lion", "b1"): "Lion interpolates with β1 in [0, 1] (1 is allowed, the paper's)",
    ("jopt.lion", "b2"): "Lion's β2 in [0, 1]",
    ("jopt.scale_by_lion", "b1"): "as jopt.lion",
    ("jopt.scale_by_lion", "b2"): "as jopt.lion",
    ("jopt.compat.keras.Lion", "beta_1"): "Keras' Lion: 0 < β1 <= 1 (its own check)",
    ("jopt.compat.keras.Lion", "beta_2"): "Keras' Lion: β2 in [0, 1]",
    ("jopt.compat.keras.ScheduleFreeAdamW", "beta_1"): "Keras: 0 < β1 <= 1 (a weight, not a decay)",
    ("jopt.schedule_free", "b1"): "schedule-free: 0 < β1 <= 1, x = (y − (1 − β1)z)/β1",
    ("jopt.schedule_free_sgd", "b1"): "as jopt.schedule_free",
    ("jopt.schedule_free_adamw", "b1"): "as jopt.schedule_free",
    ("jopt.schedule_free_radam", "b1"): "as jopt.schedule_free",
    (
        "jopt.compat.torch.Adafactor",
        "lr",
    ): "torch's Adafactor words it 'Learning rate should be >= 0 but is'",
    ("jopt.compat.torch.Adafactor", "eps"): "torch's Adafactor: a pair (ε1 or None, ε2)",
    ("jopt.compat.torch.Adafactor", "weight_decay"): "torch's Adafactor wording",
    ("jopt.compat.torch.Muon", "lr"): "torch's Muon wording",
    ("jopt.compat.torch.Muon", "weight_decay"): "torch's Muon wording",
    ("jopt.compat.torch.SparseAdam", "lr"): "SparseAdam refuses every call (no sparse gradients)",
    ("jopt.compat.torch.SparseAdam", "betas"): "SparseAdam refuses every call",
    ("jopt.compat.torch.SparseAdam", "eps"): "SparseAdam refuses every call",
    ("jopt.compat.torch.SparseAdam", "maximize"): "SparseAdam refuses every call",
    ("jopt.compat.torch.ASGD", "weight_decay"): "as torch's other classes (TORCH)",
    ("jopt.compat.keras.Muon", "adam_weight_decay"): "as weight_decay",
    ("jopt.muon", "adam_learning_rate"): "None: the Muon rate",
    ("jopt.schedules.swalr", "base_lr"): "as base_lr",
    ("jopt.reduce_lr_on_plateau", "eps"): "PyTorch's eps: a minimal change of the rate",
    ("jopt.mechanize", "eps"): "Mechanic's first scale is W/(0 + ε): ε > 0",
    ("jopt.reduce_lr_on_plateau", "base_lr"): "a rate to scale, > 0 or None",
    ("jopt.compat.keras.SGD", "momentum"): "Keras' own [0, 1] check on a concrete momentum",
    ("jopt.scale_by_sm3", "b1"): "SM3's momentum: a number (optax's state keeps no count)",
    ("jopt.scale_by_sm3", "b2"): "SM3's β2 in (0, 1]: 1 is the paper's sum (optax's convention)",
    ("jopt.sm3", "b2"): "as jopt.scale_by_sm3",
    ("jopt.lbfgs", "learning_rate"): "None (optax's default): the line search sets the step",
    ("jopt.sophia", "b1"): "Sophia's β1: a constant, as optax's",
    ("jopt.scale_by_sophia", "b1"): "as jopt.sophia",
}


def _expected(call: str, name: str) -> C.Rule | None:
    if (call, name) in EXCEPTIONS:
        return None
    if call.startswith("jopt.compat.torchao.") and name in TORCHAO:
        return TORCHAO[name]
    if call.startswith("jopt.compat.torch.") and name in TORCH:
        return TORCH[name]
    if call.startswith("jopt.compat.bitsandbytes.") and name in BNB:
        return BNB[name]
    if (
        call.startswith("jopt.compat.keras.")
        and not call.startswith("jopt.compat.keras.schedules")
        and name in KERAS
    ):
        return KERAS[name]
    return MEANING.get(name)


def _same(a: C.Rule, b: C.Rule) -> bool:
    if isinstance(a, C.Unchecked) and isinstance(b, C.Unchecked):
        return True
    if isinstance(a, C.Optional) and not isinstance(b, C.Optional):
        return False
    return a == b


@pytest.mark.parametrize("call", sorted(FACTORIES))
def test_arguments_that_mean_the_same_have_the_same_rule(call):
    declared = C.declaration(FACTORIES[call])
    assert declared is not None
    for name, rule in declared.rules.items():
        want = _expected(call, name)
        if want is None:
            continue
        # weight_decay is optional where the feature is off by default
        if name == "weight_decay" and not isinstance(rule, C.Optional) and want == DECAY:
            want = C.nonnegative(schedule=True)
        assert _same(rule, want), f"{call}({name}): declared {rule!r}, its meaning is {want!r}"


def test_the_exceptions_are_still_exceptions():
    # An exception that now has the meaning's rule is stale: remove it from the table.
    stale = []
    for (call, name), _ in EXCEPTIONS.items():
        fn = FACTORIES.get(call)
        declared = C.declaration(fn) if fn is not None else None
        if declared is None or name not in declared.rules:
            stale.append((call, name))
    assert not stale, f"exceptions that name no declared argument: {stale}"


# ------------------------------------------------------------------- rules are applied

# A valid value for each required argument, by name (and by call where a name needs more).
VALID: dict[str, Any] = {
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
    "schedules": [lambda c: 0.1 + 0.0 * jnp.asarray(c, jnp.float32)] * 3,
    "factors": lambda c: 0.1 + 0.0 * jnp.asarray(c, jnp.float32),
    "swa_lr": 0.05,
    "tx": jopt.sgd(0.1),
    "fast_optimizer": jopt.sgd(0.1),
    "transforms": jopt.sgd(0.1),
    "inner_optimizer": jk.SGD(0.1),
    "optimizer_map": jk.OptimizerMap(jk.SGD(0.1), {"b": jk.Adam(0.1)}),
    "initial_learning_rate": 0.1,
    "decay_steps": 10,
    "decay_rate": 0.5,
    "first_decay_steps": 10,
    "boundaries": [10],
    "values": [0.1, 0.01],
    "base_momentum": 0.8,
    "max_momentum": 0.9,
    "default_optimizer": jk.SGD(0.1),
    "key_": "w",
    "state": None,
    "params": {"w": jnp.zeros(2)},
    "loss": 1.0,
    "optimizer": jk.SGD(0.1),
    "base_optimizer": jopt.sgd(1.0),
    "l2_norm_clip": 1.0,
    "noise_multiplier": 1.0,
    "seed": 0,
}
VALID_FOR: dict[str, dict[str, Any]] = {
    "jopt.schedules.one_cycle_lr": dict(total_steps=20),
    "jopt.quantized": dict(kind="int8"),
    "jopt.lookahead_eval_params": dict(params=jopt.LookaheadParams.init_synced(jnp.zeros(2))),
    "jopt.schedules.one_cycle_momentum": dict(total_steps=20),
    "jopt.compat.keras.OptimizerMap.__setitem__": dict(key="w", optimizer=jk.SGD(0.1)),
    "jopt.schedule_free": dict(base_optimizer=jopt.sgd(0.1)),
    "jopt.compat.schedulefree.ScheduleFreeWrapper": dict(base=jopt.sgd(0.1)),
}
# Calls whose arguments cannot all be made valid here (they read a state or raise always).
NOT_CONSTRUCTED = {
    "jopt.get_learning_rate",
    "jopt.averaged_params",
    "jopt.compat.keras.ema_params",
    "jopt.compat.keras.schedule_free_eval_params",
    "jopt.schedule_free_eval_params",
    "jopt.compat.schedulefree.eval_params",
    "jopt.compat.keras.scale_loss",
    # Keras checkpoints: a store and a file of Keras' (tests/compat/keras/test_checkpoint.py)
    "jopt.compat.keras.load_own_variables",
    "jopt.compat.keras.save_own_variables",
    "jopt.compat.keras.read_keras_file",
    "jopt.compat.torch.SparseAdam",
    "jopt.sharding.state_shardings",  # tested with meshes in tests/sharding
    # a checkpoint of a jopt.compat.torch preset (tests/compat/torch/test_checkpoint.py)
    "jopt.compat.torch.load_state_dict",
    "jopt.compat.torch.state_dict",
    "jopt.compat.torch.scheduler_state_dict",  # tests/compat/torch/test_scheduler_state.py
}
# One bad value per kind: each rule kind's rejections are tested in full where it lives.
BAD_BY_KIND = {
    "number": "0.1",
    "int": 2.5,
    "flag": "yes",
    "choice": 1,
    "dtype": "float17",
    "transformation": "adam",
    "function": 0.5,
    "pair": "0.9",
    "ints": "24",
    "patterns": 3,
    "text": 3,
    "triple": "0.9",
    "numbers": "24",
    "schedules": "a schedule",
}


def _call(call: str, fn: Callable[..., Any], **overrides: Any) -> Any:
    signature = inspect.signature(fn)
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    given = {**VALID_FOR.get(call, {}), **overrides}
    params = [p for p in signature.parameters.values() if p.name != "self"]
    star = next((i for i, p in enumerate(params) if p.kind == p.VAR_POSITIONAL), None)
    for i, p in enumerate(params):
        if p.kind == p.VAR_POSITIONAL:
            args.extend(given.get(p.name, (VALID.get(p.name),)))
        elif p.kind == p.VAR_KEYWORD:
            continue
        elif star is not None and i < star:  # before *args: positional
            args.append(given.get(p.name, VALID.get(p.name)))
        elif p.name in given or (p.default is p.empty):
            kwargs[p.name] = given.get(p.name, VALID.get(p.name))
    if call.endswith(".__init__"):
        return eval_name(call.removesuffix(".__init__"))(*args, **kwargs)
    if call.endswith(".__setitem__"):
        owner = jk.OptimizerMap(jk.SGD(0.1))
        return owner.__setitem__(*args, **kwargs)
    return fn(*args, **kwargs)


CHECKED = [
    (call, name)
    for call, fn in sorted(FACTORIES.items())
    if call not in NOT_CONSTRUCTED
    for name, rule in C.declaration(fn).rules.items()  # type: ignore[union-attr]
    if rule.kind in BAD_BY_KIND
]


@pytest.mark.parametrize("call", sorted(set(FACTORIES) - NOT_CONSTRUCTED))
def test_valid_arguments_construct(call):
    _call(call, FACTORIES[call])


@pytest.mark.parametrize("call, name", CHECKED, ids=[f"{c}-{n}" for c, n in CHECKED])
def test_a_bad_argument_is_refused_naming_the_call_and_the_argument(call, name):
    fn = FACTORIES[call]
    rule = C.declaration(fn).rules[name]  # type: ignore[union-attr]
    bad = BAD_BY_KIND[rule.kind]
    if inspect.signature(fn).parameters[name].kind == inspect.Parameter.VAR_POSITIONAL:
        bad = (bad,)
    with pytest.raises((TypeError, ValueError)) as error:
        _call(call, fn, **{name: bad})
    message = str(error.value)
    public = call.removesuffix(".__init__").removesuffix(".__setitem__")
    assert message.startswith(f"{public}: ") and name in message, message


def test_the_binding_check_fails_on_a_factory_that_ignores_its_rules():
    @C.checked(beta=C.unit_interval())
    def strict(beta=0.9):
        return beta

    lax = strict.__wrapped__  # the body without its declaration
    FACTORIES["jopt.lax"] = lax
    try:
        lax.__jopt_declaration__ = C.declaration(strict)  # type: ignore[attr-defined]
        with pytest.raises(pytest.fail.Exception):
            test_a_bad_argument_is_refused_naming_the_call_and_the_argument("jopt.lax", "beta")
    finally:
        del FACTORIES["jopt.lax"]


@pytest.mark.parametrize("call", sorted({c for c, _ in CHECKED}))
def test_several_bad_arguments_name_one_of_them(call):
    fn = FACTORIES[call]
    rules = C.declaration(fn).rules  # type: ignore[union-attr]
    bad = {
        name: (BAD_BY_KIND[r.kind],)
        if inspect.signature(fn).parameters[name].kind == inspect.Parameter.VAR_POSITIONAL
        else BAD_BY_KIND[r.kind]
        for name, r in rules.items()
        if r.kind in BAD_BY_KIND
    }
    with pytest.raises((TypeError, ValueError)) as error:
        _call(call, fn, **bad)
    message = str(error.value)
    public = call.removesuffix(".__init__").removesuffix(".__setitem__")
    assert message.startswith(f"{public}: ") and any(n in message for n in bad), message
