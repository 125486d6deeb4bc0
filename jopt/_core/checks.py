"""Argument rules, declared once per public factory, and the errors that name the call.

A public factory declares how each of its arguments is checked, in one place::

    @checked(learning_rate=learning_rate(), b1=unit_interval(schedule=True), eps=nonnegative())
    def adam(learning_rate=1e-3, b1=0.9, ...): ...

Calling it binds the arguments as Python does, runs each argument's rule (a rule may
normalize what it accepts, e.g. a NumPy integer to ``int``), then the relations between
arguments, then the body with the checked values. The error text names the call as a user
writes it (``jopt.adam``, ``jopt.compat.torch.Adam``), taken from the function itself: its
module path up to the first private part, then its name.

Hyperparameters may be Python or NumPy numbers, concrete arrays or tracers (``vmap`` over
learning rates, ``optax.inject_hyperparams`` under ``jit``). A concrete value is checked;
a traced one only for its shape and dtype, as in optax. A value of the wrong kind (a string,
a list, a complex or boolean number, an array with more than one element) is a
``TypeError``; a number outside its range (NaN and ±inf included) is a ``ValueError``.
Every message names the call, the argument, the value and what is valid.

Rules and relations know nothing of the call: they raise an :class:`Unnamed` error, and the
factory that declared them names it. Errors found later, in ``init`` or ``update`` (an
integer parameter, a gradient tree of another structure), are raised the same way by shared
helpers, and the outermost public factory's transformation names them. So a user of
``jopt.adam`` reads ``jopt.adam: …`` whichever primitive inside it refused.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import itertools
import math
import numbers
import re
import types
import typing
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import jax
import jax.core
import jax.numpy as jnp
import numpy as np
import optax

F = TypeVar("F", bound=Callable[..., Any])
Relation = Callable[[Mapping[str, Any]], None]
"""A check across arguments: ``relation(arguments)`` raises or returns None."""

# ------------------------------------------------------------------------- the call name

_BUILDING: contextvars.ContextVar[str | None] = contextvars.ContextVar("jopt_call", default=None)


def public_name(fn: Callable[..., Any]) -> str:
    """The name a user calls ``fn`` by: its module path up to the first private part, then
    its name (``jopt._algorithms.adam.adam.adam`` → ``jopt.adam``).

    >>> from jopt._core.checks import public_name
    >>> import jopt
    >>> public_name(jopt.adam), public_name(jopt.compat.torch.Adam)
    ('jopt.adam', 'jopt.compat.torch.Adam')
    """
    parts = fn.__module__.split(".")
    kept = itertools.takewhile(lambda part: not part.startswith("_"), parts)
    qualname = fn.__qualname__
    name = fn.__name__
    if "." in qualname and "<" not in qualname:
        # a method: a special one (OptimizerMap.__init__) is called by its class's name,
        # another (GradScaler.wrap) by both
        owner, method = qualname.rsplit(".", 1)
        name = owner if method.startswith("__") else qualname
    return ".".join([*kept, name])


def building() -> str | None:
    """The public call being built now (the outermost one), or None outside any."""
    return _BUILDING.get()


@contextlib.contextmanager
def _outermost(call: str) -> Generator[bool]:
    if _BUILDING.get() is not None:
        yield False
        return
    token = _BUILDING.set(call)
    try:
        yield True
    finally:
        _BUILDING.reset(token)


class Unnamed(Exception):
    """An error raised by code that does not know the call: a rule or relation (the
    factory that declared it re-raises it), or a helper in ``init``/``update``/a schedule
    (the outermost public factory's result re-raises it). Either re-raises it as a plain
    ``TypeError`` or ``ValueError`` prefixed with its name."""

    def named(self, call: str) -> Exception:
        base = next(c for c in type(self).__mro__ if c in (TypeError, ValueError))
        return base(f"{call}: {self}")


class UnnamedTypeError(Unnamed, TypeError):
    """A ``TypeError`` the outermost public call will name."""


class UnnamedValueError(Unnamed, ValueError):
    """A ``ValueError`` the outermost public call will name."""


def _named_call(call: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Unnamed as error:
            raise error.named(call).with_traceback(error.__traceback__) from None

    return run


def _named(call: str, result: Any) -> Any:
    if isinstance(result, optax.GradientTransformation):
        tx = optax.with_extra_args_support(result)
        return optax.GradientTransformationExtraArgs(
            _named_call(call, tx.init), _named_call(call, tx.update)
        )
    if isinstance(result, types.FunctionType):  # a schedule
        return _named_call(call, result)
    return result


# ------------------------------------------------------------------------------ rules


def is_traced(value: Any) -> bool:
    return isinstance(value, jax.core.Tracer)


def concrete_values(value: Any) -> np.ndarray | None:
    """A real scalar as a float64 NumPy array; None when traced, a schedule or not numeric."""
    if callable(value) or is_traced(value):
        return None
    try:
        values = np.asarray(value)
    except (TypeError, ValueError):
        return None
    if values.dtype.kind not in "biuf" and not jnp.issubdtype(values.dtype, jnp.floating):
        return None
    return values.astype(np.float64)


class Rule:
    """How one argument is checked: ``rule(name, value)`` returns the value to use
    (possibly normalized) or raises ``TypeError``/``ValueError`` naming both.

    ``bad()`` lists values the rule rejects, one per class of mistake, so that each rule is
    tested once (``tests/core/test_checks.py``) and each factory's binding with one of them.
    ``kind`` names what the rule accepts ("number", "int", "flag", ...), the same word for
    every rule that accepts that kind of value (``tests/test_bindings.py`` matches it with
    each argument's annotation).
    """

    kind: ClassVar[str] = ""

    def __call__(self, name: str, value: Any) -> Any:
        raise NotImplementedError

    def bad(self) -> dict[str, Any]:
        return {}


def _invalid(name: str, value: Any, want: str) -> TypeError:
    return UnnamedTypeError(f"{name}={value!r} is invalid; {name} must be {want}.")


def _fmt(lo: float, hi: float, lo_open: bool, hi_open: bool) -> str:
    return f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"


@dataclass(frozen=True)
class Real(Rule):
    """A real scalar in ``[lo, hi]`` (ends open as asked), finite unless ``allow_inf``.

    ``schedule=True`` also accepts a function ``count -> value`` (not checked);
    ``static=True`` refuses a traced value (a number that fixes a shape or a branch);
    ``message`` replaces "``name``=value is invalid" with a ported library's own wording,
    e.g. torch's "Invalid learning rate: value".

    >>> from jopt._core.checks import Real
    >>> Real(0.0, 1.0, hi_open=True)("rho", 1.5)  # the declaring factory names the error
    Traceback (most recent call last):
    ...
    jopt._core.checks.UnnamedValueError: rho=1.5 is invalid; rho must be in [0, 1).
    >>> Real(0.0)("lr", "0.1")
    Traceback (most recent call last):
    ...
    jopt._core.checks.UnnamedTypeError: lr='0.1' is invalid; lr must be a real number.
    """

    kind: ClassVar[str] = "number"

    lo: float = -math.inf
    hi: float = math.inf
    lo_open: bool = False
    hi_open: bool = False
    allow_inf: bool = False
    schedule: bool = False
    static: bool = False
    message: str | None = None

    def __call__(self, name: str, value: Any) -> Any:
        self._kind(name, value)
        values = concrete_values(value)
        if values is None:
            if self.static and is_traced(value):
                raise UnnamedTypeError(
                    f"{name} is traced; {name} must be a concrete number (it fixes "
                    "the shape of the computation, so it cannot be a vmapped or jitted value)."
                )
            return value
        x = float(values)
        infinite_ok = self.allow_inf and math.isinf(x)
        bad = (
            math.isnan(x)
            or (math.isinf(x) and not self.allow_inf)
            or (x <= self.lo if self.lo_open and not infinite_ok else x < self.lo)
            or (x >= self.hi if self.hi_open and not infinite_ok else x > self.hi)
        )
        if bad:
            what = f"{self.message}: {value}" if self.message else f"{name}={value!r} is invalid"
            finite = "a finite number " if not self.allow_inf and not math.isfinite(x) else ""
            lo_open = self.lo_open or self.lo == -math.inf
            hi_open = self.hi_open or self.hi == math.inf
            raise UnnamedValueError(
                f"{what}; {name} must be {finite}in {_fmt(self.lo, self.hi, lo_open, hi_open)}."
            )
        return value

    def _kind(self, name: str, value: Any) -> None:
        want = (
            "a real number or a schedule (a function count -> value)"
            if self.schedule
            else "a real number"
        )
        if callable(value):
            if self.schedule:
                return
            raise _invalid(name, value, want)
        if is_traced(value):
            if jnp.ndim(value) != 0 or not jnp.issubdtype(value.dtype, np.number):
                raise UnnamedTypeError(
                    f"{name} is a traced array of shape {jnp.shape(value)} and dtype "
                    f"{value.dtype}; {name} must be {want} (a scalar)."
                )
            if jnp.issubdtype(value.dtype, jnp.complexfloating):
                raise _invalid(name, value, want)
            return
        if isinstance(value, (bool, np.bool_)) or value is None:
            raise _invalid(name, value, want)
        if isinstance(value, numbers.Number) and not isinstance(value, numbers.Real):
            raise _invalid(name, value, want)  # complex
        if not isinstance(value, (numbers.Real, np.ndarray, jax.Array)):
            raise _invalid(name, value, want)  # str, list, dict, ...
        dtype = np.asarray(value).dtype if not isinstance(value, jax.Array) else value.dtype
        value = typing.cast(Any, value)  # a number or an array, as checked above
        if np.ndim(value) != 0:
            raise UnnamedTypeError(
                f"{name} has shape {np.shape(value)}; {name} must be {want} "
                "(a scalar, not an array)."
            )
        if dtype.kind not in "iuf" and not jnp.issubdtype(dtype, jnp.floating):
            raise _invalid(name, value, want)  # bool, complex or object arrays

    def bad(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "str": "0.1",
            "list": [0.1, 100.0],
            "dict": {"value": 0.1},
            "array": np.ones(2),
            "jax-array": jnp.ones(2),
            "complex": 0.1 + 0j,
            "bool": True,
            "none": None,
            "nan": math.nan,
        }
        if not self.allow_inf:
            out |= {"inf": math.inf, "-inf": -math.inf}
        if not self.schedule:
            out["function"] = lambda count: 0.1
        if math.isfinite(self.lo):
            out["below"] = self.lo if self.lo_open else self.lo - 0.5
        if math.isfinite(self.hi):
            out["above"] = self.hi if self.hi_open else self.hi + 0.5
        return out


def real(schedule: bool = False) -> Real:
    """Any finite real number (or a schedule)."""
    return Real(schedule=schedule)


def nonnegative(*, schedule: bool = False, message: str | None = None) -> Real:
    """A finite number >= 0 (or a schedule ``count -> value``)."""
    return Real(0.0, schedule=schedule, message=message)


def positive(*, schedule: bool = False, message: str | None = None) -> Real:
    """A finite number > 0 (or a schedule)."""
    return Real(0.0, lo_open=True, schedule=schedule, message=message)


def unit_interval(*, schedule: bool = False, message: str | None = None) -> Real:
    """A decay rate β in [0, 1): a moving average that forgets (or a schedule)."""
    return Real(0.0, 1.0, hi_open=True, schedule=schedule, message=message)


def closed_unit_interval(*, schedule: bool = False, message: str | None = None) -> Real:
    """A fraction in [0, 1] (or a schedule)."""
    return Real(0.0, 1.0, schedule=schedule, message=message)


def learning_rate(*, message: str | None = None) -> Real:
    """A learning rate: a finite number >= 0 or a schedule ``count -> value``."""
    return Real(0.0, schedule=True, message=message)


@dataclass(frozen=True)
class Optional(Rule):
    """``None`` (the feature is off) or what ``rule`` accepts."""

    rule: Rule

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self.rule.kind

    def __call__(self, name: str, value: Any) -> Any:
        return None if value is None else self.rule(name, value)

    def bad(self) -> dict[str, Any]:
        return {k: v for k, v in self.rule.bad().items() if v is not None}


def optional(rule: Rule) -> Optional:
    """``None`` or a value ``rule`` accepts."""
    return Optional(rule)


@dataclass(frozen=True)
class Flag(Rule):
    """A switch: ``True`` or ``False`` (``None`` too with ``optional``), not a number."""

    kind: ClassVar[str] = "flag"

    optional: bool = False

    def __call__(self, name: str, value: Any) -> Any:
        if value is None and self.optional:
            return None
        if not isinstance(value, (bool, np.bool_)):
            want = "True or False (or None)" if self.optional else "True or False"
            raise UnnamedTypeError(f"{name}={value!r} is invalid; {name} must be {want}.")
        return bool(value)

    def bad(self) -> dict[str, Any]:
        out: dict[str, Any] = {"int": 1, "str": "yes", "float": 0.0}
        if not self.optional:
            out["none"] = None
        return out


def flag(*, optional: bool = False) -> Flag:
    """``True`` or ``False`` (or ``None`` with ``optional=True``)."""
    return Flag(optional)


@dataclass(frozen=True)
class Integer(Rule):
    """An integer ``minimum <= value <= maximum``: a Python or NumPy integer or a concrete
    integer 0-d array, returned as ``int``. The upper bound keeps int32 step arithmetic
    exact. ``traced=True`` also lets a traced integer scalar through (an integer
    hyperparameter under ``inject_hyperparams``), returned as it is."""

    kind: ClassVar[str] = "int"

    minimum: int
    maximum: int = 2**31 - 1
    traced: bool = False
    why: str = "the step count is int32"

    def __call__(self, name: str, value: Any) -> Any:
        if is_traced(value):
            if not self.traced:
                ok = False
            elif jnp.ndim(value) != 0 or not jnp.issubdtype(value.dtype, jnp.integer):
                raise UnnamedTypeError(f"{name} must be an integer scalar, got {value}.")
            else:
                return value
        elif isinstance(value, (bool, np.bool_)):
            ok = False
        elif isinstance(value, (int, np.integer)):
            ok = True
        else:
            ok = isinstance(value, (np.ndarray, jax.Array)) and (
                np.ndim(value) == 0 and jnp.issubdtype(value.dtype, jnp.integer)
            )
        want = f"an integer >= {self.minimum}"
        if not ok:
            raise UnnamedTypeError(f"{name}={value!r} is invalid; {name} must be {want}.")
        if int(value) < self.minimum:
            raise UnnamedValueError(f"{name}={int(value)!r} is invalid; {name} must be {want}.")
        if int(value) > self.maximum:
            raise UnnamedValueError(
                f"{name}={int(value)!r} is invalid; {name} must be an integer in "
                f"[{self.minimum}, {self.maximum}] ({self.why})."
            )
        return int(value)

    def bad(self) -> dict[str, Any]:
        return {
            "float": 2.5,
            "str": "3",
            "list": [3],
            "bool": True,
            "none": None,
            "below": self.minimum - 1,
            "huge": max(2**40, self.maximum + 1),
        }


def integer(minimum: int, maximum: int = 2**31 - 1, *, traced: bool = False) -> Integer:
    """An integer in ``[minimum, maximum]`` (a traced integer too with ``traced=True``)."""
    return Integer(minimum, maximum, traced)


@dataclass(frozen=True)
class Choice(Rule):
    """A mode given as a string, one of ``options``.

    >>> from jopt._core.checks import Choice
    >>> Choice(("cos", "linear"))("anneal_strategy", "exp")
    Traceback (most recent call last):
    ...
    jopt._core.checks.UnnamedValueError: anneal_strategy='exp' is invalid; ...
    """

    kind: ClassVar[str] = "choice"

    options: tuple[str, ...]

    def __call__(self, name: str, value: Any) -> Any:
        want = ", ".join(repr(c) for c in self.options)
        if not isinstance(value, str):
            raise UnnamedTypeError(f"{name}={value!r} is invalid; {name} must be one of {want}.")
        if value not in self.options:
            raise UnnamedValueError(f"{name}={value!r} is invalid; {name} must be one of {want}.")
        return value

    def bad(self) -> dict[str, Any]:
        return {"int": 1, "none": None, "unknown": "nonsense"}


def choice(*options: str) -> Choice:
    """One of the strings ``options``."""
    return Choice(options)


@dataclass(frozen=True)
class Dtype(Rule):
    """A state dtype: ``None`` (the dtype rule's default) or a floating-point dtype."""

    kind: ClassVar[str] = "dtype"

    def __call__(self, name: str, value: Any) -> Any:
        if value is None:
            return None
        try:
            dtype = jnp.dtype(value)
        except TypeError:
            dtype = None
        if dtype is None or not jnp.issubdtype(dtype, jnp.floating):
            raise UnnamedTypeError(
                f"{name}={value!r} is invalid; {name} must be None or a floating-point "
                "dtype such as jnp.float32 or jnp.bfloat16."
            )
        return dtype

    def bad(self) -> dict[str, Any]:
        return {"unknown": "float17", "int": 3, "integer-dtype": jnp.int32}


def dtype() -> Dtype:
    """``None`` or a floating-point dtype."""
    return Dtype()


@dataclass(frozen=True)
class Transformation(Rule):
    """A gradient transformation: an object with callable ``init`` and ``update``."""

    kind: ClassVar[str] = "transformation"

    example: str = "jopt.adam(1e-3)"

    def __call__(self, name: str, value: Any) -> Any:
        if not (
            callable(getattr(value, "init", None)) and callable(getattr(value, "update", None))
        ):
            raise _invalid(
                name,
                value,
                f"an optax gradient transformation (init, update), e.g. {self.example}",
            )
        return value

    def bad(self) -> dict[str, Any]:
        return {"str": "adam", "factory": optax.sgd, "none": None}


def transformation(example: str = "jopt.adam(1e-3)") -> Transformation:
    """An optax gradient transformation (``init``, ``update``)."""
    return Transformation(example)


@dataclass(frozen=True)
class Function(Rule):
    """A callable, described by ``what`` in the error (e.g. "a function k -> factor")."""

    kind: ClassVar[str] = "function"

    what: str = "a function"

    def __call__(self, name: str, value: Any) -> Any:
        if not callable(value):
            raise UnnamedTypeError(f"{name}={value!r} is invalid; {name} must be {self.what}.")
        return value

    def bad(self) -> dict[str, Any]:
        return {"number": 0.5, "str": "lambda k: k", "none": None}


def function(what: str = "a function") -> Function:
    """A callable."""
    return Function(what)


@dataclass(frozen=True)
class Pair(Rule):
    """Two values, given as a tuple or a list, checked by ``first`` and ``second`` under
    the names ``name[0]`` and ``name[1]``; returned as a tuple. A value that is not a
    pair is a ``TypeError`` (``what`` says what the two are, e.g. "(beta1, beta2)")."""

    kind: ClassVar[str] = "pair"

    first: Rule
    second: Rule
    what: str = "a pair of numbers"

    def __call__(self, name: str, value: Any) -> Any:
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
            raise UnnamedTypeError(f"{name} must be {self.what}, got {value!r}.")
        return (
            self.first(f"{name}[0]", value[0]),
            self.second(f"{name}[1]", value[1]),
        )

    def bad(self) -> dict[str, Any]:
        out: dict[str, Any] = {"str": "0.9", "scalar": 0.9, "one": (0.9,), "none": None}
        out |= {f"first-{k}": (v, 0.999) for k, v in self.first.bad().items()}
        out |= {f"second-{k}": (0.9, v) for k, v in self.second.bad().items()}
        return out


def pair(first: Rule, second: Rule | None = None, *, what: str = "a pair of numbers") -> Pair:
    """A pair checked entry by entry (``second`` defaults to ``first``)."""
    return Pair(first, first if second is None else second, what)


@dataclass(frozen=True)
class Integers(Rule):
    """A sequence of integers >= ``minimum`` (e.g. milestones), strictly increasing when
    ``increasing``; returned as a tuple of ``int``."""

    kind: ClassVar[str] = "ints"

    minimum: int = 0
    increasing: bool = False

    def __call__(self, name: str, value: Any) -> Any:
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence | np.ndarray):
            raise UnnamedValueError(
                f"{name}={value!r} is invalid; {name} must be a sequence of integers "
                f">= {self.minimum}."
            )
        entry = Integer(self.minimum)
        values = tuple(entry(f"{name}[{i}]", v) for i, v in enumerate(value))
        if self.increasing and any(b <= a for a, b in zip(values, values[1:], strict=False)):
            raise UnnamedValueError(
                f"{name}={list(values)!r} is invalid; {name} must be strictly increasing."
            )
        return values

    def bad(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "str": "24",
            "float-entry": [2.5],
            "str-entry": ["2"],
            "bool-entry": [True],
            "none": None,
        }
        if self.increasing:
            out["not-increasing"] = [4, 2]
        return out


def integers(minimum: int = 0, *, increasing: bool = False) -> Integers:
    """A sequence of integers >= ``minimum`` (strictly increasing with ``increasing``)."""
    return Integers(minimum, increasing)


@dataclass(frozen=True)
class Patterns(Rule):
    """Regular expressions over parameter paths: a string or a sequence of strings,
    returned compiled (a tuple); ``None`` is no pattern."""

    kind: ClassVar[str] = "patterns"

    def __call__(self, name: str, value: Any) -> Any:
        if value is None:
            return ()
        names = [value] if isinstance(value, str) else value
        if isinstance(names, re.Pattern):
            names = [names]
        if not isinstance(names, Sequence) or not all(
            isinstance(n, (str, re.Pattern)) for n in names
        ):
            raise UnnamedTypeError(
                f"{name}={value!r} is invalid; {name} must be a string or a sequence "
                "of strings (patterns searched in each parameter's path, e.g. ['bias', 'norm'])."
            )
        try:
            return tuple(re.compile(n) for n in names)
        except re.error as error:
            raise UnnamedValueError(
                f"{name}={value!r} is invalid; {error} (the strings are regular "
                "expressions, searched in each parameter's path)."
            ) from None

    def bad(self) -> dict[str, Any]:
        return {"int": 3, "int-entry": ["bias", 3], "bad-regex": "bias("}


def patterns() -> Patterns:
    """Regular expressions over parameter paths (a string, a sequence of strings, None)."""
    return Patterns()


@dataclass(frozen=True)
class Unchecked(Rule):
    """An argument no rule of this module covers, with the reason (what checks it, and
    where that is tested). It passes the value as it is."""

    kind: ClassVar[str] = "unchecked"

    reason: str

    def __call__(self, name: str, value: Any) -> Any:
        return value


@dataclass(frozen=True)
class Text(Rule):
    """A string (a name, a label)."""

    kind: ClassVar[str] = "text"

    def __call__(self, name: str, value: Any) -> Any:
        if not isinstance(value, str):
            raise UnnamedTypeError(f"{name}={value!r} is invalid; {name} must be a string.")
        return value

    def bad(self) -> dict[str, Any]:
        return {"int": 3, "none": None}


def text() -> Text:
    """A string."""
    return Text()


def unchecked(reason: str) -> Unchecked:
    """Declares an argument deliberately unchecked here, with the reason."""
    return Unchecked(reason)


# -------------------------------------------------------------------------- declaration


@dataclass(frozen=True)
class Declaration:
    """What :func:`checked` attached to a factory: its public name, its rules by argument
    and its relations between arguments."""

    call: str
    rules: Mapping[str, Rule]
    relations: tuple[Relation, ...] = field(default=())


def checked(*relations: Relation, **rules: Rule) -> Callable[[F], F]:
    """Declares a public factory's argument rules (keyword arguments, by parameter name)
    and relations between arguments (positional, each ``relation(arguments)``).

    Every parameter of the factory must have a rule (``unchecked(reason)`` for one that
    is deliberately not checked here), except ``*args``/``**kwargs`` collectors; a rule
    given for ``*args`` checks each of them (``name[i]``). Errors
    name the factory by :func:`public_name`. The result is returned as it is, except
    that the outermost public factory's transformation (or schedule) re-raises the
    :class:`Unnamed` errors of ``init``/``update`` with its name.

    >>> from jopt._core.checks import checked, unit_interval
    >>> @checked(beta=unit_interval())
    ... def decay(beta=0.9):
    ...     return beta
    >>> decay(1.0)
    Traceback (most recent call last):
    ...
    ValueError: jopt.decay: beta=1.0 is invalid; beta must be in [0, 1).
    """

    def declare(fn: F) -> F:
        signature = inspect.signature(fn)
        params = signature.parameters
        names = {
            n
            for n, p in params.items()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and n != "self"
        }
        unknown = set(rules) - set(params)
        missing = names - set(rules)
        if unknown or missing:
            raise TypeError(
                f"checked({fn.__qualname__}): rules for unknown arguments {sorted(unknown)}, "
                f"no rule for {sorted(missing)} (use unchecked(reason) to say why)."
            )
        call = public_name(fn)

        def check(arguments: dict[str, Any]) -> None:
            for name, rule in rules.items():
                if params[name].kind == inspect.Parameter.VAR_POSITIONAL:
                    values = arguments[name]
                    arguments[name] = tuple(rule(f"{name}[{i}]", v) for i, v in enumerate(values))
                else:
                    arguments[name] = rule(name, arguments[name])
            for relation in relations:
                relation(arguments)

        @functools.wraps(fn)
        def factory(*args: Any, **kwargs: Any) -> Any:
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError as error:
                raise TypeError(f"{call}: {error}") from None
            bound.apply_defaults()
            try:  # the rules and relations raise Unnamed errors: this factory names them
                check(bound.arguments)
            except Unnamed as error:
                raise error.named(call).with_traceback(error.__traceback__) from None
            with _outermost(call) as outermost:
                try:
                    result = fn(*bound.args, **bound.kwargs)
                except Unnamed as error:
                    if not outermost:
                        raise
                    raise error.named(call).with_traceback(error.__traceback__) from None
            return _named(call, result) if outermost else result

        factory.__jopt_declaration__ = Declaration(call, dict(rules), relations)  # type: ignore[attr-defined]
        return typing.cast(F, factory)

    return declare


def declaration(fn: Any) -> Declaration | None:
    """The :class:`Declaration` of a public factory (None for an undeclared callable)."""
    return getattr(fn, "__jopt_declaration__", None)


def check_later(rule: Rule, name: str, value: Any) -> Any:
    """``rule`` applied in ``init``/``update`` (a value that was traced when the factory
    checked it): its :class:`Unnamed` error is named by the public factory's
    transformation, as every rule's error is named by the factory."""
    return rule(name, value)
