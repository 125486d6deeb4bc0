"""Rprop: per-coordinate step sizes that grow while the gradient keeps its sign."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax.numpy as jnp
import optax

from jopt._base import (
    Scalar,
    cast,
    chain,
    check_real_params,
    check_tree,
    compute_dtype,
    map_leaves,
    moments_like,
)
from jopt._validation import check_range, concrete_values


class ScaleByRpropState(NamedTuple):
    """``step_size``: Δ per coordinate (Δ_0 = the initial step size); ``prev``: the
    gradient the last step used (zero where it changed sign)."""

    step_size: Any
    prev: Any


def check_rprop(
    call: str,
    learning_rate,
    eta_minus,
    eta_plus,
    min_step_size,
    max_step_size,
    *,
    lr_name: str = "learning_rate",
    eta_names: tuple[str, str] = ("eta_minus", "eta_plus"),
    step_names: tuple[str, str] = ("min_step_size", "max_step_size"),
) -> None:
    """0 < η− < 1 < η+, 0 <= Δmin <= Δmax, Δ_0 >= 0 (all numbers, never schedules)."""
    if callable(learning_rate):
        raise TypeError(
            f"{call}: {lr_name} is Rprop's initial step size Δ_0, read once when the state "
            "is created, so a schedule would have no effect (an LR scheduler does nothing "
            f"to PyTorch's Rprop either); pass a number."
        )
    check_range(call, lr_name, learning_rate, 0.0)
    check_range(call, eta_names[0], eta_minus, 0.0, 1.0, lo_open=True, hi_open=True)
    check_range(call, eta_names[1], eta_plus, 1.0, lo_open=True)
    check_range(call, step_names[0], min_step_size, 0.0)
    check_range(call, step_names[1], max_step_size, 0.0, allow_inf=True)
    lo, hi = concrete_values(min_step_size), concrete_values(max_step_size)
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(
            f"{call}: {step_names[0]}={min_step_size!r} is larger than "
            f"{step_names[1]}={max_step_size!r}; the step sizes are clipped to "
            f"[{step_names[0]}, {step_names[1]}]."
        )


def _scale_by_rprop(
    call: str,
    learning_rate: Scalar,
    eta_minus: Scalar,
    eta_plus: Scalar,
    min_step_size: Scalar,
    max_step_size: Scalar,
) -> optax.GradientTransformationExtraArgs:
    def init_fn(params):
        check_real_params(
            call,
            params,
            "Rprop compares gradient signs, which complex numbers do not have. Use "
            "jopt.compat.torch.Rprop (it steps the real and imaginary parts separately, as "
            "PyTorch does).",
        )
        return ScaleByRpropState(
            step_size=moments_like(call, params, fill=learning_rate),
            prev=moments_like(call, params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        check_tree(call, updates, state.step_size)

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

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_rprop(0.1)
    >>> state = tx.init(jnp.zeros(2))
    >>> u1, state = tx.update(jnp.array([3.0, -1.0]), state)  # Δ_0·sign(g)
    >>> u2, state = tx.update(jnp.array([2.0, 1.0]), state)  # kept sign: ×1.2; flipped: 0
    >>> u1, u2
    (Array([ 0.1, -0.1], dtype=float32), Array([0.12, 0.  ], dtype=float32))
    """
    call = "jopt.scale_by_rprop"
    check_rprop(call, learning_rate, eta_minus, eta_plus, min_step_size, max_step_size)
    return _scale_by_rprop(call, learning_rate, eta_minus, eta_plus, min_step_size, max_step_size)


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

    ``learning_rate`` is the initial step size Δ_0 (a number: Rprop reads it once). The
    defaults are the paper's: Δ_0 = 0.1, η− = 0.5, η+ = 1.2, Δmax = 50, and Δmin = 1e-6.
    Full-batch gradients: Rprop's sign test assumes a deterministic gradient.
    :func:`jopt.compat.torch.Rprop` is the same step with PyTorch's defaults (Δ_0 = 0.01).

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
    call = "jopt.rprop"
    check_rprop(call, learning_rate, eta_minus, eta_plus, min_step_size, max_step_size)
    return chain(
        _scale_by_rprop(call, learning_rate, eta_minus, eta_plus, min_step_size, max_step_size),
        optax.scale(-1.0),
    )
