"""jopt.compat.keras.Adafactor and Muon (jopt/compat/keras/_matrix.py) against keras.optimizers:
lockstep trajectories (in float64 with Keras' float32 reductions kept in float64), jopt's
checks, Muon's ``exclude_layers`` rule."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jopt.compat.keras as jk
from jopt._core.checks import declaration
from tests.support import parity

CASES = parity.keras_cases("matrix")
QUICK = parity.select(parity.KERAS_QUICK, CASES)
SLOW = parity.select(parity.KERAS_SLOW, CASES)


@pytest.mark.parametrize("case, dtype", QUICK, ids=parity.ids(QUICK))
def test_first_case_of_each_preset_matches_keras(case, dtype, keras_quick):
    parity.check(keras_quick, case, dtype)


@pytest.mark.slow
@pytest.mark.parametrize("case, dtype", SLOW, ids=parity.ids(SLOW))
def test_every_other_case_matches_keras(case, dtype, keras_slow):
    parity.check(keras_slow, case, dtype)


# Keras checks none of these; jopt refuses values that cannot give a sensible step.
JOPT_ONLY = [
    ("Adafactor", dict(beta_2_decay=0.5), r"beta_2_decay=0.5 is invalid; .* \(-inf, 0\]"),
    ("Adafactor", dict(epsilon_1=-1.0), r"epsilon_1=-1.0"),
    ("Adafactor", dict(epsilon_2=-1.0), r"epsilon_2=-1.0"),
    ("Adafactor", dict(clip_threshold=0.5), r"clip_threshold=0.5 is invalid; .* \[1, inf\)"),
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


EXCLUDE_LAYERS = declaration(jk.Muon).rules["exclude_layers"]  # None or regexes, a list


def test_exclude_layers_rule_accepts_and_lists_its_valid_values():
    assert EXCLUDE_LAYERS("x", None) == []
    assert EXCLUDE_LAYERS("x", ("dense", "out.*")) == ["dense", "out.*"]
    assert EXCLUDE_LAYERS("x", []) == []


@pytest.mark.parametrize(
    "label, value", list(EXCLUDE_LAYERS.bad().items()), ids=list(EXCLUDE_LAYERS.bad())
)
def test_exclude_layers_rule_rejects_each_class_of_bad_value(label, value):
    with pytest.raises((TypeError, ValueError)) as error:
        EXCLUDE_LAYERS("x", value)
    message = str(error.value)
    assert "x" in message, message


# Muon routes leaves to Muon or AdamW by path, as Keras does


def test_keras_muon_routes_leaves_by_path_as_keras():
    # Keras' own rule (_should_use_adamw, on variables with these paths) is the oracle.
    import keras

    params = {
        "dense": {"kernel": jnp.zeros((3, 4)), "bias": jnp.zeros(4)},
        "out_dense": {"kernel": jnp.zeros((4, 2))},
        "Token_Embedding": {"embeddings": jnp.zeros((5, 3))},
    }
    variables = {}
    for layer, leaves in params.items():
        with keras.name_scope(layer):
            for name, leaf in leaves.items():
                variables[(layer, name)] = keras.Variable(np.zeros(leaf.shape), name=name)
    for exclude_layers, exclude_embeddings in [(None, True), (["out_"], False)]:
        reference = keras.optimizers.Muon(
            exclude_layers=exclude_layers, exclude_embeddings=exclude_embeddings
        )
        tx = jk.Muon(exclude_layers=exclude_layers, exclude_embeddings=exclude_embeddings)
        adam_state = tx.init(params)[1].inner_state[0]  # the masked AdamW branch
        for (layer, name), variable in variables.items():
            takes_adam = not isinstance(adam_state.mu[layer][name], optax.MaskedNode)
            assert takes_adam == reference._should_use_adamw(variable), (layer, name)
