"""What every ``jopt.compat.keras`` preset shares: the learning rate Keras accepts and
the options of Keras' base optimizer (``keras/src/optimizers/base_optimizer.py``).

A preset builds its own step (the lr applied, Keras' lr-inside momentum buffers
included) and hands it to :func:`keras_optimizer`, which adds the base options in
Keras' order of operations (``BaseOptimizer.apply`` and the JAX backend's
``_backend_apply_gradients``)::

    g ← g / loss_scale_factor
    accumulate (gradient_accumulation_steps = n): every n-th call g ← (g + Σ)/n and go on,
        otherwise Σ ← Σ + g and stop here (the params do not move)
    clip g (clipnorm | global_clipnorm | clipvalue)
    θ ← θ − θλα_t (weight_decay, leaves not excluded)
    the preset's step, reading the decayed θ
    EMA of θ (use_ema); θ ← EMA every ema_overwrite_frequency iterations
"""

from __future__ import annotations

import functools
import inspect
import re
import typing
from collections.abc import Callable, Sequence
from typing import Any, TypedDict, TypeVar

import jax.numpy as jnp
import numpy as np
import optax

from jopt._base import Scalar, ScalarOrSchedule, requested
from jopt._validation import (
    check_flag,
    check_learning_rate,
    check_optional,
    check_range,
    check_real,
    concrete_values,
    is_traced,
)
from jopt.compat.keras import _options


class KerasOptions(TypedDict, total=False):
    """The options every Keras optimizer takes besides ``learning_rate`` and
    ``weight_decay`` (Keras 3.15's defaults: None, and ``use_ema=False``,
    ``ema_momentum=0.99``), plus ``exclude_from_weight_decay``, jopt's argument for
    Keras' ``optimizer.exclude_from_weight_decay(var_names=...)``.

    - ``clipnorm``: clip each leaf's gradient to this L2 norm; ``global_clipnorm``: clip
      all gradients together to this global norm; ``clipvalue``: clip each element to
      [−v, v]. At most one of the three (Keras' rule); 0 clips nothing, as in Keras.
    - ``exclude_from_weight_decay``: a string or a sequence of strings; a leaf whose
      path (its keys joined by ``/``, e.g. ``"encoder/dense/bias"``; a Flax NNX
      ``.value`` at the end is dropped) contains a match of one of them
      (``re.search``, so plain substrings such as ``"bias"`` or ``"norm"`` work) gets no
      weight decay.
    - ``use_ema``: keep an exponential moving average of the parameters,
      ``ema_momentum`` its decay (the first average is the parameters themselves);
      read it with :func:`ema_params`. ``ema_overwrite_frequency=N``: every N-th
      iteration the update lands the parameters on the average.
    - ``loss_scale_factor``: the gradients are divided by it (multiply the loss by it
      yourself, as Keras' ``optimizer.scale_loss`` does).
    - ``gradient_accumulation_steps=n`` (>= 2): the parameters move on every n-th call
      only, with the mean of the n gradients; the preset's own step count (Adam's bias
      corrections, Keras' ``iterations``) counts those updates, while a learning-rate
      schedule sees every call (Keras' ``optimizer._iterations``).
    """

    clipnorm: Scalar | None
    clipvalue: Scalar | None
    global_clipnorm: Scalar | None
    use_ema: bool
    ema_momentum: Scalar
    ema_overwrite_frequency: int | None
    loss_scale_factor: Scalar | None
    gradient_accumulation_steps: int | None
    exclude_from_weight_decay: str | Sequence[str] | None


OPTION_DEFAULTS: dict[str, Any] = dict(
    clipnorm=None,
    clipvalue=None,
    global_clipnorm=None,
    use_ema=False,
    ema_momentum=0.99,
    ema_overwrite_frequency=None,
    loss_scale_factor=None,
    gradient_accumulation_steps=None,
    exclude_from_weight_decay=None,
)


F = TypeVar("F", bound=Callable[..., Any])


def with_options(preset: F) -> F:
    """Spells Keras' base options out in ``preset``'s signature (``**options`` becomes
    keyword-only parameters with Keras' defaults and annotations), so
    ``inspect.signature`` and ``optax.inject_hyperparams`` see them one by one, as in
    Keras.

    With ``gradient_accumulation_steps=n``, a schedule ``count -> lr`` is handed to the
    preset as ``count -> lr(n·count + n − 1)``: the preset counts its updates, and
    Keras evaluates the schedule at the calls made so far (``optimizer._iterations``).
    """
    signature = inspect.signature(preset)
    hints = typing.get_type_hints(KerasOptions)
    parameters = [p for p in signature.parameters.values() if p.kind != p.VAR_KEYWORD]
    kind = inspect.Parameter.KEYWORD_ONLY
    parameters += [
        inspect.Parameter(name, kind, default=default, annotation=hints[name])
        for name, default in OPTION_DEFAULTS.items()
    ]
    full = signature.replace(parameters=parameters)

    @functools.wraps(preset)
    def wrapped(*args, **kwargs):
        bound = full.bind(*args, **kwargs)
        steps = bound.arguments.get("gradient_accumulation_steps")
        lr = bound.arguments.get("learning_rate")
        if requested(steps) and callable(lr) and not _takes_no_arguments(lr):
            bound.arguments["learning_rate"] = _per_call(lr, steps)
        return preset(*bound.args, **bound.kwargs)

    wrapped.__signature__ = full  # type: ignore[attr-defined]
    return wrapped  # type: ignore[return-value]


def _per_call(schedule: Callable[..., Any], steps: Any) -> Callable[..., Any]:
    def per_update(count):
        n = jnp.asarray(steps).astype(count.dtype)
        return schedule(count * n + (n - 1))

    return per_update


def learning_rate(call: str, value: Any) -> ScalarOrSchedule:
    """Keras' ``learning_rate``: a number, a schedule ``count -> lr`` (a Keras-style
    schedule object is one), or a function of no arguments, called at every step
    (under ``jax.jit``: when the step is traced)."""
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


# ------------------------------------------------------------------------- option checks


def _keras_int(call: str, name: str, value: Any, minimum: int, message: str) -> None:
    """An integer option Keras checks: a non-number is a TypeError, a number that is not
    an integer >= ``minimum`` a ValueError in Keras' words; a traced integer passes."""
    if is_traced(value):
        if jnp.ndim(value) != 0 or not jnp.issubdtype(value.dtype, jnp.integer):
            raise TypeError(f"{call}: {name} must be an integer scalar, got {value}.")
        return
    check_real(call, name, value)
    values = concrete_values(value)
    integral = isinstance(value, (int, np.integer)) or (
        np.ndim(value) == 0 and jnp.issubdtype(jnp.asarray(value).dtype, jnp.integer)
    )
    if values is None or not integral or int(values) < minimum or int(values) > 2**31 - 1:
        raise ValueError(f"{call}: {message}. Received: {name}={value}")


def check_options(call: str, options: dict[str, Any]) -> dict[str, Any]:
    """Keras' checks of its base options (its own messages where Keras raises), and
    jopt's on values Keras lets through (a negative clip norm, NaN, a string)."""
    unknown = set(options) - set(OPTION_DEFAULTS)
    if unknown:
        raise TypeError(f"{call}: unexpected keyword argument(s) {sorted(unknown)}.")
    opts = {**OPTION_DEFAULTS, **options}
    clips = ("clipnorm", "clipvalue", "global_clipnorm")
    for name in clips:
        check_optional(call, name, opts[name])
    if sum(opts[name] is not None for name in clips) > 1:
        raise ValueError(
            f"{call}: Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
            f"Received: clipnorm={opts['clipnorm']}, clipvalue={opts['clipvalue']}, "
            f"global_clipnorm={opts['global_clipnorm']}"
        )
    use_ema = check_flag(call, "use_ema", opts["use_ema"])
    check_real(call, "ema_momentum", opts["ema_momentum"])
    momentum = concrete_values(opts["ema_momentum"])
    # Keras checks the EMA's two options only when use_ema is on (they are unused else)
    if use_ema and momentum is not None and not 0.0 <= float(momentum) <= 1.0:  # NaN fails too
        raise ValueError(
            f"{call}: `ema_momentum` must be in the range [0, 1]. "
            f"Received: ema_momentum={opts['ema_momentum']}"
        )
    if use_ema and opts["ema_overwrite_frequency"] is not None:
        _keras_int(
            call,
            "ema_overwrite_frequency",
            opts["ema_overwrite_frequency"],
            1,
            "`ema_overwrite_frequency` must be an integer >= 1 or None",
        )
    scale = opts["loss_scale_factor"]
    if scale is not None:
        check_range(call, "loss_scale_factor", scale, 0.0, lo_open=True)
    steps = opts["gradient_accumulation_steps"]
    if steps is not None and not (isinstance(steps, (int, np.integer)) and steps == 0):
        _keras_int(
            call,
            "gradient_accumulation_steps",
            steps,
            2,
            "`gradient_accumulation_steps` must be an integer >= 2",
        )
    opts["exclude_from_weight_decay"] = _patterns(call, opts["exclude_from_weight_decay"])
    return opts


def _patterns(call: str, value: Any) -> tuple[re.Pattern[str], ...]:
    name = "exclude_from_weight_decay"
    if value is None:
        return ()
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, Sequence) or not all(isinstance(n, str) for n in names):
        raise TypeError(
            f"{call}: {name}={value!r} is invalid; {name} must be a string or a sequence of "
            "strings (patterns searched in each parameter's path, e.g. ['bias', 'norm'])."
        )
    try:
        return tuple(re.compile(n) for n in names)
    except re.error as error:
        raise ValueError(
            f"{call}: {name}={value!r} is invalid; {error} (the strings are regular "
            "expressions, searched in each parameter's path)."
        ) from None


# ------------------------------------------------------------------------- the assembly


def keras_optimizer(
    call: str,
    step: Sequence[optax.GradientTransformation],
    learning_rate: ScalarOrSchedule,
    weight_decay: Any,
    options: dict[str, Any],
    *,
    leaf_weight_decay: Callable[[str, Any], Any] | None = None,
) -> optax.GradientTransformationExtraArgs:
    """``step`` (the preset's own update, the learning rate applied) with Keras' base
    options around it, in Keras' order (see the module docstring): the decoupled decay
    θ ← θ − θλα_t is applied to the parameters the step reads, and added to the update;
    it never enters a buffer.

    ``leaf_weight_decay(path, leaf)``, if given, replaces ``weight_decay`` leaf by leaf
    (a number or a schedule, None for no decay; Keras Muon's ``weight_decay`` for its
    matrices, ``adam_weight_decay`` for the leaves it hands to AdamW), with the same
    order (decay first, the step reads the decayed θ); ``exclude_from_weight_decay``
    still applies.
    The state is the step's (a tuple, then the decay's learning-rate state when a decay
    is asked for), wrapped in a :class:`KerasBaseState` when accumulation or the EMA
    is asked for.
    """
    opts = check_options(call, options)
    patterns = opts["exclude_from_weight_decay"]

    def excluded(path: str) -> bool:
        return any(p.search(path) for p in patterns)

    decay_of: Callable[[str, Any], Any] | None = None
    if leaf_weight_decay is not None:
        decay_of = lambda path, leaf: None if excluded(path) else leaf_weight_decay(path, leaf)  # noqa: E731
    elif requested(weight_decay):
        decay_of = lambda path, leaf: None if excluded(path) else weight_decay  # noqa: E731
    clip = _options.clipper(opts["clipnorm"], opts["global_clipnorm"], opts["clipvalue"])
    body = _options.decay_then_step(call, step, learning_rate, decay_of, clip)
    accumulate = opts["gradient_accumulation_steps"]
    if requested(accumulate) or opts["use_ema"]:
        body = _options.accumulate_and_average(
            call,
            body,
            accumulate if requested(accumulate) else None,
            opts["ema_momentum"] if opts["use_ema"] else None,
            opts["ema_overwrite_frequency"],
        )
    return _options.keras_transformation(body, opts["loss_scale_factor"])


KerasBaseState = _options.KerasBaseState
