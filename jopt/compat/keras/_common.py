"""What every ``jopt.compat.keras`` preset shares: Keras' learning rate, the rules and
order of the options of Keras' base optimizer (``keras/src/optimizers/base_optimizer.py``).

A preset is a declaration: its signature (Keras' names and defaults), its rules
(``@keras_preset``, which adds the base options and their rules), and one call of
:func:`keras_optimizer` that maps its arguments onto jopt primitives (``beta_1 → b1``) and
puts Keras' options around them, in Keras' order of operations (``BaseOptimizer.apply``
and the JAX backend's ``_backend_apply_gradients``)::

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypedDict, TypeVar

import jax.numpy as jnp
import numpy as np
import optax

from jopt._core.checks import (
    Real,
    Relation,
    Rule,
    UnnamedTypeError,
    UnnamedValueError,
    checked,
    concrete_values,
    flag,
    is_traced,
    nonnegative,
    optional,
    patterns,
    positive,
    real,
    unchecked,
)
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.registry import Registry
from jopt._core.state import requested
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

    >>> import jax.numpy as jnp
    >>> import jopt.compat.keras as jk
    >>> options: jk.KerasOptions = {"clipnorm": 1.0, "use_ema": True}
    >>> tx = jk.SGD(learning_rate=0.5, **options)
    >>> params = jnp.zeros(2)
    >>> updates, state = tx.update(jnp.array([3.0, 4.0]), tx.init(params), params)
    >>> updates  # g clipped to the norm 1, times −0.5
    Array([-0.3, -0.4], dtype=float32)
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


# ------------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class KerasLearningRate(Rule):
    """Keras' ``learning_rate``: a number >= 0, a schedule ``count -> lr`` (a Keras-style
    schedule object is one), or a function of no arguments, called at every step (under
    ``jax.jit``: when the step is traced); returned as a number or a schedule."""

    kind: ClassVar[str] = "number"

    def __call__(self, name: str, value: Any) -> Any:
        if callable(value) and takes_no_arguments(value):
            fn = value

            def schedule(count: Any) -> Any:
                del count
                return fn()

            return schedule
        return Real(0.0, schedule=True)(name, value)

    def bad(self) -> dict[str, Any]:
        return Real(0.0, schedule=True).bad()


@dataclass(frozen=True)
class KerasInteger(Rule):
    """An integer option Keras checks: a non-number is a TypeError, a number that is not
    an integer >= ``minimum`` a ValueError in Keras' words (``message``); a traced integer
    passes. ``zero_ok``: 0 means "off", as ``None`` does (``gradient_accumulation_steps``)."""

    kind: ClassVar[str] = "int"

    minimum: int
    message: str
    zero_ok: bool = False

    def __call__(self, name: str, value: Any) -> Any:
        if value is None or (self.zero_ok and isinstance(value, (int, np.integer)) and value == 0):
            return value
        if is_traced(value):
            traced = typing.cast(Any, value)
            if jnp.ndim(traced) != 0 or not jnp.issubdtype(traced.dtype, jnp.integer):
                raise UnnamedTypeError(f"{name} must be an integer scalar, got {value}.")
            return value
        real()(name, value)
        values = concrete_values(value)
        integral = isinstance(value, (int, np.integer)) or (
            np.ndim(value) == 0 and jnp.issubdtype(jnp.asarray(value).dtype, jnp.integer)
        )
        if values is None or not integral or not self.minimum <= int(values) <= 2**31 - 1:
            raise UnnamedValueError(f"{self.message}. Received: {name}={value}")
        return value

    def bad(self) -> dict[str, Any]:
        return {"float": 2.5, "str": "3", "below": self.minimum - 1, "huge": 2**40}


LEARNING_RATE = KerasLearningRate()
WEIGHT_DECAY = optional(nonnegative(schedule=True))
OPTION_RULES: dict[str, Rule] = dict(
    clipnorm=optional(nonnegative()),
    clipvalue=optional(nonnegative()),
    global_clipnorm=optional(nonnegative()),
    use_ema=flag(),
    ema_momentum=real(),
    ema_overwrite_frequency=unchecked("Keras checks it only with use_ema=True: ema_options"),
    loss_scale_factor=optional(positive()),
    gradient_accumulation_steps=KerasInteger(
        2, "`gradient_accumulation_steps` must be an integer >= 2", zero_ok=True
    ),
    exclude_from_weight_decay=patterns(),
)


def one_clip(arguments: Mapping[str, Any]) -> None:
    """Keras' rule: at most one of ``clipnorm``, ``clipvalue`` and ``global_clipnorm``."""
    clips = ("clipnorm", "clipvalue", "global_clipnorm")
    if sum(arguments[name] is not None for name in clips) > 1:
        raise UnnamedValueError(
            f"Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
            f"Received: clipnorm={arguments['clipnorm']}, clipvalue={arguments['clipvalue']}, "
            f"global_clipnorm={arguments['global_clipnorm']}"
        )


def ema_options(arguments: Mapping[str, Any]) -> None:
    """Keras checks the EMA's two options only when ``use_ema`` is on (unused otherwise)."""
    if not arguments["use_ema"]:
        return
    momentum = concrete_values(arguments["ema_momentum"])
    if momentum is not None and not 0.0 <= float(momentum) <= 1.0:  # NaN fails too
        raise UnnamedValueError(
            f"`ema_momentum` must be in the range [0, 1]. "
            f"Received: ema_momentum={arguments['ema_momentum']}"
        )
    frequency = KerasInteger(1, "`ema_overwrite_frequency` must be an integer >= 1 or None")
    frequency("ema_overwrite_frequency", arguments["ema_overwrite_frequency"])


# ------------------------------------------------------------------------- declaration

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class KerasPreset:
    """What a ``jopt.compat.keras`` optimizer was built from (read by the checkpoint code,
    :mod:`jopt.compat.keras._checkpoint`).

    Args:
      name: the ``keras.optimizers`` class, e.g. ``"AdamW"``.
      arguments: the arguments it was called with, defaults filled in (as given, before
        the rules converted them).
    """

    name: str
    arguments: dict[str, Any]


_PRESETS = Registry[KerasPreset]()
register = _PRESETS.record
"""Records what ``tx`` (a preset's result) was built from; returns ``tx``."""
preset_of = _PRESETS.of
"""What the ``jopt.compat.keras`` preset ``tx`` was built from (None: not a preset)."""


def registered(name: str) -> Callable[[F], F]:
    """Records each result of a checked factory by :func:`register`, under ``name``."""

    def declare(factory: F) -> F:
        signature = inspect.signature(factory)

        @functools.wraps(factory)
        def build(*args: Any, **kwargs: Any) -> Any:
            tx = factory(*args, **kwargs)
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            return register(tx, KerasPreset(name, dict(bound.arguments)))

        return typing.cast(F, build)

    return declare


def keras_preset(*relations: Relation, **rules: Rule) -> Callable[[F], F]:
    """Declares a Keras preset: its own argument rules and relations, plus Keras' base
    options, spelled out in its signature (``**options`` becomes keyword-only parameters
    with Keras' defaults and annotations, so ``inspect.signature`` and
    ``optax.inject_hyperparams`` see them one by one, as in Keras) with their rules.

    With ``gradient_accumulation_steps=n``, a schedule ``count -> lr`` is handed to the
    preset as ``count -> lr(n·count + n − 1)``: the preset counts its updates, and
    Keras evaluates the schedule at the calls made so far (``optimizer._iterations``).
    """

    def declare(preset: F) -> F:
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
        def spelled(*args: Any, **kwargs: Any) -> Any:
            bound = full.bind(*args, **kwargs)
            steps = bound.arguments.get("gradient_accumulation_steps")
            lr = bound.arguments.get("learning_rate")
            if requested(steps) and callable(lr) and not takes_no_arguments(lr):
                bound.arguments["learning_rate"] = _per_call(lr, steps)
            return preset(*bound.args, **bound.kwargs)

        spelled.__signature__ = full  # type: ignore[attr-defined]
        everything = {**rules, **OPTION_RULES}
        factory = checked(one_clip, ema_options, *relations, **everything)(typing.cast(F, spelled))
        return registered(preset.__name__)(factory)

    return declare


def _per_call(schedule: Callable[..., Any], steps: Any) -> Callable[..., Any]:
    def per_update(count: Any) -> Any:
        n = jnp.asarray(steps).astype(count.dtype)
        return schedule(count * n + (n - 1))

    return per_update


def takes_no_arguments(fn: Any) -> bool:
    """A callable that needs no positional argument (Keras' ``learning_rate=lambda: ...``)."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return not any(
        p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        for p in parameters
    )


# ------------------------------------------------------------------------- the assembly


def keras_optimizer(
    step: optax.GradientTransformation | Sequence[optax.GradientTransformation],
    learning_rate: ScalarOrSchedule,
    weight_decay: Any,
    options: Mapping[str, Any],
    *,
    leaf_weight_decay: Callable[[str, Any], Any] | None = None,
) -> optax.GradientTransformationExtraArgs:
    """``step`` (the preset's own update, the learning rate applied) with Keras' base
    options (checked by :func:`keras_preset`) around it, in Keras' order (see the module
    docstring): the decoupled decay θ ← θ − θλα_t is applied to the parameters the step
    reads, and added to the update; it never enters a buffer.

    ``leaf_weight_decay(path, leaf)``, if given, replaces ``weight_decay`` leaf by leaf
    (a number or a schedule, None for no decay; Keras Muon's ``weight_decay`` for its
    matrices, ``adam_weight_decay`` for the leaves it hands to AdamW), with the same
    order (decay first, the step reads the decayed θ); ``exclude_from_weight_decay``
    still applies. The state is the step's (a tuple, then the decay's learning-rate state
    when a decay is asked for), wrapped in a :class:`KerasBaseState` when accumulation or
    the EMA is asked for.
    """
    steps = [step] if isinstance(step, optax.GradientTransformation) else list(step)
    opts = {**OPTION_DEFAULTS, **options}
    compiled: tuple[re.Pattern[str], ...] = opts["exclude_from_weight_decay"] or ()

    def excluded(path: str) -> bool:
        return any(p.search(path) for p in compiled)

    decay_of: Callable[[str, Any], Any] | None = None
    if leaf_weight_decay is not None:
        decay_of = lambda path, leaf: None if excluded(path) else leaf_weight_decay(path, leaf)  # noqa: E731
    elif requested(weight_decay):
        decay_of = lambda path, leaf: None if excluded(path) else weight_decay  # noqa: E731
    clip = _options.clipper(opts["clipnorm"], opts["global_clipnorm"], opts["clipvalue"])
    body = _options.decay_then_step(steps, learning_rate, decay_of, clip)
    accumulate = opts["gradient_accumulation_steps"]
    if requested(accumulate) or opts["use_ema"]:
        body = _options.accumulate_and_average(
            body,
            accumulate if requested(accumulate) else None,
            opts["ema_momentum"] if opts["use_ema"] else None,
            opts["ema_overwrite_frequency"],
            reads_params=decay_of is not None,
        )
    return _options.keras_transformation(body, opts["loss_scale_factor"])


KerasBaseState = _options.KerasBaseState
