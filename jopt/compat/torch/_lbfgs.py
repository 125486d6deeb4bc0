"""``torch.optim.LBFGS``: PyTorch's L-BFGS step, its strong-Wolfe line search included.

One ``update`` is one ``LBFGS.step(closure)``: up to ``max_iter`` iterations, each taking
a step along the L-BFGS direction and evaluating the loss again, all inside a jittable
``lax.while_loop``. The loss is ``value_fn`` (optax's convention, as ``optax.lbfgs``). The
parameters are flattened into one vector, as PyTorch does; the state keeps PyTorch's
``d``, ``t``, ``old_dirs``, ``old_stps``, ``ro``, ``H_diag``, ``prev_flat_grad``,
``prev_loss``, ``n_iter`` and ``func_evals``, the history in fixed ``(history_size, n)``
arrays used as a ring.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jopt._core.checks import (
    UnnamedValueError,
    checked,
    choice,
    flag,
    integer,
    nonnegative,
    optional,
)
from jopt._core.dtypes import cast, compute_dtype
from jopt._core.hyperparams import Scalar, ScalarOrSchedule
from jopt._core.learning_rate import LearningRateState, init_learning_rate, next_learning_rate
from jopt._core.state import check_params, check_real_params, check_tree, scalar, zero_count
from jopt.compat.torch._common import LR
from jopt.compat.torch._groups import torch_registered


class LbfgsState(NamedTuple):
    """PyTorch's LBFGS state, flat vectors in float32 (float64 for float64 params).

    The history (y, s, 1/yᵀs) is a ring of ``history_size`` rows of which
    ``history_len`` are in use, the oldest at ``history_start``.

    Args:
      n_iter: iterations over all steps (int32).
      d: the last direction.
      t: the last step length.
      old_dirs: the history's y (rows).
      old_stps: the history's s (rows).
      ro: the history's 1/yᵀs.
      history_start: the row of the oldest pair (int32).
      history_len: the rows in use (int32).
      h_diag: the initial inverse-Hessian scale yᵀs/yᵀy.
      prev_flat_grad: the gradient at the start of the last iteration.
      func_evals: the loss evaluations over all steps (int32), PyTorch's ``func_evals``.
      prev_loss: the loss at the start of the last iteration (PyTorch's ``prev_loss``;
        negated under ``maximize``, the loss minimized).
      rate: the learning rate (read it with :func:`jopt.get_learning_rate`).

    >>> import jax.numpy as jnp
    >>> import jopt.compat.torch as jt
    >>> state = jt.LBFGS(history_size=3).init(jnp.zeros(2))
    >>> state.old_dirs.shape, state.history_len
    ((3, 2), Array(0, dtype=int32))
    """

    n_iter: jax.Array
    d: jax.Array
    t: jax.Array
    old_dirs: jax.Array
    old_stps: jax.Array
    ro: jax.Array
    history_start: jax.Array
    history_len: jax.Array
    h_diag: jax.Array
    prev_flat_grad: jax.Array
    func_evals: jax.Array
    prev_loss: jax.Array
    rate: LearningRateState


# --------------------------------------------------------------------- flat parameters


def _flat_dtype(tree: Any) -> jnp.dtype:
    dtypes = {compute_dtype(leaf) for leaf in jax.tree.leaves(tree)}
    return max(dtypes, key=lambda d: jnp.dtype(d).itemsize, default=jnp.dtype(jnp.float32))


def _flatten(tree: Any, dtype: Any) -> jax.Array:
    leaves = [jnp.ravel(jnp.asarray(leaf).astype(dtype)) for leaf in jax.tree.leaves(tree)]
    return jnp.concatenate(leaves) if leaves else jnp.zeros([0], dtype)


def _unflatten(flat: jax.Array, like: Any) -> Any:
    leaves, treedef = jax.tree.flatten(like)
    sizes = [int(np.prod(jnp.shape(leaf))) for leaf in leaves]
    parts = jnp.split(flat, np.cumsum(sizes)[:-1]) if leaves else []
    out = [
        p.reshape(jnp.shape(leaf)).astype(jnp.asarray(leaf).dtype)
        for p, leaf in zip(parts, leaves, strict=True)
    ]
    return jax.tree.unflatten(treedef, out)


# -------------------------------------------------------------- PyTorch's line search


def cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """``torch.optim.lbfgs._cubic_interpolate``: the minimizer of the cubic through two
    points with their slopes, clipped to ``bounds`` (default: the two points)."""
    if bounds is not None:
        lo, hi = bounds
    else:
        lo, hi = jnp.minimum(x1, x2), jnp.maximum(x1, x2)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    d2 = jnp.sqrt(jnp.maximum(d2_square, 0.0))
    min_pos = jnp.where(
        x1 <= x2,
        x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2)),
        x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2)),
    )
    return jnp.where(d2_square >= 0, jnp.minimum(jnp.maximum(min_pos, lo), hi), (lo + hi) / 2.0)


def strong_wolfe(obj, x, t, d, f, g, gtd, max_ls, c1=1e-4, c2=0.9, tolerance_change=1e-9):
    """``torch.optim.lbfgs._strong_wolfe``, its bracket and zoom loops as one
    ``lax.while_loop`` with one evaluation per iteration.

    ``obj(x, t, d) -> (f, g)`` evaluates the loss and its flat gradient at x + t·d.
    Returns (f, g, t) at the point found, and the number of evaluations.
    Phases: 0 brackets (PyTorch's first loop), 1 zooms (its second loop), 2 has ended.
    """
    dt = x.dtype
    c1, c2, tol = cast(c1, dt), cast(c2, dt), cast(tolerance_change, dt)
    d_norm = jnp.max(jnp.abs(d))
    zero_i, false = jnp.zeros([], jnp.int32), jnp.asarray(False)

    def pair(a, b):
        return jnp.stack([a, b])

    def sufficient_decrease_fails(t, f_new):
        return f_new > f + c1 * t * gtd

    def curvature_holds(gtd_new):
        return jnp.abs(gtd_new) <= -c2 * gtd

    def body(c):
        phase, ls_iter, evals, t, t_prev, f_prev, g_prev, gtd_prev = c[:8]
        b_t, b_f, b_g, b_gtd, low, insuf = c[8:14]
        f_new, g_new = obj(x, t, d)
        gtd_new = jnp.dot(g_new, d)
        ls_iter = ls_iter + (evals > 0).astype(jnp.int32)  # every evaluation but the first
        evals = evals + 1
        bracketing = phase == 0

        # phase 0: judge the point; a bracket [t_prev, t], a point [t], or [0, t] when out
        # of evaluations
        out = ls_iter >= max_ls
        high_f = sufficient_decrease_fails(t, f_new) | ((ls_iter > 1) & (f_new >= f_prev))
        found = ~out & ~high_f & curvature_holds(gtd_new)
        broke = ~out & (high_f | found | (gtd_new >= 0))

        def bracket(at_zero, at_prev, at_new):
            return jnp.where(
                out,
                pair(at_zero, at_new),
                jnp.where(found, pair(at_new, at_new), pair(at_prev, at_new)),
            )

        bracket_phase = (
            bracket(jnp.zeros([], dt), t_prev, t),
            bracket(f, f_prev, f_new),
            bracket(g, g_prev, g_new),
            bracket(gtd, gtd_prev, gtd_new),
        )

        # phase 1: the point replaces the bracket's high end (no decrease), or its low end
        # (decrease), the old low moving to the high end when the slope points past it
        high = 1 - low
        worse = sufficient_decrease_fails(t, f_new) | (f_new >= b_f[low])
        wolfe = ~worse & curvature_holds(gtd_new)
        swap = ~worse & ~wolfe & (gtd_new * (b_t[high] - b_t[low]) >= 0)

        def put(arr, value):
            at_high = jnp.where(worse, value, jnp.where(swap, arr[low], arr[high]))
            at_low = jnp.where(worse, arr[low], value)
            return arr.at[high].set(at_high).at[low].set(at_low)

        zoom_phase = tuple(map(put, (b_t, b_f, b_g, b_gtd), (t, f_new, g_new, gtd_new)))

        b_t, b_f, b_g, b_gtd = (
            jnp.where(bracketing, a, b) for a, b in zip(bracket_phase, zoom_phase, strict=True)
        )
        reorder = bracketing | worse
        low = jnp.where(reorder, (b_f[0] > b_f[1]).astype(jnp.int32), low)
        done = jnp.where(bracketing, found, wolfe)
        still_bracketing = bracketing & ~out & ~broke
        small = jnp.abs(b_t[1] - b_t[0]) * d_norm < tol
        zoom_more = ~still_bracketing & ~done & (ls_iter < max_ls) & ~small

        # the next point: cubic interpolation between the last two points (phase 0, within
        # [t + 0.01(t − t_prev), 10t]) or the bracket's ends (phase 1)
        b_min, b_max = jnp.min(b_t), jnp.max(b_t)
        args = jnp.where(
            still_bracketing,
            jnp.stack([t_prev, f_prev, gtd_prev, t, f_new, gtd_new]),
            jnp.stack([b_t[0], b_f[0], b_gtd[0], b_t[1], b_f[1], b_gtd[1]]),
        )
        lo = jnp.where(still_bracketing, t + 0.01 * (t - t_prev), b_min)
        hi = jnp.where(still_bracketing, t * 10, b_max)
        t_next = cubic_interpolate(*args, bounds=(lo, hi))
        # zoom: a point within 10% of the bracket's length from an end moves there after
        # insufficient progress (or when it is at or past an end)
        eps = 0.1 * (b_max - b_min)
        near = jnp.minimum(b_max - t_next, t_next - b_min) < eps
        edge = insuf | (t_next >= b_max) | (t_next <= b_min)
        moved = jnp.where(
            jnp.abs(t_next - b_max) < jnp.abs(t_next - b_min), b_max - eps, b_min + eps
        )
        t_zoom = jnp.where(near & edge, moved, t_next)

        return (
            jnp.where(still_bracketing, zero_i, jnp.where(zoom_more, 1, 2).astype(jnp.int32)),
            ls_iter,
            evals,
            jnp.where(still_bracketing, t_next, t_zoom),
            jnp.where(still_bracketing, t, t_prev),
            jnp.where(still_bracketing, f_new, f_prev),
            jnp.where(still_bracketing, g_new, g_prev),
            jnp.where(still_bracketing, gtd_new, gtd_prev),
            b_t,
            b_f,
            b_g,
            b_gtd,
            low,
            jnp.where(zoom_more, near & ~edge, insuf),
        )

    init = (zero_i, zero_i, zero_i, t, jnp.zeros([], dt), f, g, gtd)
    init += (pair(t, t), pair(f, f), pair(g, g), pair(gtd, gtd), zero_i, false)
    c = jax.lax.while_loop(lambda c: c[0] != 2, body, init)
    evals, b_t, b_f, b_g, low = c[2], c[8], c[9], c[10], c[12]
    return b_f[low], b_g[low], b_t[low], evals


# ------------------------------------------------------------------------- the step


def _two_loop(g, old_dirs, old_stps, ro, start, length, h_diag):
    """The L-BFGS two-loop recursion: −H g from the history (oldest first at ``start``)."""
    m = ro.shape[0]

    def back(k, c):
        q, al = c
        i = length - 1 - k
        j = (start + i) % m
        a = jnp.dot(old_stps[j], q) * ro[j]
        return q + (-a) * old_dirs[j], al.at[i].set(a)

    q, al = jax.lax.fori_loop(0, length, back, (-g, jnp.zeros_like(ro)))

    def forward(i, r):
        j = (start + i) % m
        be = jnp.dot(old_dirs[j], r) * ro[j]
        return r + (al[i] - be) * old_stps[j]

    return jax.lax.fori_loop(0, length, forward, q * h_diag)


def _lbfgs(
    lr: ScalarOrSchedule,
    max_iter: int,
    max_eval: int,
    tolerance_grad: Scalar,
    tolerance_change: Scalar,
    history_size: int,
    line_search: bool,
    maximize: bool,
) -> optax.GradientTransformationExtraArgs:
    sign = -1.0 if maximize else 1.0

    def init_fn(params):
        check_params(params)
        check_real_params(params, "LBFGS needs real ones (the parameters become one vector).")
        dt = _flat_dtype(params)
        n = sum(int(np.prod(jnp.shape(leaf))) for leaf in jax.tree.leaves(params))
        return LbfgsState(
            n_iter=zero_count(params),
            d=jnp.zeros([n], dt),
            t=scalar(params, 0.0, dt),
            old_dirs=jnp.zeros([history_size, n], dt),
            old_stps=jnp.zeros([history_size, n], dt),
            ro=jnp.zeros([history_size], dt),
            history_start=zero_count(params),
            history_len=zero_count(params),
            h_diag=scalar(params, 1.0, dt),
            prev_flat_grad=jnp.zeros([n], dt),
            func_evals=zero_count(params),
            prev_loss=scalar(params, 0.0, dt),
            rate=init_learning_rate(lr, params),
        )

    def step_fn(updates, state, params, value, grad, extra_args, value_fn):
        dt = state.d.dtype
        m = history_size
        lr_now, rate = next_learning_rate(lr, state.rate)
        lr_now = cast(lr_now, dt)
        tol_grad, tol_change = cast(tolerance_grad, dt), cast(tolerance_change, dt)

        def value_and_grad(flat):
            f, g = jax.value_and_grad(lambda p: value_fn(p, **extra_args))(_unflatten(flat, params))
            return sign * jnp.asarray(f).astype(dt), sign * _flatten(g, dt)

        def obj(x, t, d):
            return value_and_grad(x + t * d)

        x0 = _flatten(params, dt)
        if value is None:
            loss0, g0 = value_and_grad(x0)
        else:
            loss0 = sign * jnp.asarray(value).astype(dt)
            g0 = sign * _flatten(updates if grad is None else grad, dt)

        def body(c):
            (it, n_iter, x, loss, g, evals, _, d, t, dirs, stps, ro, start, length, h, prev_g) = c[
                :16
            ]
            it, n_iter = it + 1, n_iter + 1
            first = n_iter == 1
            # the direction: update the history with (y, s), then the two-loop recursion
            y, s = g - prev_g, d * t
            ys = jnp.dot(y, s)
            accept = ~first & (ys > 1e-10)
            full = length == m
            j = jnp.where(full, start, (start + length) % m)
            dirs = dirs.at[j].set(jnp.where(accept, y, dirs[j]))
            stps = stps.at[j].set(jnp.where(accept, s, stps[j]))
            ro = ro.at[j].set(jnp.where(accept, 1.0 / ys, ro[j]))
            start = jnp.where(accept & full, (start + 1) % m, start)
            length = jnp.where(accept, jnp.minimum(length + 1, m), length)
            h = jnp.where(accept, ys / jnp.dot(y, y), h)
            # the first iteration ever starts an empty history: d = −g
            start, length = jnp.where(first, 0, start), jnp.where(first, 0, length)
            h = jnp.where(first, jnp.ones([], dt), h)
            d = _two_loop(g, dirs, stps, ro, start, length, h)
            prev_g, prev_loss = g, loss
            t = jnp.where(first, jnp.minimum(1.0, 1.0 / jnp.sum(jnp.abs(g))) * lr_now, lr_now)
            gtd = jnp.dot(g, d)

            def skip(_):  # the directional derivative is below tolerance
                return x, loss, g, evals, jnp.asarray(True), t

            def take(_):
                if line_search:
                    max_ls = max_eval - evals
                    f_new, g_new, t_new, ls_evals = strong_wolfe(obj, x, t, d, loss, g, gtd, max_ls)
                    x_new = x + t_new * d
                    opt_cond = jnp.max(jnp.abs(g_new)) <= tol_grad
                else:
                    t_new, x_new = t, x + t * d

                    def evaluate(_):
                        f_new, g_new = value_and_grad(x_new)
                        return f_new, g_new, jnp.max(jnp.abs(g_new)) <= tol_grad, 1

                    def last(_):  # PyTorch does not evaluate after the last iteration
                        return loss, g, jnp.asarray(False), 0

                    f_new, g_new, opt_cond, ls_evals = jax.lax.cond(
                        it != max_iter, evaluate, last, None
                    )
                evals_new = evals + ls_evals
                stop = (
                    (it == max_iter)
                    | (evals_new >= max_eval)
                    | opt_cond
                    | (jnp.max(jnp.abs(d * t_new)) <= tol_change)
                    | (jnp.abs(f_new - prev_loss) < tol_change)
                )
                return x_new, f_new, g_new, evals_new, stop, t_new

            x, loss, g, evals, stop, t = jax.lax.cond(gtd > -tol_change, skip, take, None)
            return (
                it,
                n_iter,
                x,
                loss,
                g,
                evals,
                stop,
                d,
                t,
                dirs,
                stps,
                ro,
                start,
                length,
                h,
                prev_g,
                prev_loss,
            )

        init = (
            jnp.zeros([], jnp.int32),
            state.n_iter,
            x0,
            loss0,
            g0,
            jnp.ones([], jnp.int32),
            jnp.max(jnp.abs(g0)) <= tol_grad,  # optimal already: no iteration
            state.d,
            state.t,
            state.old_dirs,
            state.old_stps,
            state.ro,
            state.history_start,
            state.history_len,
            state.h_diag,
            state.prev_flat_grad,
            state.prev_loss,
        )
        out = jax.lax.while_loop(lambda c: ~c[6], body, init)
        _, n_iter, x, _, _, evals, _, d, t, dirs, stps, ro, start, length, h = out[:15]
        prev_g, prev_loss = out[15:]
        func_evals = state.func_evals + evals
        new_state = LbfgsState(
            n_iter, d, t, dirs, stps, ro, start, length, h, prev_g, func_evals, prev_loss, rate
        )
        step = _unflatten(x - x0, params)
        return jax.tree.map(lambda u, g: u.astype(g.dtype), step, updates), new_state

    # Jitted once per transform and loss function, so that eager updates do not trace and
    # compile the loops again at every call (inside a user's jit it is inlined).
    jitted_step = jax.jit(step_fn, static_argnames="value_fn")

    def update_fn(
        updates,
        state,
        params=None,
        *,
        value=None,
        grad=None,
        value_fn: Callable[..., Any] | None = None,
        **extra_args,
    ):
        if params is None or value_fn is None:
            raise UnnamedValueError(
                "update() needs params and value_fn (the loss, a function of the "
                "params), as it evaluates the loss several times: "
                "tx.update(grads, state, params, value=loss, grad=grads, value_fn=loss_fn)."
            )
        check_tree(updates, params, "the params")
        try:
            hash(value_fn)
        except TypeError:
            return step_fn(updates, state, params, value, grad, extra_args, value_fn)
        return jitted_step(updates, state, params, value, grad, extra_args, value_fn=value_fn)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@torch_registered
@checked(
    lr=LR,
    max_iter=integer(1),
    max_eval=optional(integer(1)),
    tolerance_grad=nonnegative(),
    tolerance_change=nonnegative(),
    history_size=integer(1),
    line_search_fn=optional(choice("strong_wolfe")),
    maximize=flag(),
)
def LBFGS(  # noqa: N802
    lr: ScalarOrSchedule = 1,
    max_iter: int = 20,
    max_eval: int | None = None,
    tolerance_grad: Scalar = 1e-7,
    tolerance_change: Scalar = 1e-9,
    history_size: int = 100,
    line_search_fn: str | None = None,
    *,
    maximize: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """``torch.optim.LBFGS``: one ``update`` is one ``step(closure)``, line search included.

    Each of up to ``max_iter`` iterations: y = g − g_prev, s = t·d; if yᵀs > 1e-10 the pair
    joins the last ``history_size``, H_0 = yᵀs/yᵀy;  d = −H g (two-loop recursion; d = −g
    on the very first iteration);  t = lr (min(1, 1/Σ|g|)·lr on the first);
    θ ← θ + t·d with t from PyTorch's strong-Wolfe line search when
    ``line_search_fn="strong_wolfe"``, else fixed;  then the loss and gradient again.
    It stops early, as PyTorch does, when max|g| <= ``tolerance_grad``, gᵀd >
    −``tolerance_change``, max|t·d| or the change of the loss is within
    ``tolerance_change``, or ``max_eval`` evaluations are spent (default
    ``max_iter``·5//4).

    The update follows optax's convention for methods that evaluate the loss
    (``optax.lbfgs``): ``tx.update(grads, state, params, value=loss, grad=grads,
    value_fn=loss_fn)``, where ``loss_fn(params, **extra)`` returns a scalar and
    ``value``/``grad`` are the loss and gradient at ``params`` (computed when omitted);
    other keyword arguments of ``update`` go to ``loss_fn``. The whole step is a
    ``lax.while_loop``: jit it with ``loss_fn`` closed over. The state (:class:`LbfgsState`)
    has a fixed shape, its history ``history_size`` flat copies of the params (as
    PyTorch's). ``maximize=True`` (not in PyTorch's LBFGS) maximizes the loss.
    ``lr`` may be a schedule, read once per ``update`` as PyTorch reads it per ``step``.
    Real parameters only, as PyTorch documents; they are flattened into one float32
    vector (float64 if any leaf is float64). For L-BFGS with optax's zoom line search and
    defaults, see ``optax.lbfgs``.

    Args:
      lr: the step length's scale α >= 0, or a schedule ``count -> α`` (one count per
        ``update``).
      max_iter: the iterations per ``update``, an integer >= 1.
      max_eval: the loss evaluations per ``update``, an integer >= 1 (None:
        ``max_iter``·5//4).
      tolerance_grad: stop when max|g| <= this, >= 0.
      tolerance_change: stop when a step or a change of the loss is within this, >= 0.
      history_size: the (y, s) pairs kept, an integer >= 1.
      line_search_fn: None (a fixed step) or ``"strong_wolfe"``.
      maximize: climb the objective (not in PyTorch's LBFGS).

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a :class:`LbfgsState`;
      ``update`` needs ``params`` and ``value_fn``.

    >>> import jax, jax.numpy as jnp, optax
    >>> import jopt.compat.torch as jt
    >>> loss_fn = lambda p: jnp.sum((p - 3.0) ** 2)
    >>> tx = jt.LBFGS(line_search_fn="strong_wolfe")
    >>> params = jnp.zeros(2)
    >>> state = tx.init(params)
    >>> value, grads = jax.value_and_grad(loss_fn)(params)
    >>> updates, state = tx.update(grads, state, params, value=value, grad=grads,
    ...                            value_fn=loss_fn)
    >>> optax.apply_updates(params, updates)
    Array([3., 3.], dtype=float32)
    """
    if max_eval is None:
        max_eval = max_iter * 5 // 4
    return _lbfgs(
        lr,
        max_iter,
        max_eval,
        tolerance_grad,
        tolerance_change,
        history_size,
        line_search_fn is not None,
        maximize,
    )
