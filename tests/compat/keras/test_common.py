"""What every jopt.compat.keras preset shares (jopt/compat/keras/_common.py): Keras'
signatures and defaults, the rules of the learning rate and of the base options (Keras'
words where Keras checks), the assembly ``keras_optimizer``, and the lockstep cases that
compare each preset with keras.optimizers (run by the test file of each preset's module)."""

from __future__ import annotations

import inspect
from pathlib import Path

import jax
import jax.numpy as jnp
import keras
import numpy as np
import optax
import pytest

import jopt
import jopt.compat.keras as jk
from jopt._core.checks import patterns
from jopt._core.learning_rate import scale_by_learning_rate
from jopt.compat.keras._common import (
    OPTION_DEFAULTS,
    OPTION_RULES,
    KerasInteger,
    KerasLearningRate,
    keras_optimizer,
)
from tests.support import parity
from tests.support.registry import CASES

# The optimizers: the classes of jk.__all__ Keras has, but OptimizerMap (a mapping).
PRESETS = [
    n for n in jk.__all__ if n[0].isupper() and hasattr(keras.optimizers, n) and n != "OptimizerMap"
]


def test_every_optimizer_class_of_keras_optimizers_is_here():
    classes = [
        n
        for n in dir(keras.optimizers)
        if inspect.isclass(getattr(keras.optimizers, n))
        and issubclass(getattr(keras.optimizers, n), keras.optimizers.Optimizer)
        and n != "Optimizer"
    ]
    assert len(classes) == 16  # Keras 3.15
    assert sorted(set(classes) - set(PRESETS)) == []


def test_public_names_are_in_the_registry():
    covered = {c.factory for c in CASES}
    missing = [n for n in PRESETS if getattr(jk, n) not in covered]
    assert not missing, f"not in tests/support/registry.py: {missing}"
    assert jopt.decoupled_weight_decay in covered


def test_every_option_is_exercised():
    used = {(c.preset, k) for c in parity.KERAS_CASES for k in c.kwargs}
    used |= {(c.preset, k) for c in parity.KERAS_CASES if c.build is not None for k in c.build(jk)}
    for c in parity.KERAS_CASES:
        if c.schedule is not None:
            used.add((c.preset, "decay" if c.schedule[0] == "legacy_decay" else "schedule"))
    for preset in PRESETS:
        signature = inspect.signature(getattr(jk, preset)).parameters
        params = {n for n, p in signature.items() if p.kind != p.VAR_KEYWORD}
        params -= set(OPTION_DEFAULTS)  # Keras' base options: test_options.py
        if "learning_rate" in params:  # the wrappers take none
            params = params - {"learning_rate"} | {"schedule"}
        missing = {p for p in params if (preset, p) not in used}
        assert not missing, f"{preset}: options not compared with keras: {sorted(missing)}"


def test_every_case_is_run_by_the_test_file_of_its_module():
    here = Path(__file__).parent
    for case in parity.KERAS_CASES:
        module = parity.module_of(getattr(jk, case.preset))
        assert (here / f"test_{module}.py").is_file(), (case.name, module)
        assert case in parity.keras_cases(module)
    assert len({c.name for c in parity.KERAS_CASES}) == len(parity.KERAS_CASES)


@pytest.mark.parametrize("name", PRESETS)
def test_defaults_are_keras(name):
    factory = getattr(jk, name)
    ours = inspect.signature(factory).parameters
    theirs = inspect.signature(getattr(keras.optimizers, name)).parameters
    for p in ours.values():
        if p.name == "decay":  # tf.keras 2's legacy argument, gone from Keras 3
            assert p.default is None
            continue
        if p.name == "exclude_from_weight_decay":  # Keras: a method, not an argument
            assert p.default is None
            continue
        default = theirs[p.name].default
        if p.default is None and default == 0:
            entry = parity.args_entry(factory, p.name)
            assert "Keras' default 0, off" in entry, (name, p.name, entry)
            continue
        assert p.default == default, f"{name}({p.name}): {p.default!r} != keras' {default!r}"


# ------------------------------------------------------------------------------ rules

# The rules _common.py defines, with values each accepts (each rejects its bad()).
RULES = {
    "KerasLearningRate": (
        KerasLearningRate(),
        [0.0, 1e-3, np.float32(0.5), lambda count: 0.1, lambda: 0.1, jk.schedules.CosineDecay(0.1, 10)],
    ),
    "KerasInteger-accumulation": (OPTION_RULES["gradient_accumulation_steps"], [None, 0, 2, np.int64(7)]),
    "KerasInteger-at-least-1": (KerasInteger(1, "`x` must be an integer >= 1"), [None, 1, 2**31 - 1]),
}  # fmt: skip
BAD_VALUES = [
    (kind, label, v) for kind, (rule, _) in RULES.items() for label, v in rule.bad().items()
]


@pytest.mark.parametrize("kind", RULES)
def test_rules_accept_their_valid_values(kind):
    rule, good = RULES[kind]
    assert rule.bad(), f"{kind}: a rule with no bad values is tested by nothing"
    for value in good:
        rule("x", value)


@pytest.mark.parametrize(
    "kind, label, value", BAD_VALUES, ids=[f"{k}-{label}" for k, label, _ in BAD_VALUES]
)
def test_rules_reject_each_class_of_bad_value(kind, label, value):
    rule, _ = RULES[kind]
    with pytest.raises((TypeError, ValueError)) as error:
        rule("x", value)
    message = str(error.value)
    assert "x" in message, message


def test_keras_learning_rate_calls_a_function_of_no_arguments_at_each_count():
    schedule = KerasLearningRate()("learning_rate", lambda: 0.25)
    assert callable(schedule) and schedule(jnp.asarray(3)) == 0.25
    assert KerasLearningRate()("learning_rate", 0.5) == 0.5


def test_keras_integer_refuses_in_keras_words_and_passes_traced_integers():
    rule = OPTION_RULES["gradient_accumulation_steps"]
    with pytest.raises(ValueError, match=r"^`gradient_accumulation_steps` must be an "):
        rule("gradient_accumulation_steps", 1)
    jax.jit(lambda n: rule("x", n))(3)
    with pytest.raises(TypeError, match="must be an integer scalar"):
        jax.jit(lambda n: rule("x", n))(3.0)


def test_a_zero_argument_learning_rate_is_called_at_every_step_as_keras():
    # The rate a function of no arguments returns changes between two eager steps; both
    # libraries must read the new one (a port that called it once would move 0.5 twice).
    box = [0.5]
    grads = np.array([1.0, -2.0], np.float32)
    with jax.numpy_dtype_promotion("standard"):  # Keras mixes its float32 with Python floats
        var = keras.Variable(np.zeros(2, np.float32))
        theirs = keras.optimizers.SGD(learning_rate=lambda: box[0])
        tx = jk.SGD(learning_rate=lambda: box[0])
        params = jnp.zeros(2, jnp.float32)
        state = tx.init(params)
        for rate in (0.5, 0.25):
            box[0] = rate
            theirs.apply_gradients([(keras.ops.convert_to_tensor(grads), var)])
            updates, state = tx.update(jnp.asarray(grads), state, params)
            params = optax.apply_updates(params, updates)
    np.testing.assert_array_equal(np.asarray(var.value), [-0.75, 1.5])
    np.testing.assert_array_equal(np.asarray(params), np.asarray(var.value))


# ------------------------------------------------------ the base options' rules

# Keras' own checks of its base options (one_clip, ema_options, KerasInteger), in its words.
KERAS_RAISES = [
    ("SGD", dict(clipnorm=0.1, clipvalue=0.1)),
    ("Adam", dict(clipnorm=0.1, global_clipnorm=0.1)),
    ("Adam", dict(use_ema=True, ema_momentum=1.5)),
    ("Adam", dict(use_ema=True, ema_overwrite_frequency=0.5)),
    ("Adam", dict(gradient_accumulation_steps=1)),
]


@pytest.mark.parametrize(
    "name, kwargs", KERAS_RAISES, ids=[f"{n}-{'-'.join(k)}" for n, k in KERAS_RAISES]
)
def test_bad_options_raise_like_keras(name, kwargs):
    parity.raises_like_keras(name, kwargs)


@pytest.mark.parametrize("kwargs", [dict(ema_momentum=1.5), dict(ema_overwrite_frequency=0.5)])
def test_ema_options_are_only_checked_with_use_ema_as_keras(kwargs):
    keras.optimizers.Adam(**kwargs)  # accepted: no EMA, nothing to check
    jk.Adam(**kwargs)
    with pytest.raises(ValueError):
        keras.optimizers.Adam(use_ema=True, **kwargs)
    with pytest.raises(ValueError, match=r"^jopt.compat.keras.Adam: `ema_"):
        jk.Adam(use_ema=True, **kwargs)


# Keras checks none of these; jopt refuses values that cannot give a sensible step.
JOPT_ONLY = [
    (dict(clipnorm=-1.0), ValueError, "clipnorm=-1.0 is invalid"),
    (dict(global_clipnorm=float("nan")), ValueError, "global_clipnorm=nan is invalid"),
    (dict(loss_scale_factor=0.0), ValueError, "loss_scale_factor=0.0 is invalid"),
    (dict(use_ema=True, ema_overwrite_frequency=0), ValueError, "ema_overwrite_frequency"),
    (dict(use_ema=True, ema_momentum=float("nan")), ValueError, "ema_momentum"),
    (dict(gradient_accumulation_steps=2.0), ValueError, "gradient_accumulation_steps"),
    (dict(gradient_accumulation_steps="2"), TypeError, "gradient_accumulation_steps"),
    (dict(use_ema=1), TypeError, "use_ema=1 is invalid"),
    (dict(exclude_from_weight_decay=3), TypeError, "exclude_from_weight_decay=3"),
    (dict(exclude_from_weight_decay="bias("), ValueError, "regular"),
]


@pytest.mark.parametrize(
    "kwargs, error, match",
    JOPT_ONLY,
    ids=[next(iter(k)) + str(i) for i, (k, _, _) in enumerate(JOPT_ONLY)],
)
def test_bad_options_jopt_only(kwargs, error, match):
    with pytest.raises(error, match=rf"^jopt.compat.keras.Adam: .*{match}"):
        jk.Adam(**kwargs)


def _layout(tree):
    return jax.tree.structure(tree), [
        (jnp.shape(x), jnp.asarray(x).dtype) for x in jax.tree.leaves(tree)
    ]


def test_accumulation_zero_is_off_as_in_keras():
    params = {"w": jnp.ones(2)}
    assert _layout(jk.SGD(gradient_accumulation_steps=0).init(params)) == _layout(
        jk.SGD().init(params)
    )


# ----------------------------------------------------------------- the assembly


def test_leaf_weight_decay_gives_each_leaf_its_own_decay():
    # keras_optimizer's hook for presets with a decay per leaf (Keras Muon's
    # adam_weight_decay): θ ← θ − θλ_leafα, exclusions still apply.
    def decay(path, leaf):
        return 0.25 if leaf.ndim == 2 else (None if path == "b" else 0.125)

    exclude = patterns()("exclude_from_weight_decay", "^c$")
    tx = keras_optimizer(
        [scale_by_learning_rate(0.5)],
        0.5,
        None,
        dict(exclude_from_weight_decay=exclude),
        leaf_weight_decay=decay,
    )
    params = {"a": jnp.full((2, 2), 2.0), "b": jnp.full(2, 2.0), "c": jnp.full((2, 2), 2.0)}
    params["d"] = jnp.full(3, 2.0)
    grads = jax.tree.map(jnp.ones_like, params)
    updates, _ = tx.update(grads, tx.init(params), params)
    expected = {"a": -0.5 - 2 * 0.25 * 0.5, "b": -0.5, "c": -0.5, "d": -0.5 - 2 * 0.125 * 0.5}
    for k, v in expected.items():
        np.testing.assert_allclose(updates[k], v, rtol=1e-12)
