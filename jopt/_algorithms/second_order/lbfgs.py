"""L-BFGS (Liu & Nocedal 1989) with optax's zoom line search: optax.lbfgs's algorithm,
native to jopt (strict dtype promotion). The PyTorch-exact L-BFGS is
:func:`jopt.compat.torch.LBFGS`."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._algorithms.second_order.linesearch import (
    scalar_dtype,
    scale_by_zoom_linesearch,
    tree_vdot,
)
from jopt._core.chain import chain
from jopt._core.checks import checked, flag, integer, optional, transformation
from jopt._core.checks import learning_rate as rate_rule
from jopt._core.dtypes import compute_dtype
from jopt._core.hyperparams import ScalarOrSchedule
from jopt._core.layout import PerParam
from jopt._core.learning_rate import scale_by_learning_rate
from jopt._core.state import increment, moments_like, require_params, zero_count


class ScaleByLBFGSState(NamedTuple):
    """L-BFGS's memory (:func:`jopt.scale_by_lbfgs`), optax's fields.

    Args:
      count: int32, updates taken.
      params: the params of the last update.
      updates: the gradient of the last update.
      diff_params_memory: the last m differences δw_k = w_{k+1} − w_k, stacked on a
        leading axis of size m (a ring buffer).
      diff_updates_memory: the last m differences δu_k = u_{k+1} − u_k, stacked alike.
      weights_memory: ρ_k = 1 / ⟨δu_k, δw_k⟩ (0 where that is 0), shape (m,).

    >>> import jax.numpy as jnp, jopt
    >>> jopt.scale_by_lbfgs(memory_size=3).init(jnp.zeros(2)).diff_params_memory.shape
    (3, 2)
    """

    count: jax.Array
    params: PerParam
    updates: PerParam
    diff_params_memory: Any
    diff_updates_memory: Any
    weights_memory: jax.Array


def _axpy(a: jax.Array, x: Any, y: Any) -> Any:
    """y + a·x, leafwise, in each leaf's dtype."""
    return jax.tree.map(
        lambda xi, yi: (yi + a.astype(compute_dtype(yi)) * xi.astype(compute_dtype(yi))).astype(
            yi.dtype
        ),
        x,
        y,
    )


def two_loop(updates, dws, dus, rhos, gamma, newest, dt):
    """P_k u by the two-loop recursion (Nocedal & Wright, Algorithm 7.4), over the ring
    buffer in order oldest … newest (``newest`` = the index after which it wraps)."""
    m = rhos.shape[0]
    order = (newest + jnp.arange(m, dtype=jnp.int32)) % m  # oldest first

    def at(i):
        return jax.tree.map(lambda x: x[i], (dws, dus))

    def backward(q, i):
        dw, du = at(i)
        alpha = rhos[i] * tree_vdot(dw, q, dt)
        return _axpy(-alpha, du, q), alpha

    q, alphas = jax.lax.scan(backward, updates, order, reverse=True)
    r = jax.tree.map(
        lambda x: (gamma.astype(compute_dtype(x)) * x.astype(compute_dtype(x))).astype(x.dtype), q
    )

    def forward(r, i_alpha):
        i, alpha = i_alpha
        dw, du = at(i)
        beta = rhos[i] * tree_vdot(du, r, dt)
        return _axpy(alpha - beta, dw, r), beta

    r, _ = jax.lax.scan(forward, r, (order, alphas))
    return r


@checked(memory_size=integer(1), scale_init_precond=flag())
def scale_by_lbfgs(
    memory_size: int = 10, scale_init_precond: bool = True
) -> optax.GradientTransformationExtraArgs:
    """L-BFGS's direction P_k u_k: the gradient times the inverse-Hessian estimate built
    from the last m = ``memory_size`` differences of params and gradients.

    P_{k,j+1} = V_jᵀ P_{k,j} V_j + ρ_j δw_j δw_jᵀ  (j = k − m … k − 1),
    V_j = I − ρ_j δu_j δw_jᵀ,  ρ_j = 1/⟨δu_j, δw_j⟩,
    P_{k,k−m} = γ_k I,  γ_k = ⟨δw_{k−1}, δu_{k−1}⟩ / ‖δu_{k−1}‖² (``scale_init_precond``;
    else 1), γ_0 = min(1, 1/‖u_0‖),

    computed by the two-loop recursion. The memory is updated with the params and the
    gradient this update is given (so a line search after it sees the direction of the
    new preconditioner), as optax.scale_by_lbfgs; the first update is γ_0 u_0.

    Args:
      memory_size: m >= 1.
      scale_init_precond: γ_k from the last pair (True) or 1.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.ScaleByLBFGSState`.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_lbfgs()
    >>> tx.update(jnp.array([3.0, 4.0]), tx.init(jnp.zeros(2)), jnp.zeros(2))[0]  # u/‖u‖
    Array([0.6, 0.8], dtype=float32)
    """

    def init_fn(params):
        dt = scalar_dtype(params)
        stacked = lambda: jax.tree.map(  # noqa: E731
            lambda p: jnp.zeros((memory_size, *jnp.shape(p)), p.dtype), params
        )
        return ScaleByLBFGSState(
            count=zero_count(params),
            params=moments_like(params),
            updates=moments_like(params),
            diff_params_memory=stacked(),
            diff_updates_memory=stacked(),
            weights_memory=jnp.zeros(memory_size, dt),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        require_params(params, "(L-BFGS stores the differences of the params)")
        dt = scalar_dtype(params)
        idx = state.count % memory_size
        prev = (state.count - 1) % memory_size
        started = state.count > 0

        def sub(a, b):
            return jax.tree.map(
                lambda x, y: jnp.where(started, x - y.astype(x.dtype), jnp.zeros_like(x)), a, b
            )

        dw, du = sub(params, state.params), sub(updates, state.updates)
        curv = tree_vdot(du, dw, dt)
        rho = jnp.where(curv == 0, jnp.zeros((), dt), 1.0 / curv)

        def put(mem, new):
            return jax.tree.map(lambda m, x: m.at[prev].set(x.astype(m.dtype)), mem, new)

        dws, dus = put(state.diff_params_memory, dw), put(state.diff_updates_memory, du)
        rhos = state.weights_memory.at[prev].set(rho)
        if scale_init_precond:
            du_sq = tree_vdot(du, du, dt)
            gamma = jnp.where(du_sq > 0, curv / jnp.where(du_sq > 0, du_sq, 1), jnp.ones((), dt))
            norm = jnp.sqrt(tree_vdot(updates, updates, dt))
            gamma = jnp.where(started, gamma, jnp.minimum(jnp.ones((), dt), 1.0 / norm))
        else:
            gamma = jnp.ones((), dt)
        out = two_loop(updates, dws, dus, rhos, gamma, idx, dt)
        new_state = ScaleByLBFGSState(
            count=increment(state.count),
            params=jax.tree.map(lambda p, old: p.astype(old.dtype), params, state.params),
            updates=jax.tree.map(lambda u, old: u.astype(old.dtype), updates, state.updates),
            diff_params_memory=dws,
            diff_updates_memory=dus,
            weights_memory=rhos,
        )
        return out, new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def _negate() -> optax.GradientTransformation:
    return optax.stateless(lambda updates, params=None: jax.tree.map(lambda u: -u, updates))


_ZOOM = scale_by_zoom_linesearch(max_linesearch_steps=20, initial_guess_strategy="one")


@checked(
    learning_rate=optional(rate_rule()),
    memory_size=integer(1),
    scale_init_precond=flag(),
    linesearch=optional(transformation("jopt.scale_by_zoom_linesearch(20)")),
)
def lbfgs(
    learning_rate: ScalarOrSchedule | None = None,
    memory_size: int = 10,
    scale_init_precond: bool = True,
    linesearch: optax.GradientTransformation | None = _ZOOM,
) -> optax.GradientTransformationExtraArgs:
    """L-BFGS (Liu & Nocedal 1989; Nocedal & Wright, Algorithms 7.4-7.5) with the zoom
    line search: optax.lbfgs's algorithm and defaults.

    w_{k+1} = w_k − η_k P_k ∇f(w_k), P_k from :func:`jopt.scale_by_lbfgs`, η_k from
    ``linesearch`` (default ``scale_by_zoom_linesearch(20, initial_guess_strategy="one")``:
    the strong Wolfe conditions), times ``learning_rate`` when one is given. Update with
    optax's extra arguments::

        value, grad = optax.value_and_grad_from_state(f)(params, state=state)
        updates, state = tx.update(grad, state, params, value=value, grad=grad, value_fn=f)

    Args:
      learning_rate: a constant or schedule multiplying the direction, or None (the line
        search alone sets the step).
      memory_size: m >= 1, the pairs kept.
      scale_init_precond: γ_k as in :func:`jopt.scale_by_lbfgs`.
      linesearch: a line search transformation, or None (none: the step is −α P_k g).

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp, optax, jopt
    >>> f = lambda w: jnp.sum((w - 1.0) ** 2 * jnp.array([1.0, 10.0]))
    >>> tx, w = jopt.lbfgs(), jnp.zeros(2)
    >>> state = tx.init(w)
    >>> for _ in range(5):
    ...     v, g = optax.value_and_grad_from_state(f)(w, state=state)
    ...     u, state = tx.update(g, state, w, value=v, grad=g, value_fn=f)
    ...     w = optax.apply_updates(w, u)
    >>> jnp.round(w, 4)
    Array([1., 1.], dtype=float32)
    """
    base = _negate() if learning_rate is None else scale_by_learning_rate(learning_rate)
    steps = [scale_by_lbfgs(memory_size, scale_init_precond), base]
    if linesearch is not None:
        steps.append(linesearch)
    return chain(*steps)
