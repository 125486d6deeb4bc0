"""Rprop: per-coordinate step sizes that grow while the gradient keeps its sign."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import jax.numpy as jnp
import optax

from jopt._core.chain import chain
from jopt._core.checks import (
    Real,
    Rule,
    UnnamedTypeError,
    UnnamedValueError,
    checked,
    concrete_values,
    nonnegative,
)
from jopt._core.dtypes import cast, compute_dtype
from jopt._core.hyperparams import Scalar
from jopt._core.layout import PerParam
from jopt._core.state import check_real_params, check_tree, moments_like
from jopt.sharding._leafwise import map_leaves


class ScaleByRpropState(NamedTuple):
    """Rprop's per-coordinate steps (:func:`jopt.scale_by_rprop`).

    Args:
      step_size: Δ per coordinate (Δ_0 = the initial step size).
      prev: the gradient the last step used (zero where it changed sign).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_rprop(0.1)
    >>> _, state = tx.update(jnp.array([1.0, -2.0]), tx.init(jnp.zeros(2)))
    >>> state.step_size, state.prev  # the first step keeps Δ_0
    (Array([0.1, 0.1], dtype=float32), Array([ 1., -2.], dtype=float32))
    """

    step_size: PerParam
    prev: PerParam


@dataclass(frozen=True)
class InitialStepSize(Rule):
    """Rprop's Δ_0 >= 0: a number, never a schedule (it is read once, to fill the state).

    ``message`` is a ported library's wording for a negative value, as :class:`Real`'s.

    >>> import jopt
    >>> jopt.rprop(lambda count: 0.1)
    Traceback (most recent call last):
    ...
    TypeError: jopt.rprop: learning_rate is Rprop's initial step size Δ_0, read once ...
    """

    kind: ClassVar[str] = "number"

    message: str | None = None

    def __call__(self, name: str, value: Any) -> Any:
        if callable(value):
            raise UnnamedTypeError(
                f"{name} is Rprop's initial step size Δ_0, read once when the state "
                "is created, so a schedule would have no effect (an LR scheduler does nothing "
                "to PyTorch's Rprop either); pass a number."
            )
        return Real(0.0, message=self.message)(name, value)

    def bad(self) -> dict[str, Any]:
        return Real(0.0, message=self.message).bad() | {"schedule": lambda count: 0.1}


def initial_step_size(*, message: str | None = None) -> InitialStepSize:
    """Rprop's initial step size Δ_0: a finite number >= 0, not a schedule."""
    return InitialStepSize(message)


# η− in (0, 1), η+ in (1, ∞), Δmin >= 0, Δmax >= 0 (∞ allowed: no upper clip).
ETA_MINUS = Real(0.0, 1.0, lo_open=True, hi_open=True)
ETA_PLUS = Real(1.0, lo_open=True)
MIN_STEP_SIZE = nonnegative()
MAX_STEP_SIZE = Real(0.0, allow_inf=True)


def check_step_sizes(names: tuple[str, str], low: Any, high: Any) -> None:
    """Raises ValueError when the clip range [Δmin, Δmax] is empty (concrete values only;
    ``names`` are the two arguments' names as the caller wrote them).

    >>> import jopt
    >>> jopt.rprop(min_step_size=2.0, max_step_size=1.0)
    Traceback (most recent call last):
    ...
    ValueError: jopt.rprop: min_step_size=2.0 is larger than max_step_size=1.0; ...
    """
    lo, hi = concrete_values(low), concrete_values(high)
    if lo is not None and hi is not None and lo > hi:
        raise UnnamedValueError(
            f"{names[0]}={low!r} is larger than {names[1]}={high!r}; the step sizes "
            f"are clipped to [{names[0]}, {names[1]}]."
        )


def step_sizes_in_order(arguments: Mapping[str, Any]) -> None:
    """A relation of ``@checked``: ``min_step_size <= max_step_size``."""
    names = ("min_step_size", "max_step_size")
    check_step_sizes(names, arguments[names[0]], arguments[names[1]])


RULES = dict(
    learning_rate=initial_step_size(),
    eta_minus=ETA_MINUS,
    eta_plus=ETA_PLUS,
    min_step_size=MIN_STEP_SIZE,
    max_step_size=MAX_STEP_SIZE,
)


@checked(step_sizes_in_order, **RULES)
def scale_by_rprop(
    learning_rate: Scalar,
    eta_minus: Scalar = 0.5,
    eta_plus: Scalar = 1.2,
    min_step_size: Scalar = 1e-6,
    max_step_size: Scalar = 50.0,
) -> optax.GradientTransformationExtraArgs:
    """Rprop's step Δ_t·sign(g_t), Δ adapted per coordinate (see :func:`jopt.rprop`).

    ``learning_rate`` is the initial step size Δ_0, as in ``optax.scale_by_rprop``
    (same signature): Rprop steps by Δ, not by a multiple of the gradient, so there is no
    separate learning rate to apply after it. The output is +Δ_t·sign(g_t) (chain
    ``optax.scale(-1.0)`` to descend, as :func:`jopt.rprop` does). Real parameters only.

    Args:
      learning_rate: Δ_0 >= 0, a number (read once, by ``init``).
      eta_minus: η− in (0, 1), the factor of Δ after a sign change.
      eta_plus: η+ > 1, the factor of Δ while the sign is kept.
      min_step_size: Δmin >= 0.
      max_step_size: Δmax >= Δmin (``inf``: no upper clip).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.ScaleByRpropState`.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_rprop(0.1)
    >>> state = tx.init(jnp.zeros(2))
    >>> u1, state = tx.update(jnp.array([3.0, -1.0]), state)  # Δ_0·sign(g)
    >>> u2, state = tx.update(jnp.array([2.0, 1.0]), state)  # kept sign: ×1.2; flipped: 0
    >>> u1, u2
    (Array([ 0.1, -0.1], dtype=float32), Array([0.12, 0.  ], dtype=float32))
    """

    def init_fn(params):
        check_real_params(
            params,
            "Rprop compares gradient signs, which complex numbers do not have. Use the "
            "preset jopt.compat.torch.Rprop (it steps the real and imaginary parts "
            "separately, as PyTorch does).",
        )
        return ScaleByRpropState(
            step_size=moments_like(params, fill=learning_rate), prev=moments_like(params)
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        check_tree(updates, state.step_size)

        def step(g, size, prev):
            dt = compute_dtype(g)
            gw = g.astype(dt)
            # PyTorch's arithmetic: the sign of g·prev picks the factor, the step size is
            # clipped whatever the factor, and a sign change skips the coordinate.
            s = jnp.sign(gw * prev.astype(dt))
            eta_m = cast(eta_minus, dt)
            factor = jnp.where(s > 0, cast(eta_plus, dt), jnp.where(s < 0, eta_m, 1.0))
            size_new = jnp.maximum(size.astype(dt) * factor, cast(min_step_size, dt))
            size_new = jnp.minimum(size_new, cast(max_step_size, dt))
            g_used = jnp.where(factor == eta_m, jnp.zeros((), dt), gw)
            out = size_new * jnp.sign(g_used)
            return out.astype(g.dtype), size_new.astype(size.dtype), g_used.astype(prev.dtype)

        out, size, prev = map_leaves(step, 3, updates, state.step_size, state.prev)
        return out, ScaleByRpropState(size, prev)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(step_sizes_in_order, **RULES)
def rprop(
    learning_rate: Scalar = 0.1,
    eta_minus: Scalar = 0.5,
    eta_plus: Scalar = 1.2,
    min_step_size: Scalar = 1e-6,
    max_step_size: Scalar = 50.0,
) -> optax.GradientTransformationExtraArgs:
    """Rprop (Riedmiller & Braun 1993), PyTorch's variant (Rprop without backtracking).

    s = sign(g_t · g_{t−1}),
    Δ_t = clip(η+ Δ_{t−1}, Δmin, Δmax) if s > 0;  clip(η− Δ_{t−1}, Δmin, Δmax) and g_t ← 0 if s < 0;
    Δ_t = clip(Δ_{t−1}, Δmin, Δmax) if s = 0;
    θ ← θ − Δ_t·sign(g_t),  g_{t−1} ← g_t (the zeroed g after a sign change).

    ``chain(scale_by_rprop(...), optax.scale(-1.0))``. ``learning_rate`` is the initial
    step size Δ_0 (a number: Rprop reads it once). The defaults are the paper's: Δ_0 = 0.1,
    η− = 0.5, η+ = 1.2, Δmax = 50, and Δmin = 1e-6. Full-batch gradients: Rprop's sign
    test assumes a deterministic gradient. :func:`jopt.compat.torch.Rprop` is the same
    step with PyTorch's defaults (Δ_0 = 0.01).

    Args:
      learning_rate: Δ_0 >= 0, a number (read once, by ``init``).
      eta_minus: η− in (0, 1).
      eta_plus: η+ > 1.
      min_step_size: Δmin >= 0.
      max_step_size: Δmax >= Δmin (``inf``: no upper clip).

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp, optax, jopt
    >>> tx = jopt.rprop()
    >>> params = jnp.array([1.0])
    >>> state = tx.init(params)
    >>> for _ in range(3):  # the gradient of θ² keeps its sign: steps 0.1, 0.12, 0.144
    ...     updates, state = tx.update(2 * params, state)
    ...     params = optax.apply_updates(params, updates)
    >>> params
    Array([0.636], dtype=float32)
    """
    return chain(
        scale_by_rprop(learning_rate, eta_minus, eta_plus, min_step_size, max_step_size),
        optax.scale(-1.0),
    )
