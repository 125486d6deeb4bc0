"""One registry of every optimizer configuration jopt ships; contract tests run over all of it.

A case names a public factory and its arguments; ``case.make(lr)`` builds the tested
transformation at a learning rate (a primitive is chained with
``jopt.scale_by_learning_rate``), and ``case.build(wrapper, lr)`` builds it through a
factory wrapper such as ``optax.inject_hyperparams``. So the same case serves the
contract checks, the vmap-over-learning-rates check, the convergence check and the
inject_hyperparams layout check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import optax

import jopt
import jopt.compat.keras as jk
import jopt.compat.torch as jt

MASK = {"w": True, "b": False, "f": True, "s": False}  # the contract trees' leaves


@dataclass(frozen=True)
class Case:
    name: str
    factory: Callable  # the public jopt callable this case exercises
    kwargs: dict = field(default_factory=dict)  # its arguments besides the learning rate
    lr: float = 0.1  # a learning rate at which the case converges on the test quadratic
    # The factory's learning-rate argument; None: the factory takes none, and the case
    # is factory(**kwargs) followed by jopt.scale_by_learning_rate(lr).
    lr_arg: str | None = "learning_rate"
    # Builds the tested transformation from factory(...) and the lr, when it is more
    # than the factory (e.g. a transform that comes after an optimizer).
    around: Callable[[optax.GradientTransformation, Any], optax.GradientTransformation] | None = (
        None
    )
    maximize: bool = False  # the case climbs its objective
    needs_value: bool = False  # update() takes value=<the monitored loss>

    def build(self, wrap: Callable[[Callable], Callable], lr: Any) -> optax.GradientTransformation:
        """The case's transformation at ``lr``, its factory passed through ``wrap``."""
        factory = wrap(self.factory)
        if self.lr_arg is None:
            tx = factory(**self.kwargs)
            if self.around is None:
                return optax.chain(tx, jopt.scale_by_learning_rate(lr))
        else:
            tx = factory(**self.kwargs, **{self.lr_arg: lr})
        return tx if self.around is None else self.around(tx, lr)

    def make(self, lr: Any) -> optax.GradientTransformation:
        return self.build(lambda f: f, lr)


def _after_sgd(tx, lr):
    return optax.chain(jopt.sgd(lr, 0.5), tx)


def _after_momentum(tx, lr):
    return optax.chain(jopt.scale_by_momentum(0.5), jopt.scale_by_learning_rate(lr), tx)


CASES = [
    Case("gd", jopt.gd),
    Case("momentum", jopt.momentum, dict(beta=0.9)),
    Case("nesterov", jopt.nesterov, dict(beta=0.9)),
    Case("sgd", jopt.sgd),
    Case("sgd-momentum", jopt.sgd, dict(momentum=0.9, dampening=0.1), 0.05),
    Case("sgd-nesterov-wd", jopt.sgd, dict(momentum=0.9, nesterov=True, weight_decay=1e-2), 0.05),
    Case("sgd-maximize", jopt.sgd, dict(momentum=0.5, maximize=True), 0.05, maximize=True),
    Case("adagrad", jopt.adagrad, lr=0.5),
    Case("adagrad-deck", jopt.adagrad, dict(eps=0.0, initial_accumulator_value=0.1), 0.5),
    Case("rmsprop", jopt.rmsprop, lr=0.02),
    Case(
        "rmsprop-centered-momentum",
        jopt.rmsprop,
        dict(rho=0.9, centered=True, momentum=0.5, eps_in_sqrt=False),
        0.01,
    ),
    Case("adam", jopt.adam, lr=0.05),
    Case("adam-deck-amsgrad", jopt.adam, dict(eps_in_sqrt=True, amsgrad=True), 0.05),
    Case("adamw", jopt.adamw, dict(weight_decay=1e-2), 0.05),
    Case("adam-bf16-state", jopt.adam, dict(mu_dtype="bfloat16", nu_dtype="bfloat16"), 0.05),
    Case("scale_by_learning_rate", jopt.scale_by_learning_rate),
    Case("scale_by_momentum", jopt.scale_by_momentum, dict(beta=0.5), lr_arg=None),
    Case("scale_by_nesterov", jopt.scale_by_nesterov, dict(beta=0.5), lr_arg=None),
    Case("scale_by_trace", jopt.scale_by_trace, dict(momentum=0.5, nesterov=True), 0.05, None),
    Case(
        "scale_by_adagrad",
        jopt.scale_by_adagrad,
        dict(initial_accumulator_value=0.1, eps_in_sqrt=True),
        0.5,
        None,
    ),
    Case("scale_by_rms", jopt.scale_by_rms, dict(rho=0.9), 0.02, None),
    Case("scale_by_stddev", jopt.scale_by_stddev, dict(rho=0.9), 0.01, None),
    Case("scale_by_adam", jopt.scale_by_adam, lr=0.05, lr_arg=None),
    Case("scale_by_amsgrad", jopt.scale_by_amsgrad, lr=0.05, lr_arg=None),
    Case(
        "add_decayed_weights",
        jopt.add_decayed_weights,
        dict(weight_decay=0.01, mask=MASK),
        lr_arg=None,
    ),
    Case(
        "decoupled_weight_decay",
        jopt.decoupled_weight_decay,
        dict(weight_decay=0.01, mask=MASK),
        around=_after_momentum,
    ),
    Case(
        "reduce_lr_on_plateau",
        jopt.reduce_lr_on_plateau,
        dict(patience=2, factor=0.5),
        lr_arg=None,
        around=_after_sgd,
        needs_value=True,
    ),
    # jopt.compat presets (tests/test_compat_*.py check every public name is here)
    Case("torch.SGD", jt.SGD, dict(momentum=0.9, nesterov=True, weight_decay=1e-2), 0.05, "lr"),
    Case("torch.Adagrad", jt.Adagrad, dict(initial_accumulator_value=0.1), 0.5, "lr"),
    Case(
        "torch.RMSprop",
        jt.RMSprop,
        dict(momentum=0.5, centered=True, weight_decay=1e-3),
        0.01,
        "lr",
    ),
    Case("torch.Adam", jt.Adam, dict(amsgrad=True, weight_decay=1e-3), 0.05, "lr"),
    Case("torch.AdamW-maximize", jt.AdamW, dict(maximize=True), 0.05, "lr", maximize=True),
    Case("keras.SGD", jk.SGD, dict(momentum=0.9, nesterov=True, weight_decay=1e-3), 0.05),
    Case("keras.Adagrad", jk.Adagrad, dict(weight_decay=1e-3), 0.5),
    Case("keras.RMSprop", jk.RMSprop, dict(momentum=0.5, centered=True, weight_decay=1e-3), 0.01),
    Case("keras.Adam", jk.Adam, dict(amsgrad=True), 0.05),
    Case("keras.AdamW", jk.AdamW, lr=0.05),
]

# Public callables that are not transformations, so not in the registry.
NOT_TRANSFORMS = {
    "get_learning_rate",
    "minibatch_indices",
    "testing",
    "schedules",
    "compat",
    "sharding",
}
