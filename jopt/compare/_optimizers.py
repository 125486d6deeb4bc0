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


# The deck's forms: EMA momentum with β = 0.9, AdaGrad, RMSprop (ρ = 0.99, ε = 1e-8 inside the
# square root) and Adam (ε inside, as the deck writes it). AdaGrad keeps PyTorch's ε = 1e-10
# outside the root so that a coordinate with zero gradient stays finite.
OPTIMIZERS: dict[str, Optimizer] = {
    o.name: o
    for o in [
        Optimizer("gd", "GD (full batch)", lambda lr: jopt.gd(lr), False, False),
        Optimizer("sgd", "SGD (mini-batch)", lambda lr: jopt.sgd(lr), False, True),
        Optimizer("momentum", "Momentum β=0.9", lambda lr: jopt.momentum(lr, 0.9), False, False),
        Optimizer("nesterov", "NAG β=0.9", lambda lr: jopt.nesterov(lr, 0.9), False, False),
        Optimizer("adagrad", "AdaGrad", lambda lr: jopt.adagrad(lr), True, False),
        Optimizer(
            "rmsprop", "RMSprop ρ=0.99", lambda lr: jopt.rmsprop(lr, 0.99, 1e-8), True, False
        ),
        Optimizer("adam", "Adam", lambda lr: jopt.adam(lr, eps_in_sqrt=True), True, False),
    ]
}
