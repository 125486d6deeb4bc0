"""The zoom line search (Nocedal & Wright, Algorithms 3.5 and 3.6), as optax's
``scale_by_zoom_linesearch`` runs it: the same iterations, every scalar in one real dtype
(the parameters' widest), so it runs under strict dtype promotion."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jopt._core.checks import (
    checked,
    choice,
    flag,
    integer,
    nonnegative,
    optional,
    positive,
    unit_interval,
)
from jopt._core.dtypes import compute_dtype, real_dtype
from jopt._core.layout import PerParam
from jopt._core.state import moments_like, scalar, zero_count


def scalar_dtype(tree: Any) -> Any:
    """The real dtype of a tree's scalars (values, slopes, step sizes): the widest real
    compute dtype of its leaves."""
    return np.result_type(*(real_dtype(compute_dtype(x)) for x in jax.tree.leaves(tree)))


def wide(x: Any, dt: Any) -> Any:
    """``x``'s compute dtype widened to the real dtype ``dt`` (complex stays complex)."""
    cdt = compute_dtype(x)
    return np.result_type(cdt, dt)


def tree_vdot(a: Any, b: Any, dt: Any) -> jax.Array:
    """Re⟨a, b⟩ = Re Σ conj(a)·b over every leaf, each computed in ``dt`` (the widest
    dtype of the tree), so a narrow leaf's products round nowhere else."""
    parts = [
        jnp.real(jnp.vdot(x.astype(wide(x, dt)), y.astype(wide(x, dt)))).astype(dt)
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    ]
    return sum(parts[1:], parts[0]) if parts else jnp.zeros((), dt)


def _add_scale(params: Any, step: jax.Array, updates: Any) -> Any:
    return jax.tree.map(
        lambda p, u: (p + step.astype(compute_dtype(u)) * u.astype(compute_dtype(u))).astype(
            p.dtype
        ),
        params,
        updates,
    )


def _where(cond: jax.Array, a: Any, b: Any) -> Any:
    return jax.tree.map(lambda x, y: jnp.where(cond, x, y), a, b)


class _Search(NamedTuple):
    """The loop state of one line search (optax's ZoomLinesearchState)."""

    count: jax.Array
    stepsize: jax.Array
    value: jax.Array
    grad: Any
    slope: jax.Array
    decrease_error: jax.Array
    curvature_error: jax.Array
    interval_found: jax.Array
    done: jax.Array
    failed: jax.Array
    low: jax.Array
    value_low: jax.Array
    slope_low: jax.Array
    high: jax.Array
    value_high: jax.Array
    slope_high: jax.Array
    cubic_ref: jax.Array
    value_cubic_ref: jax.Array
    safe_stepsize: jax.Array
    safe_value: jax.Array
    safe_grad: Any


def _cubicmin(a, fa, fpa, b, fb, c, fc):
    """The minimizer of the cubic through (a, fa) with slope fpa at a, (b, fb), (c, fc)."""
    db, dc = b - a, c - a
    denom = (db * dc) ** 2 * (db - dc)
    x1, x2 = fb - fa - fpa * db, fc - fa - fpa * dc
    big_a = (dc**2 * x1 - db**2 * x2) / denom
    big_b = (-(dc**3) * x1 + db**3 * x2) / denom
    radical = big_b * big_b - 3.0 * big_a * fpa
    return a + (-big_b + jnp.sqrt(radical)) / (3.0 * big_a)


def _quadmin(a, fa, fpa, b, fb):
    """The minimizer of the quadratic through (a, fa) with slope fpa at a, and (b, fb)."""
    db = b - a
    big_b = (fb - fa - fpa * db) / db**2
    return a - fpa / (2.0 * big_b)


class ZoomLinesearchInfo(NamedTuple):
    """What the last line search did (optax's ZoomLinesearchInfo).

    Args:
      num_linesearch_steps: the evaluations of the objective it made (int32).
      decrease_error: how far the accepted step is from sufficient decrease (0: met).
      curvature_error: how far it is from the curvature condition (0: met).

    >>> import jax.numpy as jnp, jopt
    >>> jopt.scale_by_zoom_linesearch(10).init(jnp.zeros(2)).info.num_linesearch_steps
    Array(0, dtype=int32)
    """

    num_linesearch_steps: jax.Array
    decrease_error: jax.Array
    curvature_error: jax.Array


class ScaleByZoomLinesearchState(NamedTuple):
    """The zoom line search's state (:func:`jopt.scale_by_zoom_linesearch`), optax's
    fields: ``optax.value_and_grad_from_state`` reads ``value`` and ``grad``.

    Args:
      learning_rate: the last accepted step size.
      value: the objective at the accepted point (inf before the first update).
      grad: its gradient there.
      info: a :class:`jopt.ZoomLinesearchInfo`.

    >>> import jax.numpy as jnp, jopt
    >>> state = jopt.scale_by_zoom_linesearch(10).init(jnp.zeros(2))
    >>> state.learning_rate, state.value
    (Array(1., dtype=float32), Array(inf, dtype=float32))
    """

    learning_rate: jax.Array
    value: jax.Array
    grad: PerParam
    info: ZoomLinesearchInfo


def _value_fn_kwargs(value_fn: Callable[..., Any], extra_args: dict[str, Any]) -> dict[str, Any]:
    names = set(inspect.signature(value_fn).parameters)
    unused = sorted(k for k in extra_args if k not in names)
    if unused:
        raise TypeError(
            "scale_by_zoom_linesearch: update() got keyword arguments that value_fn does "
            f"not take: {unused}."
        )
    return dict(extra_args)


@checked(
    max_linesearch_steps=integer(1),
    max_learning_rate=optional(positive()),
    tol=nonnegative(),
    increase_factor=positive(),
    slope_rtol=unit_interval(),
    curv_rtol=unit_interval(),
    approx_dec_rtol=optional(nonnegative()),
    stepsize_precision=nonnegative(),
    initial_guess_strategy=choice("keep", "one"),
    verbose=flag(),
)
def scale_by_zoom_linesearch(
    max_linesearch_steps: int = 20,
    max_learning_rate: Any | None = None,
    tol: Any = 0.0,
    increase_factor: Any = 2.0,
    slope_rtol: Any = 1e-4,
    curv_rtol: Any = 0.9,
    approx_dec_rtol: Any | None = 1e-6,
    stepsize_precision: Any = 1e-5,
    initial_guess_strategy: str = "keep",
    verbose: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """Scales the update by a step size η meeting the strong Wolfe conditions, found by
    the zoom line search (Nocedal & Wright, "Numerical Optimization", Algorithms 3.5-3.6).

    With f the objective, w the params, u the update (a descent direction), s₀ = ⟨∇f(w),
    u⟩ and s(η) = ⟨∇f(w + ηu), u⟩, a step η is accepted when

    f(w + ηu) ≤ f(w) + c₁ η s₀          (sufficient decrease, c₁ = ``slope_rtol``)
    |s(η)| ≤ c₂ |s₀|                    (curvature, c₂ = ``curv_rtol``),

    or, with ``approx_dec_rtol`` = ε (Hager & Zhang's approximate Wolfe condition), when
    s(η) ≤ (2c₁ − 1) s₀ and f(w + ηu) ≤ f(w) + ε|f(w)|. The search first grows η from
    its initial guess by ``increase_factor`` until it brackets an acceptable step, then
    zooms into the bracket by cubic, quadratic or bisection interpolation. After
    ``max_linesearch_steps`` evaluations it takes the best step that decreased f enough
    (or the last one). optax's algorithm, step for step.

    ``update(updates, state, params, value=f(w), grad=∇f(w), value_fn=f, **kwargs)``,
    optax's convention; ``kwargs`` go to ``value_fn``. ``state.value`` and
    ``state.grad`` hold f and ∇f at the accepted point: ``optax.value_and_grad_from_state``
    reuses them in the next step.

    Args:
      max_linesearch_steps: >= 1, the most evaluations of f per update (optax requires
        it; 20 is the one optax.lbfgs passes).
      max_learning_rate: the largest step size, or None.
      tol: the accepted error of the conditions (>= 0).
      increase_factor: > 0, the growth of η while bracketing.
      slope_rtol: c₁ in [0, 1).
      curv_rtol: c₂ in [0, 1).
      approx_dec_rtol: ε >= 0 for the approximate condition, or None (exact Wolfe).
      stepsize_precision: the bracket width under which the search gives up.
      initial_guess_strategy: ``"keep"`` (start from the last step size) or ``"one"``.
      verbose: print a note when the search fails.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.ScaleByZoomLinesearchState`.

    >>> import jax, jax.numpy as jnp, jopt
    >>> f = lambda w: jnp.sum((w - 1.0) ** 2)
    >>> tx, w = jopt.scale_by_zoom_linesearch(10), jnp.zeros(2)
    >>> v, g = jax.value_and_grad(f)(w)
    >>> u, state = tx.update(-g, tx.init(w), w, value=v, grad=g, value_fn=f)
    >>> u, state.learning_rate  # the exact minimizer along −g: η = 1/2
    (Array([1., 1.], dtype=float32), Array(0.5, dtype=float32))
    """

    def init_fn(params):
        dt = scalar_dtype(params)
        inf = lambda: scalar(params, jnp.inf, dt)  # noqa: E731 (each its own buffer)
        return ScaleByZoomLinesearchState(
            learning_rate=scalar(params, 1.0, dt),
            value=inf(),
            grad=moments_like(params),
            info=ZoomLinesearchInfo(zero_count(params), inf(), inf()),
        )

    def update_fn(updates, state, params=None, *, value=None, grad=None, value_fn=None, **extra):
        if params is None or value is None or grad is None or value_fn is None:
            raise ValueError(
                "scale_by_zoom_linesearch: update() needs params, value=f(params), "
                "grad=∇f(params) and value_fn=f (optax's convention)."
            )
        kwargs = _value_fn_kwargs(value_fn, extra)
        dt = scalar_dtype(params)
        c = functools.partial(jnp.asarray, dtype=dt)
        value_and_grad = jax.value_and_grad(value_fn)
        value0 = c(value)
        slope0 = tree_vdot(updates, grad, dt)
        zero, inf = c(0.0), c(jnp.inf)

        def on_line(stepsize):
            v, g = value_and_grad(_add_scale(params, stepsize, updates), **kwargs)
            g = jax.tree.map(lambda x, p: x.astype(p.dtype), g, params)
            return c(v), g, tree_vdot(g, updates, dt)

        def decrease_error(stepsize, v, s):
            err = v - value0 - c(slope_rtol) * stepsize * slope0
            if approx_dec_rtol is not None:
                approx = s - (2.0 * c(slope_rtol) - 1.0) * slope0
                delta = v - value0 - c(approx_dec_rtol) * jnp.abs(value0)
                err = jnp.minimum(jnp.maximum(approx, delta), err)
            err = jnp.maximum(err, zero)
            return jnp.where(jnp.isnan(err), inf, err)

        def curvature_error(s):
            err = jnp.maximum(jnp.abs(s) - c(curv_rtol) * jnp.abs(slope0), zero)
            return jnp.where(jnp.isnan(err), inf, err)

        def search_interval(st: _Search) -> _Search:
            first = st.count == 0
            new = jnp.where(first, guess, c(increase_factor) * st.stepsize)
            if max_learning_rate is not None:
                at_max = new >= c(max_learning_rate)
                new = jnp.minimum(new, c(max_learning_rate))
            else:
                at_max = jnp.asarray(False)
            v, g, s = on_line(new)
            dec, curv = decrease_error(new, v, s), curvature_error(s)
            error = jnp.maximum(dec, curv)
            safe = dec <= c(tol)
            safe_stepsize, safe_value, safe_grad = _where(
                safe, (new, v, g), (st.safe_stepsize, st.safe_value, st.safe_grad)
            )
            set_high = (dec > zero) | ((v >= st.value) & ~first)
            set_low = (s >= zero) & ~set_high
            low, value_low, slope_low, high, value_high, slope_high = _where(
                set_low,
                (new, v, s, st.stepsize, st.value, st.slope),
                (st.stepsize, st.value, st.slope, new, v, s),
            )
            found = set_high | set_low | (error <= c(tol))
            done = (error <= c(tol)) | (at_max & ~found)
            failed = (st.count + 1 >= max_linesearch_steps) & ~done
            return _Search(
                st.count + 1, new, v, g, s, dec, curv, found, done, failed,
                low, value_low, slope_low, high, value_high, slope_high,
                low, value_low, safe_stepsize, safe_value, safe_grad,
            )  # fmt: skip

        def zoom(st: _Search) -> _Search:
            delta = jnp.abs(st.high - st.low)
            left, right = jnp.minimum(st.high, st.low), jnp.maximum(st.high, st.low)
            cubic = _cubicmin(
                st.low, st.value_low, st.slope_low, st.high, st.value_high,
                st.cubic_ref, st.value_cubic_ref,
            )  # fmt: skip
            use_cubic = (cubic > left + 0.2 * delta) & (cubic < right - 0.2 * delta)
            quad = _quadmin(st.low, st.value_low, st.slope_low, st.high, st.value_high)
            use_quad = ~use_cubic & (quad > left + 0.1 * delta) & (quad < right - 0.1 * delta)
            middle = jnp.where(use_cubic, cubic, st.cubic_ref)
            middle = jnp.where(use_quad, quad, middle)
            middle = jnp.where(~use_cubic & ~use_quad, (st.low + st.high) / 2.0, middle)
            v, g, s = on_line(middle)
            dec, curv = decrease_error(middle, v, s), curvature_error(s)
            error = jnp.maximum(dec, curv)
            better = (dec <= c(tol)) & (v < st.safe_value)
            safe_stepsize, safe_value, safe_grad = _where(
                better, (middle, v, g), (st.safe_stepsize, st.safe_value, st.safe_grad)
            )
            done = error <= c(tol)
            high_to_middle = (dec > zero) | (v >= st.value_low)
            high_to_low = (s * (st.high - st.low) >= zero) & ~high_to_middle
            high = _where(high_to_middle, (middle, v, s), (st.high, st.value_high, st.slope_high))
            high = _where(high_to_low, (st.low, st.value_low, st.slope_low), high)
            low = _where(~high_to_middle, (middle, v, s), (st.low, st.value_low, st.slope_low))
            cubic_ref = _where(
                high_to_middle | high_to_low, (st.high, st.value_high), (st.low, st.value_low)
            )
            too_small = delta <= c(stepsize_precision)
            failed = (
                (st.count + 1 >= max_linesearch_steps) | (too_small & (safe_stepsize > 0))
            ) & (~done)
            (low_, value_low, slope_low), (high_, value_high, slope_high) = low, high
            ref, value_ref = cubic_ref
            return _Search(
                st.count + 1, middle, v, g, s, dec, curv, st.interval_found, done, failed,
                low_, value_low, slope_low, high_, value_high, slope_high, ref, value_ref,
                safe_stepsize, safe_value, safe_grad,
            )  # fmt: skip

        def try_safe_step(st: _Search) -> _Search:
            use_safe = (st.safe_stepsize > 0) | jnp.isinf(st.decrease_error)
            stepsize, v, g = _where(
                use_safe,
                (st.safe_stepsize, st.safe_value, st.safe_grad),
                (st.stepsize, st.value, st.grad),
            )
            if verbose:
                jax.debug.print(
                    "jopt.scale_by_zoom_linesearch: no step met the conditions in "
                    "{n} evaluations; step size {s} taken.",
                    n=st.count,
                    s=stepsize,
                )
            return st._replace(stepsize=stepsize, value=v, grad=g)

        def step(st: _Search) -> _Search:
            st = jax.lax.cond(st.interval_found, zoom, search_interval, st)
            return jax.lax.cond(st.failed, try_safe_step, lambda x: x, st)

        guess = c(1.0) if initial_guess_strategy == "one" else state.learning_rate.astype(dt)
        grad = jax.tree.map(lambda x, p: x.astype(p.dtype), grad, params)
        false = jnp.asarray(False)
        start = _Search(
            jnp.zeros((), jnp.int32), zero, value0, grad, slope0, inf, inf, false, false, false,
            zero, value0, slope0, zero, value0, slope0, zero, value0, zero, value0, grad,
        )  # fmt: skip
        final = jax.lax.while_loop(lambda st: ~(st.done | st.failed), step, start)
        out = jax.tree.map(
            lambda u: (final.stepsize.astype(compute_dtype(u)) * u.astype(compute_dtype(u))).astype(
                u.dtype
            ),
            updates,
        )
        info = ZoomLinesearchInfo(final.count, final.decrease_error, final.curvature_error)
        return out, ScaleByZoomLinesearchState(final.stepsize, final.value, final.grad, info)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
