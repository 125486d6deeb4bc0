"""One registry of every optimizer configuration jopt ships; contract tests run over all of it.

Each case builds a transformation from a learning rate, so the same case serves the
contract checks, the vmap-over-learning-rates check and the convergence check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import optax

import jopt
import jopt.compat.keras as jk
import jopt.compat.torch as jt


@dataclass(frozen=True)
class Case:
    name: str
    factory: Callable  # the public jopt callable this case exercises
    make: Callable[[float], optax.GradientTransformation]
    lr: float  # a learning rate at which the case converges on the test quadratic
    maximize: bool = False  # the case climbs its objective
    needs_value: bool = False  # update() takes value=<the monitored loss>


CASES = [
    Case("gd", jopt.gd, lambda lr: jopt.gd(lr), 0.1),
    Case("momentum", jopt.momentum, lambda lr: jopt.momentum(lr, 0.9), 0.1),
    Case("nesterov", jopt.nesterov, lambda lr: jopt.nesterov(lr, 0.9), 0.1),
    Case("sgd", jopt.sgd, lambda lr: jopt.sgd(lr), 0.1),
    Case("sgd-momentum", jopt.sgd, lambda lr: jopt.sgd(lr, 0.9, dampening=0.1), 0.05),
    Case(
        "sgd-nesterov-wd",
        jopt.sgd,
        lambda lr: jopt.sgd(lr, 0.9, nesterov=True, weight_decay=1e-2),
        0.05,
    ),
    Case(
        "sgd-maximize", jopt.sgd, lambda lr: jopt.sgd(lr, 0.5, maximize=True), 0.05, maximize=True
    ),
    Case("adagrad", jopt.adagrad, lambda lr: jopt.adagrad(lr), 0.5),
    Case(
        "adagrad-deck",
        jopt.adagrad,
        lambda lr: jopt.adagrad(lr, eps=0.0, initial_accumulator_value=0.1),
        0.5,
    ),
    Case("rmsprop", jopt.rmsprop, lambda lr: jopt.rmsprop(lr), 0.02),
    Case(
        "rmsprop-centered-momentum",
        jopt.rmsprop,
        lambda lr: jopt.rmsprop(lr, 0.9, centered=True, momentum=0.5, eps_in_sqrt=False),
        0.01,
    ),
    Case("adam", jopt.adam, lambda lr: jopt.adam(lr), 0.05),
    Case(
        "adam-deck-amsgrad",
        jopt.adam,
        lambda lr: jopt.adam(lr, eps_in_sqrt=True, amsgrad=True),
        0.05,
    ),
    Case("adamw", jopt.adamw, lambda lr: jopt.adamw(lr, weight_decay=1e-2), 0.05),
    Case(
        "adam-bf16-state",
        jopt.adam,
        lambda lr: jopt.adam(lr, mu_dtype="bfloat16", nu_dtype="bfloat16"),
        0.05,
    ),
    Case(
        "scale_by_learning_rate",
        jopt.scale_by_learning_rate,
        lambda lr: jopt.scale_by_learning_rate(lr),
        0.1,
    ),
    Case(
        "scale_by_momentum",
        jopt.scale_by_momentum,
        lambda lr: optax.chain(jopt.scale_by_momentum(0.5), jopt.scale_by_learning_rate(lr)),
        0.1,
    ),
    Case(
        "scale_by_nesterov",
        jopt.scale_by_nesterov,
        lambda lr: optax.chain(jopt.scale_by_nesterov(0.5), jopt.scale_by_learning_rate(lr)),
        0.1,
    ),
    Case(
        "scale_by_trace",
        jopt.scale_by_trace,
        lambda lr: optax.chain(
            jopt.scale_by_trace(0.5, nesterov=True), jopt.scale_by_learning_rate(lr)
        ),
        0.05,
    ),
    Case(
        "scale_by_adagrad",
        jopt.scale_by_adagrad,
        lambda lr: optax.chain(
            jopt.scale_by_adagrad(0.1, eps_in_sqrt=True), jopt.scale_by_learning_rate(lr)
        ),
        0.5,
    ),
    Case(
        "scale_by_rms",
        jopt.scale_by_rms,
        lambda lr: optax.chain(jopt.scale_by_rms(0.9), jopt.scale_by_learning_rate(lr)),
        0.02,
    ),
    Case(
        "scale_by_stddev",
        jopt.scale_by_stddev,
        lambda lr: optax.chain(jopt.scale_by_stddev(0.9), jopt.scale_by_learning_rate(lr)),
        0.01,
    ),
    Case(
        "scale_by_adam",
        jopt.scale_by_adam,
        lambda lr: optax.chain(jopt.scale_by_adam(), jopt.scale_by_learning_rate(lr)),
        0.05,
    ),
    Case(
        "scale_by_amsgrad",
        jopt.scale_by_amsgrad,
        lambda lr: optax.chain(jopt.scale_by_amsgrad(), jopt.scale_by_learning_rate(lr)),
        0.05,
    ),
    Case(
        "add_decayed_weights",
        jopt.add_decayed_weights,
        lambda lr: optax.chain(
            jopt.add_decayed_weights(0.01, mask={"w": True, "b": False, "f": True, "s": False}),
            jopt.scale_by_learning_rate(lr),
        ),
        0.1,
    ),
    Case(
        "reduce_lr_on_plateau",
        jopt.reduce_lr_on_plateau,
        lambda lr: optax.chain(
            jopt.sgd(lr, 0.5), jopt.reduce_lr_on_plateau(patience=2, factor=0.5)
        ),
        0.1,
        needs_value=True,
    ),
    # jopt.compat presets (tests/test_compat_*.py check every public name is here)
    Case(
        "torch.SGD",
        jt.SGD,
        lambda lr: jt.SGD(lr, momentum=0.9, nesterov=True, weight_decay=1e-2),
        0.05,
    ),
    Case(
        "torch.Adagrad", jt.Adagrad, lambda lr: jt.Adagrad(lr, initial_accumulator_value=0.1), 0.5
    ),
    Case(
        "torch.RMSprop",
        jt.RMSprop,
        lambda lr: jt.RMSprop(lr, momentum=0.5, centered=True, weight_decay=1e-3),
        0.01,
    ),
    Case("torch.Adam", jt.Adam, lambda lr: jt.Adam(lr, amsgrad=True, weight_decay=1e-3), 0.05),
    Case(
        "torch.AdamW-maximize",
        jt.AdamW,
        lambda lr: jt.AdamW(lr, maximize=True),
        0.05,
        maximize=True,
    ),
    Case(
        "keras.SGD",
        jk.SGD,
        lambda lr: jk.SGD(lr, momentum=0.9, nesterov=True, weight_decay=1e-3),
        0.05,
    ),
    Case("keras.Adagrad", jk.Adagrad, lambda lr: jk.Adagrad(lr, weight_decay=1e-3), 0.5),
    Case(
        "keras.RMSprop",
        jk.RMSprop,
        lambda lr: jk.RMSprop(lr, momentum=0.5, centered=True, weight_decay=1e-3),
        0.01,
    ),
    Case("keras.Adam", jk.Adam, lambda lr: jk.Adam(lr, amsgrad=True), 0.05),
    Case("keras.AdamW", jk.AdamW, lambda lr: jk.AdamW(lr), 0.05),
    Case(
        "decoupled_weight_decay",
        jopt.decoupled_weight_decay,
        lambda lr: optax.chain(
            jopt.scale_by_momentum(0.5),
            jopt.scale_by_learning_rate(lr),
            jopt.decoupled_weight_decay(
                lr, 0.01, mask={"w": True, "b": False, "f": True, "s": False}
            ),
        ),
        0.1,
    ),
]

# Public callables that are not transformations, so not in the registry.
NOT_TRANSFORMS = {"get_learning_rate", "minibatch_indices", "testing", "schedules", "compat"}
