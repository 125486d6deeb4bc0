"""Bad configuration fails at construction, naming the call, the value and the valid range."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

import jopt

BAD = [
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
    (
        jopt.minibatch_indices,
        dict(key=jax.random.key(0), num_examples=10, batch_size=0),
        r"jopt.minibatch_indices: batch_size=0",
    ),
    (
        jopt.minibatch_indices,
        dict(key=jax.random.key(0), num_examples=10, batch_size=11),
        r"batch_size=11 is larger than num_examples=10",
    ),
    (
        jopt.minibatch_indices,
        dict(key=jax.random.key(0), num_examples=10.5, batch_size=2),
        r"num_examples=10.5",
    ),
]


@pytest.mark.parametrize(
    "factory, kwargs, match", BAD, ids=[f"{f.__name__}-{i}" for i, (f, _, _) in enumerate(BAD)]
)
def test_bad_configuration_raises_at_construction(factory, kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        factory(**kwargs)


def test_traced_values_are_not_checked_in_python():
    # Under jit a learning rate is a tracer: construction must not try to read it.
    @jax.jit
    def build_and_step(lr, b1):
        tx = jopt.adam(lr, b1)
        return tx.update(jnp.ones(2), tx.init(jnp.zeros(2)))[0]

    assert build_and_step(0.1, 0.9).shape == (2,)


def test_add_decayed_weights_needs_params():
    tx = jopt.adamw(1e-3)
    with pytest.raises(ValueError, match="needs params"):
        tx.update(jnp.ones(2), tx.init(jnp.zeros(2)))


def test_integer_gradients_are_rejected_with_a_message():
    tx = jopt.gd(0.1)
    with pytest.raises(TypeError, match="floating point"):
        tx.update(jnp.ones(2, jnp.int32), tx.init(jnp.zeros(2)))
