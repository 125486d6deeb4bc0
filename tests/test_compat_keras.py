"""jopt.compat.keras against keras.optimizers (JAX backend): trajectories, defaults, checks."""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import keras
import numpy as np
import optax
import pytest
from tests.support.parity import KERAS_CASES, STEPS, TOL, keras_errors, keras_reductions_in_float64, tolerance
from tests.support.registry import CASES

import jopt
import jopt.compat.keras as jk
from jopt.compat.keras._common import OPTION_DEFAULTS

# The optimizers: the classes of jk.__all__ Keras has, but OptimizerMap (a mapping).
PRESETS = [
    n for n in jk.__all__ if n[0].isupper() and hasattr(keras.optimizers, n) and n != "OptimizerMap"
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("case", KERAS_CASES, ids=[c.name for c in KERAS_CASES])
def test_trajectory_matches_keras(case, dtype):
    max_abs, max_rel = keras_errors(case, dtype)
    tol = tolerance(case, dtype)
    assert max_rel <= tol, (
        f"{case.name} ({np.dtype(dtype).name}, {STEPS} steps): max rel err {max_rel:.3g}, "
        f"max abs err {max_abs:.3g}"
    )


@pytest.mark.parametrize(
    "case", [c for c in KERAS_CASES if c.f64_tol is not None], ids=lambda c: c.name
)
def test_float64_gap_is_keras_float32_reductions(case, monkeypatch):
    # The looser float64 bound of these cases is Keras' doing: its ops.mean and ops.norm
    # reduce in float32. Kept in float64, Keras agrees with jopt to the usual 1e-10.
    keras_reductions_in_float64(monkeypatch)
    assert keras_errors(case, np.float64)[1] <= TOL[np.float64]


def test_every_option_is_exercised():
    used = {(c.preset, k) for c in KERAS_CASES for k in c.kwargs}
    used |= {(c.preset, k) for c in KERAS_CASES if c.build is not None for k in c.build(jk)}
    for c in KERAS_CASES:
        if c.schedule is not None:
            used.add((c.preset, "decay" if c.schedule[0] == "legacy_decay" else "schedule"))
    for preset in PRESETS:
        signature = inspect.signature(getattr(jk, preset)).parameters
        params = {n for n, p in signature.items() if p.kind != p.VAR_KEYWORD}
        params -= set(OPTION_DEFAULTS)  # Keras' base options: tests/test_keras_options.py
        if "learning_rate" in params:  # the wrappers take none
            params = params - {"learning_rate"} | {"schedule"}
        missing = {p for p in params if (preset, p) not in used}
        assert not missing, f"{preset}: options not compared with keras: {sorted(missing)}"


@pytest.mark.parametrize("name", PRESETS)
def test_defaults_are_keras(name):
    ours = inspect.signature(getattr(jk, name)).parameters
    theirs = inspect.signature(getattr(keras.optimizers, name)).parameters
    doc = getattr(jk, name).__doc__
    for p in ours.values():
        if p.name == "decay":  # tf.keras 2's legacy argument, gone from Keras 3
            assert p.default is None
            continue
        if p.name == "exclude_from_weight_decay":  # Keras: a method, not an argument
            assert p.default is None
            continue
        default = theirs[p.name].default
        if p.default is None and default == 0:
            assert f"``{p.name}``" in doc and "Keras' default 0, off" in doc, (name, p.name)
            continue
        assert p.default == default, f"{name}({p.name}): {p.default!r} != keras' {default!r}"


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("SGD", dict(momentum=1.5)),
        ("SGD", dict(momentum=-0.1)),
        ("AdamW", dict(weight_decay=None)),
        ("Lion", dict(beta_1=0.0)),
        ("Lion", dict(beta_1=1.5)),
    ],
)
def test_bad_arguments_raise_like_keras(name, kwargs):
    with pytest.raises(ValueError) as theirs:
        getattr(keras.optimizers, name)(**kwargs)
    with pytest.raises(ValueError) as ours:
        getattr(jk, name)(**kwargs)
    assert str(ours.value).startswith(f"jopt.compat.keras.{name}: ")
    assert str(theirs.value).rstrip(".") in str(ours.value)


# Keras checks none of these; jopt refuses values that cannot give a sensible step.
JOPT_ONLY = [
    ("SGD", dict(learning_rate=-0.1), r"learning_rate=-0.1 is invalid"),
    ("SGD", dict(decay=-0.1), r"decay=-0.1 is invalid; decay must be in \[0, inf\)"),
    ("SGD", dict(weight_decay=-0.1), r"weight_decay=-0.1"),
    ("Adagrad", dict(initial_accumulator_value=-1.0), r"initial_accumulator_value=-1.0"),
    ("Adagrad", dict(epsilon=-1.0), r"epsilon=-1.0"),
    ("RMSprop", dict(rho=1.0), r"rho=1.0 is invalid; rho must be in \[0, 1\)"),
    ("RMSprop", dict(momentum=-0.5), r"momentum=-0.5"),
    ("Adam", dict(beta_1=1.0), r"beta_1=1.0 is invalid; beta_1 must be in \[0, 1\)"),
    ("Adam", dict(beta_2=-0.1), r"beta_2=-0.1"),
    ("AdamW", dict(weight_decay=-0.1), r"weight_decay=-0.1"),
    # Adadelta and the Adam family (issue 15)
    ("Adadelta", dict(rho=1.5), r"rho=1.5 is invalid; rho must be in \[0, 1\]"),
    ("Adadelta", dict(epsilon=-1.0), r"epsilon=-1.0"),
    ("Adadelta", dict(learning_rate=-1.0), r"learning_rate=-1.0"),
    ("Adamax", dict(beta_1=1.0), r"beta_1=1.0 is invalid; beta_1 must be in \[0, 1\)"),
    ("Adamax", dict(beta_2=-0.1), r"beta_2=-0.1"),
    ("Adamax", dict(epsilon=-1.0), r"epsilon=-1.0"),
    ("Adamax", dict(weight_decay=-0.1), r"weight_decay=-0.1"),
    ("Nadam", dict(beta_1=-0.1), r"beta_1=-0.1"),
    ("Nadam", dict(beta_2=1.0), r"beta_2=1.0 is invalid; beta_2 must be in \[0, 1\)"),
    ("Nadam", dict(epsilon=-1.0), r"epsilon=-1.0"),
    ("Adafactor", dict(beta_2_decay=0.5), r"beta_2_decay=0.5 is invalid; .* \(-inf, 0\]"),
    ("Adafactor", dict(epsilon_1=-1.0), r"epsilon_1=-1.0"),
    ("Adafactor", dict(epsilon_2=-1.0), r"epsilon_2=-1.0"),
    ("Adafactor", dict(clip_threshold=0.5), r"clip_threshold=0.5 is invalid; .* \[1, inf\)"),
    ("Lion", dict(beta_2=1.5), r"beta_2=1.5 is invalid; beta_2 must be in \[0, 1\]"),
    ("Lamb", dict(beta_1=1.0), r"beta_1=1.0 is invalid; beta_1 must be in \[0, 1\)"),
    ("Lamb", dict(epsilon=-1.0), r"epsilon=-1.0"),
    ("Muon", dict(momentum=-0.5), r"momentum=-0.5"),
    ("Muon", dict(ns_steps=-1), r"ns_steps=-1 is invalid"),
    ("Muon", dict(adam_lr_ratio=-1.0), r"adam_lr_ratio=-1.0"),
    ("Muon", dict(adam_beta_2=1.0), r"adam_beta_2=1.0"),
    ("Muon", dict(exclude_layers=["("]), r"exclude_layers has an invalid regular expression"),
]


@pytest.mark.parametrize(
    "name, kwargs, match", JOPT_ONLY, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(JOPT_ONLY)]
)
def test_bad_arguments_jopt_only(name, kwargs, match):
    with pytest.raises(ValueError, match=rf"^jopt.compat.keras.{name}: .*{match}"):
        getattr(jk, name)(**kwargs)


def test_public_names_are_in_the_registry():
    covered = {c.factory for c in CASES}
    missing = [n for n in PRESETS if getattr(jk, n) not in covered]
    assert not missing, f"not in tests/registry.py: {missing}"
    assert jopt.decoupled_weight_decay in covered


def test_legacy_decay_is_recorded_as_the_learning_rate():
    tx = jk.SGD(learning_rate=0.1, momentum=0.9, decay=0.5, weight_decay=0.01)
    params = jnp.ones(2)
    state = tx.init(params)
    for _ in range(3):
        _, state = tx.update(jnp.ones(2), state, params)
    assert float(jopt.get_learning_rate(state)) == pytest.approx(0.1 / (1 + 0.5 * 2))


def test_decay_stays_out_of_the_momentum_buffer():
    # Two steps at θ = 1, g = 0, μ = 0.5, α = 0.1, λ = 1: Keras decays θ by αλθ each step
    # and the buffer stays 0; through the buffer the second step would be −0.15.
    tx = jk.SGD(learning_rate=0.1, momentum=0.5, weight_decay=1.0)
    params = jnp.ones(1)
    state = tx.init(params)
    u1, state = tx.update(jnp.zeros(1), state, params)
    u2, state = tx.update(jnp.zeros(1), state, params)
    np.testing.assert_allclose([float(u1[0]), float(u2[0])], [-0.1, -0.1], rtol=1e-12)


def test_decoupled_weight_decay_mask_and_params():
    tx = jopt.decoupled_weight_decay(0.1, 0.5, mask={"a": True, "b": False})
    params = {"a": jnp.full(2, 2.0), "b": jnp.full(2, 2.0)}
    updates, _ = tx.update({"a": jnp.ones(2), "b": jnp.ones(2)}, tx.init(params), params)
    np.testing.assert_allclose(updates["a"], 1.0 - 0.1 * 0.5 * 2.0, rtol=1e-12)
    np.testing.assert_allclose(updates["b"], 1.0, rtol=1e-12)
    with pytest.raises(ValueError, match="jopt.decoupled_weight_decay: update.. needs params"):
        bare = jopt.decoupled_weight_decay(0.1, 0.5)
        bare.update(jnp.ones(2), bare.init(jnp.ones(2)))


def test_composes_with_optax_chain():
    # optax's clip, then Keras' AdamW (default λ = 0.004, ε = 1e-7), three steps, against
    # both written out in NumPy: the clip sees the raw gradient, AdamW the clipped one.
    tx = optax.chain(optax.clip_by_global_norm(1.0), jk.AdamW(1e-3))
    grads = [np.array([10.0, -5.0, 2.0]), np.array([0.1, 0.2, -0.3]), np.array([-4.0, 3.0, 0.0])]
    params, state = {"w": jnp.ones(3, jnp.float64)}, None
    theta, m, v = np.ones(3), np.zeros(3), np.zeros(3)
    lr, wd, b1, b2, eps = 1e-3, 0.004, 0.9, 0.999, 1e-7
    for t, g in enumerate(grads, start=1):
        state = tx.init(params) if state is None else state
        updates, state = tx.update({"w": jnp.asarray(g)}, state, params)
        params = optax.apply_updates(params, updates)
        g = g * min(1.0, 1.0 / np.linalg.norm(g))  # clip_by_global_norm(1.0)
        theta = theta - theta * wd * lr  # Keras decays first
        m, v = m + (g - m) * (1 - b1), v + (g * g - v) * (1 - b2)
        alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        theta = theta - alpha * m / (np.sqrt(v) + eps)
        np.testing.assert_allclose(np.asarray(params["w"]), theta, rtol=1e-12, err_msg=f"step {t}")


def test_legacy_decay_meets_the_contracts():
    # Not in the registry: its recorded learning rate is the decayed one, not the schedule's.
    params = {
        "w": jnp.ones((2, 3), jnp.float32),
        "b": jnp.ones(3, jnp.bfloat16),
        "s": jnp.asarray(0.5, jnp.float64),
    }
    grads = jax.tree.map(lambda p: (0.5 * p).astype(p.dtype), params)
    make = lambda lr: jk.SGD(lr, momentum=0.9, decay=0.5, weight_decay=0.01)  # noqa: E731
    jopt.testing.check_transformation(make(0.1), params, grads)
    jopt.testing.check_vmap(make, params, grads, [0.1, 0.2])


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
