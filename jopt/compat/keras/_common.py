"""What every ``jopt.compat.keras`` preset shares: the learning rate Keras accepts and
the options of Keras' base optimizer (``keras/src/optimizers/base_optimizer.py``).

A preset builds its own step (the lr applied, Keras' lr-inside momentum buffers
included) and hands it to :func:`keras_optimizer`, which adds the base options in
Keras' order of operations.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, TypedDict, TypeVar

import optax

from jopt._base import ScalarOrSchedule, chain, requested
from jopt._validation import check_learning_rate, check_optional
from jopt._weight_decay import _decoupled_weight_decay


class KerasOptions(TypedDict, total=False):
    """The options every Keras optimizer takes besides ``learning_rate`` and
    ``weight_decay`` (Keras 3.15's defaults: None, and ``use_ema=False``,
    ``ema_momentum=0.99``)."""

    clipnorm: float | None
    clipvalue: float | None
    global_clipnorm: float | None
    use_ema: bool
    ema_momentum: float
    ema_overwrite_frequency: int | None
    loss_scale_factor: float | None
    gradient_accumulation_steps: int | None


OPTION_DEFAULTS: dict[str, Any] = dict(
    clipnorm=None,
    clipvalue=None,
    global_clipnorm=None,
    use_ema=False,
    ema_momentum=0.99,
    ema_overwrite_frequency=None,
    loss_scale_factor=None,
    gradient_accumulation_steps=None,
)


F = TypeVar("F", bound=Callable[..., Any])


def with_options(preset: F) -> F:
    """Spells Keras' base options out in ``preset``'s signature (``**options`` becomes
    keyword-only parameters with Keras' defaults), so ``inspect.signature`` and
    ``optax.inject_hyperparams`` see them one by one, as in Keras."""
    signature = inspect.signature(preset)
    parameters = [p for p in signature.parameters.values() if p.kind != p.VAR_KEYWORD]
    types = {k: getattr(v, "__forward_arg__", v) for k, v in KerasOptions.__annotations__.items()}
    parameters += [
        inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=types[name]
        )
        for name, default in OPTION_DEFAULTS.items()
    ]
    preset.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    return preset


def learning_rate(call: str, value: Any) -> ScalarOrSchedule:
    """Keras' ``learning_rate``: a number, a schedule ``count -> lr`` (a Keras-style
    schedule object is one), or a function of no arguments, called at every step."""
    if callable(value) and _takes_no_arguments(value):
        fn = value

        def schedule(count):
            del count
            return fn()

        check_learning_rate(call, schedule)
        return schedule
    check_learning_rate(call, value)
    return value


def _takes_no_arguments(fn: Any) -> bool:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return not any(
        p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        for p in parameters
    )


def check_weight_decay(call: str, weight_decay: Any) -> None:
    check_optional(call, "weight_decay", weight_decay, schedule=True)


def keras_optimizer(
    call: str,
    step: Sequence[optax.GradientTransformation],
    learning_rate: ScalarOrSchedule,
    weight_decay: Any,
    options: dict[str, Any],
) -> optax.GradientTransformationExtraArgs:
    """``step`` (the preset's own update, the learning rate applied) with Keras' base
    options around it: the decoupled decay θ ← θ − θλα_t (applied to the parameters
    before the step, so added to the update; it never enters a buffer) and ``options``.
    """
    unknown = set(options) - set(OPTION_DEFAULTS)
    if unknown:
        raise TypeError(f"{call}: unexpected keyword argument(s) {sorted(unknown)}.")
    chosen = {
        k: v
        for k, v in options.items()
        if (v if k == "use_ema" else k != "ema_momentum" and v is not None)
    }
    if chosen:
        raise NotImplementedError(f"{call}: {sorted(chosen)} not implemented yet.")
    steps = list(step)
    if requested(weight_decay):
        steps.append(_decoupled_weight_decay(call, learning_rate, weight_decay))
    return chain(*steps)
