"""The deck's algorithms as the study runs them, and transforms named on the command line.

Each optimizer is a function of a learning rate (a traced scalar or a schedule) returning a
transform, so one compiled program runs it at every rate.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import optax

import jopt


@dataclass(frozen=True)
class Optimizer:
    name: str
    label: str
    make: Callable[..., optax.GradientTransformation]  # learning rate (or schedule) -> transform
    colour: str  # in every figure
    # True: always mini-batch steps (the deck's SGD); False: always full-batch steps (GD);
    # None: as the problem says (full batch on the 2-D problems, mini-batches on data)
    batches: bool | None = None
    grid: tuple[float, float] = (1e-3, 1e-2)  # initial block of learning rates, data problems


# The deck's forms: EMA momentum with β = 0.9, AdaGrad, RMSprop (ρ = 0.99, ε = 1e-8 inside the
# square root) and Adam (ε inside, as the deck writes it). AdaGrad keeps PyTorch's ε = 1e-10
# outside the root so that a coordinate with zero gradient stays finite. The EMA momentum forms
# move (1 − β) = 10× less than heavy-ball SGD at the same rate: their rates are 10× larger.
OPTIMIZERS: dict[str, Optimizer] = {
    o.name: o
    for o in [
        Optimizer("gd", "GD (full batch)", lambda lr: jopt.gd(lr), "tab:blue", False, (0.1, 1.0)),
        Optimizer(
            "sgd", "SGD (mini-batch)", lambda lr: jopt.sgd(lr), "tab:cyan", True, (0.01, 0.1)
        ),
        Optimizer(
            "momentum",
            "Momentum β=0.9",
            lambda lr: jopt.momentum(lr, 0.9),
            "tab:orange",
            grid=(0.1, 1.0),
        ),
        Optimizer(
            "nesterov",
            "NAG β=0.9",
            lambda lr: jopt.nesterov(lr, 0.9),
            "tab:red",
            grid=(0.1, 1.0),
        ),
        Optimizer("adagrad", "AdaGrad", lambda lr: jopt.adagrad(lr), "tab:green", grid=(0.01, 0.1)),
        Optimizer(
            "rmsprop", "RMSprop ρ=0.99", lambda lr: jopt.rmsprop(lr, 0.99, 1e-8), "tab:purple"
        ),
        Optimizer("adam", "Adam", lambda lr: jopt.adam(lr, eps_in_sqrt=True), "black"),
    ]
}

# colours for transforms named on the command line, in turn
EXTRA_COLOURS = ("tab:brown", "tab:pink", "tab:olive", "tab:gray", "gold", "lime")
NAMED = re.compile(r"^(optax|jopt)\.([A-Za-z_][A-Za-z0-9_.]*)(\((.*)\))?$", re.S)


class OptimizerError(ValueError):
    """A transform named on the command line that cannot be built."""


@dataclass(frozen=True)
class _Named:
    """``factory(learning_rate, **kwargs)``: hashable, so a compiled program is reused."""

    factory: Callable[..., Any]
    kwargs: tuple[tuple[str, Any], ...] = field(default=())

    def __call__(self, learning_rate):
        return self.factory(learning_rate, **dict(self.kwargs))


def split_names(text: str) -> list[str]:
    """Comma-separated names; commas inside parentheses belong to a name's arguments."""
    names, depth, current = [], 0, ""
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            names.append(current.strip())
            current = ""
        else:
            current += ch
    names.append(current.strip())
    return [n for n in names if n]


def named(text: str, index: int) -> Optimizer:
    """A transform named as ``optax.NAME`` or ``jopt.NAME``, optionally with keyword arguments
    (``optax.sgd(momentum=0.9)``): a factory whose first argument is the learning rate."""
    m = NAMED.match(text)
    if m is None:
        raise OptimizerError(
            f"unknown optimizer {text!r}; valid: {', '.join(OPTIMIZERS)}, or optax.NAME / "
            "jopt.NAME with optional keyword arguments, e.g. optax.sgd(momentum=0.9)"
        )
    module, attr, args = m.group(1), m.group(2), m.group(4)
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise OptimizerError(f"{module}.{attr} does not exist (optimizer {text!r})")
    if not callable(obj):
        raise OptimizerError(f"{module}.{attr} is not a transform factory (optimizer {text!r})")
    kwargs: tuple[tuple[str, Any], ...] = ()
    if args:
        try:
            call = ast.parse(f"f({args})", mode="eval").body
            if not isinstance(call, ast.Call) or call.args:
                raise ValueError(args)
            pairs = [(k.arg, ast.literal_eval(k.value)) for k in call.keywords]
            kwargs = tuple((k, v) for k, v in pairs if k is not None)
            if len(kwargs) != len(pairs):  # a **mapping
                raise ValueError(args)
        except (SyntaxError, ValueError):
            raise OptimizerError(
                f"arguments of {text!r} must be keyword=literal, e.g. optax.sgd(momentum=0.9)"
            ) from None
    make = _Named(obj, kwargs)
    try:
        tx = make(1e-3)
    except Exception as e:  # noqa: BLE001 - any failure means: not usable here
        raise OptimizerError(f"{text} failed with a learning rate: {e}") from None
    if not isinstance(tx, optax.GradientTransformation):
        raise OptimizerError(f"{text} does not return an optax GradientTransformation")
    colour = EXTRA_COLOURS[index % len(EXTRA_COLOURS)]
    return Optimizer(text, text, make, colour)


# The learning-rate schedules, in the order of their vmapped axis, and their report labels.
SCHEDULES = ("constant", "step", "cosine")
SCHEDULE_LABELS = {"constant": "constant", "step": "StepLR", "cosine": "cosine"}
