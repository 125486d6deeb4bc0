"""Parameter averaging: SWA's equal average and its EMA variant, kept in the optimizer state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._core.checks import (
    UnnamedValueError,
    checked,
    closed_unit_interval,
    integer,
    optional,
    transformation,
    unchecked,
)
from jopt._core.dtypes import cast, compute_dtype, state_dtype
from jopt._core.hyperparams import Scalar
from jopt._core.layout import PerParam
from jopt._core.state import (
    check_params,
    check_tree,
    check_update_params,
    find_states,
    increment,
    zero_count,
)
from jopt.sharding._leafwise import map_leaves


class AveragedParamsState(NamedTuple):
    """The running average of the parameters that :func:`jopt.swa` keeps; read it with
    :func:`jopt.averaged_params`.

    Args:
      count: int32, updates seen.
      n_averaged: int32, parameter vectors in the average (PyTorch's
        ``AveragedModel.n_averaged``).
      average: the averaged parameters (float16 leaves kept in float32).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.swa(jopt.gd(0.5))
    >>> params = jnp.ones(2)
    >>> _, state = tx.update(jnp.array([1.0, -2.0]), tx.init(params), params)
    >>> state[1].n_averaged, state[1].average  # the parameters after one step, θ − 0.5g
    (Array(1, dtype=int32), Array([0.5, 2. ], dtype=float32))
    """

    count: jax.Array
    n_averaged: jax.Array
    average: PerParam


class AsgdAverageState(NamedTuple):
    """ASGD's average of the iterates and the updates seen (:func:`jopt.asgd`).

    Args:
      count: int32, updates seen.
      ax: the average of the iterates (PyTorch's ``state["ax"]``).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.asgd(0.1)
    >>> params = jnp.zeros(2)
    >>> _, state = tx.update(jnp.array([1.0, -2.0]), tx.init(params), params)
    >>> state[1].count, state[1].ax  # averaging from the first step: θ_1 = −0.1g
    (Array(1, dtype=int32), Array([-0.1,  0.2], dtype=float32))
    """

    count: jax.Array
    ax: PerParam


Mix = Callable[[jax.Array, jax.Array, jnp.dtype], jax.Array]
"""``mix(average, new_params, dtype) -> new_average``, per leaf, in the compute dtype."""


def average_step(average: Any, updates: Any, params: Any, mix: Mix) -> Any:
    """The average after this update: ``mix(average, θ_new, dt)`` per leaf, where θ_new =
    θ + u is what ``optax.apply_updates`` will make of the params (computed the same way).

    The builder every running average of the parameters shares (:func:`jopt.swa`,
    :func:`jopt.asgd`'s ax). Raises (unnamed) when ``params`` is missing or does not
    match ``updates``.
    """
    check_update_params(updates, params, "to average them")

    def leaf(u, a, p):
        new = jnp.asarray(p + u.astype(p.dtype)).astype(p.dtype)
        dt = compute_dtype(a)
        return u, mix(a.astype(dt), new.astype(dt), dt).astype(a.dtype)

    return map_leaves(leaf, 2, updates, average, params)[1]


def _lerp(start: jax.Array, end: jax.Array, weight: jax.Array) -> jax.Array:
    """PyTorch's ``lerp``: start + w(end − start) for |w| < 0.5, else end − (end − start)(1 − w)."""
    return jnp.where(
        jnp.abs(weight) < 0.5,
        start + weight * (end - start),
        end - (end - start) * (1.0 - weight),
    )


def _average_params(start: Any, every: Any, decay: Scalar | None) -> optax.GradientTransformation:
    def init_fn(params):
        check_params(params)
        # AveragedModel starts as a copy of the model: a new buffer per leaf.
        average = jax.tree.map(lambda p: jnp.array(p, state_dtype(p), copy=True), params)
        return AveragedParamsState(zero_count(params), zero_count(params), average)

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        check_tree(updates, state.average)
        count = increment(state.count)
        since = count - cast(start, jnp.int32)
        take = (since > 0) & (since % cast(every, jnp.int32) == 0)
        n = state.n_averaged
        first = n == 0  # AveragedModel copies the params on its first update_parameters

        def mix(a: jax.Array, new: jax.Array, dt: jnp.dtype) -> jax.Array:
            if decay is None:  # avg + (θ − avg)/(n + 1)
                mixed = a + (new - a) / (n + 1).astype(dt)
            else:  # torch.lerp(avg, θ, 1 − decay)
                mixed = _lerp(a, new, cast(1.0 - jnp.asarray(decay), dt))
            return jnp.where(take, jnp.where(first, new, mixed), a)

        average = average_step(state.average, updates, params, mix)
        n_averaged = jnp.where(take, increment(n), n)
        return updates, AveragedParamsState(count, n_averaged, average)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(
    tx=transformation(),
    start=integer(0, traced=True),
    every=integer(1, traced=True),
    decay=optional(closed_unit_interval()),
)
def swa(
    tx: optax.GradientTransformation,
    start: int = 0,
    every: int = 1,
    decay: Scalar | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Stochastic weight averaging: ``tx``, with a running average of the parameters it makes.

    After update t (t = 1, 2, …), when t > ``start`` and (t − ``start``) is a multiple of
    ``every``, the new parameters θ_t join the average θ̄ (n: the number taken before):

    θ̄ ← θ_t if n = 0 (the first one is copied),
    θ̄ ← θ̄ + (θ_t − θ̄)/(n + 1) (the equal average of the n + 1 taken),
    θ̄ ← β θ̄ + (1 − β) θ_t with ``decay`` β (an EMA instead).

    This is ``torch.optim.swa_utils.AveragedModel`` (``decay``:
    ``AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay))``), its
    ``update_parameters(model)`` called after those updates: ``start = swa_start·S``,
    ``every = S`` reproduces ``if epoch >= swa_start: swa_model.update_parameters(model)`` at
    the end of each epoch of S steps. Buffers (``use_buffers``) have no JAX counterpart here.

    The updates are ``tx``'s, unchanged; ``update`` needs ``params``. The state is
    ``(tx's state, AveragedParamsState)``, as ``optax.chain(tx, ...)`` makes it; read the
    average with :func:`jopt.averaged_params` (evaluate with it, keep training ``params``).
    Place ``swa`` outermost, so the average sees the final update.

    Args:
      tx: the optimizer whose parameters are averaged (any optax transformation).
      start: the updates before averaging starts, an integer >= 0 (may be traced).
      every: take the parameters every ``every`` updates after ``start``, an integer
        >= 1 (may be traced).
      decay: None for the equal average, or the EMA's β in [0, 1].

    Returns:
      An ``optax.GradientTransformationExtraArgs``; its state is
      ``(tx's state, AveragedParamsState)``.

    >>> import jax.numpy as jnp, optax, jopt
    >>> tx = jopt.swa(jopt.sgd(1.0), start=1)  # average the params after updates 2, 3, …
    >>> params = jnp.array([0.0])
    >>> state = tx.init(params)
    >>> for g in (-1.0, -2.0, -4.0):  # params 1, 3, 7
    ...     updates, state = tx.update(jnp.array([g]), state, params)
    ...     params = optax.apply_updates(params, updates)
    >>> jopt.averaged_params(state)  # (3 + 7)/2
    Array([5.], dtype=float32)
    """
    return optax.chain(tx, _average_params(start, every, decay))


@checked(state=unchecked("any pytree; searched for the averages it holds"))
def averaged_params(state: Any) -> Any:
    """The averaged parameters kept in an optimizer state: :func:`jopt.swa`'s average, or
    ASGD's ``ax`` (:func:`jopt.asgd`, :func:`jopt.compat.torch.ASGD`).

    Works on a bare state, on one nested in ``optax.chain``/``inject_hyperparams`` and on a
    Flax ``nnx.Optimizer``'s ``opt_state``; with several averages, the first one found.
    The tree has the params' structure and dtypes (float16 leaves are float32). Before the
    first average it holds what PyTorch holds then: :func:`jopt.swa` the initial params
    (``AveragedModel`` starts as a copy of the model), ASGD zeros (its ``ax``).

    Args:
      state: an optimizer state (or any pytree holding one).

    Returns:
      The average, a tree with the params' structure.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.swa(jopt.sgd(0.5))
    >>> params = jnp.array([1.0, 2.0])
    >>> _, state = tx.update(jnp.array([2.0, 2.0]), tx.init(params), params)
    >>> jopt.averaged_params(state)  # the params after the first update
    Array([0., 1.], dtype=float32)
    """
    found = find_states(state, (AveragedParamsState, AsgdAverageState))
    if not found:
        raise UnnamedValueError(
            "no parameter average in this state; it reads the states of jopt.swa, jopt.asgd "
            "and jopt.compat.torch.ASGD."
        )
    average = found[0].average if isinstance(found[0], AveragedParamsState) else found[0].ax
    # ``[...]`` reads both a jax.Array and a Flax nnx Variable wrapping one.
    return jax.tree.map(lambda x: jnp.asarray(x[...]), average)
