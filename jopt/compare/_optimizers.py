"""The deck's algorithms as the study runs them: each a function of a (traced) learning rate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import optax

import jopt


@dataclass(frozen=True)
class Optimizer:
    name: str
    label: str
    make: Callable[..., optax.GradientTransformation]  # learning rate (or schedule) -> transform
    adaptive: bool  # which learning-rate grid it uses
    stochastic: bool  # fed mini-batch gradients on the 2-D problems
    colour: str  # in every figure


# The deck's forms: EMA momentum with β = 0.9, AdaGrad, RMSprop (ρ = 0.99, ε = 1e-8 inside the
# square root) and Adam (ε inside, as the deck writes it). AdaGrad keeps PyTorch's ε = 1e-10
# outside the root so that a coordinate with zero gradient stays finite.
OPTIMIZERS: dict[str, Optimizer] = {
    o.name: o
    for o in [
        Optimizer("gd", "GD (full batch)", lambda lr: jopt.gd(lr), False, False, "tab:blue"),
        Optimizer("sgd", "SGD (mini-batch)", lambda lr: jopt.sgd(lr), False, True, "tab:cyan"),
        Optimizer(
            "momentum",
            "Momentum β=0.9",
            lambda lr: jopt.momentum(lr, 0.9),
            False,
            False,
            "tab:orange",
        ),
        Optimizer(
            "nesterov", "NAG β=0.9", lambda lr: jopt.nesterov(lr, 0.9), False, False, "tab:red"
        ),
        Optimizer("adagrad", "AdaGrad", lambda lr: jopt.adagrad(lr), True, False, "tab:green"),
        Optimizer(
            "rmsprop",
            "RMSprop ρ=0.99",
            lambda lr: jopt.rmsprop(lr, 0.99, 1e-8),
            True,
            False,
            "tab:purple",
        ),
        Optimizer("adam", "Adam", lambda lr: jopt.adam(lr, eps_in_sqrt=True), True, False, "black"),
    ]
}

# The learning-rate schedules of the real-data study, in the order of its vmapped axis.
SCHEDULES = ("constant", "step", "cosine")
SCHEDULE_LABELS = {"constant": "constant", "step": "StepLR", "cosine": "cosine"}
