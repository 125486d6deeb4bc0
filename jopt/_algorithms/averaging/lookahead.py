"""Lookahead (Zhang et al. 2019): k fast steps forward, then one slow step back."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._core.checks import (
    UnnamedTypeError,
    checked,
    closed_unit_interval,
    flag,
    integer,
    transformation,
    unchecked,
)
from jopt._core.dtypes import cast, compute_dtype
from jopt._core.hyperparams import Scalar
from jopt._core.state import check_tree


class LookaheadState(NamedTuple):
    """The state of :func:`jopt.lookahead` (optax's ``LookaheadState`` layout).

    Args:
      fast_state: the fast optimizer's state.
      steps_since_sync: int32, fast steps taken since the last synchronization.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.lookahead(jopt.sgd(0.1), sync_period=2)
    >>> params = jopt.LookaheadParams.init_synced(jnp.zeros(2))
    >>> _, state = tx.update(jnp.ones(2), tx.init(params), params)
    >>> state.steps_since_sync
    Array(1, dtype=int32)
    """

    fast_state: Any
    steps_since_sync: jax.Array


class LookaheadParams(NamedTuple):
    """The fast and the slow parameters of :func:`jopt.lookahead` (optax's layout).

    Gradients are taken at ``fast``; ``slow`` are the parameters to evaluate
    (:func:`jopt.lookahead_eval_params`).

    Args:
      fast: the fast parameters.
      slow: the slow parameters.

    >>> import jax.numpy as jnp, jopt
    >>> jopt.LookaheadParams.init_synced(jnp.ones(2))
    LookaheadParams(fast=Array([1., 1.], dtype=float32), slow=Array([1., 1.], dtype=float32))
    """

    fast: Any
    slow: Any

    @classmethod
    def init_synced(cls, params: Any) -> LookaheadParams:
        """Fast and slow parameters both equal to ``params``."""
        return cls(fast=params, slow=params)


@checked(params=unchecked("a LookaheadParams (fast, slow): read, not checked"))
def lookahead_eval_params(params: Any) -> Any:
    """The parameters to evaluate a :func:`jopt.lookahead` run at: the slow ones.

    pytorch_optimizer's ``Lookahead.backup_and_load_cache()`` loads these into the model.

    Args:
      params: a :class:`jopt.LookaheadParams` (or optax's); anything else is a
        ``TypeError``.

    Returns:
      ``params.slow``.

    >>> import jax.numpy as jnp, jopt
    >>> jopt.lookahead_eval_params(jopt.LookaheadParams(jnp.ones(1), jnp.zeros(1)))
    Array([0.], dtype=float32)
    """
    return _pair(params, "lookahead_eval_params")[1]


def _pair(params: Any, what: str) -> tuple[Any, Any]:
    fast, slow = getattr(params, "fast", None), getattr(params, "slow", None)
    if fast is None or slow is None:
        raise UnnamedTypeError(
            f"{what} needs params as a LookaheadParams(fast, slow), got "
            f"{type(params).__name__}; start from jopt.LookaheadParams.init_synced(params)."
        )
    return fast, slow


@checked(
    fast_optimizer=transformation("jopt.sgd(0.1)"),
    sync_period=integer(1),
    slow_step_size=closed_unit_interval(),
    reset_state=flag(),
)
def lookahead(
    fast_optimizer: optax.GradientTransformation,
    sync_period: int = 5,
    slow_step_size: Scalar = 0.5,
    reset_state: bool = False,
) -> optax.GradientTransformationExtraArgs:
    """Lookahead (Zhang et al. 2019, "Lookahead Optimizer: k steps forward, 1 step back").

    The fast parameters φ take steps of ``fast_optimizer``; after every k-th one the
    slow parameters move toward them and the fast ones are reset there:

    φ ← φ + u_t  (every step),   after every k-th: θ ← θ + α(φ − θ),  φ ← θ.

    The parameters are a :class:`jopt.LookaheadParams` (fast, slow); gradients are taken
    at ``params.fast`` and the update is a LookaheadParams of updates for both (of the
    class of ``params``, so optax's ``LookaheadParams`` works too), applied with
    ``optax.apply_updates`` and not modified. As optax.lookahead, whose argument names
    and state it keeps; the defaults are pytorch_optimizer's ``Lookahead`` (k = 5,
    α = 0.5), which it matches in lockstep. ``reset_state`` re-initializes the whole
    fast state at each synchronization (optax's; pytorch_optimizer's
    ``pullback_momentum="reset"`` zeroes only an SGD momentum buffer).

    Args:
      fast_optimizer: the inner transformation.
      sync_period: k >= 1, fast steps per synchronization.
      slow_step_size: α in [0, 1].
      reset_state: re-initialize the fast optimizer's state at each synchronization.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` whose state is a
      :class:`jopt.LookaheadState`; ``update`` needs ``params`` (a LookaheadParams) and
      passes extra keyword arguments to the fast optimizer.

    >>> import jax.numpy as jnp, optax, jopt
    >>> tx = jopt.lookahead(jopt.sgd(1.0), sync_period=2, slow_step_size=0.5)
    >>> params = jopt.LookaheadParams.init_synced(jnp.zeros(1))
    >>> state = tx.init(params)
    >>> for _ in range(2):  # φ: −1, −2; then θ = 0 + 0.5·(−2 − 0) = −1 = φ
    ...     updates, state = tx.update(jnp.ones(1), state, params)
    ...     params = optax.apply_updates(params, updates)
    >>> params
    LookaheadParams(fast=Array([-1.], dtype=float32), slow=Array([-1.], dtype=float32))
    """
    inner = optax.with_extra_args_support(fast_optimizer)

    def init_fn(params):
        fast = getattr(params, "fast", params)  # optax also takes the fast params alone
        return LookaheadState(inner.init(fast), jnp.zeros((), jnp.int32))

    def update_fn(updates, state, params=None, **extra_args):
        fast, slow = _pair(params, "jopt.lookahead's update")
        check_tree(updates, fast, "the fast params")
        fast_updates, fast_state = inner.update(updates, state.fast_state, fast, **extra_args)
        sync = state.steps_since_sync == sync_period - 1

        def leaf(u, f, s):
            dt = compute_dtype(u)
            a = cast(slow_step_size, dt)
            uw, fw, sw = u.astype(dt), f.astype(dt), s.astype(dt)
            new_slow = sw + a * ((fw + uw) - sw)
            fast_u = jnp.where(sync, new_slow - fw, uw)
            slow_u = jnp.where(sync, new_slow - sw, jnp.zeros_like(sw))
            return fast_u.astype(u.dtype), slow_u.astype(s.dtype)

        flat, treedef = jax.tree.flatten(fast_updates)
        fasts, slows = treedef.flatten_up_to(fast), treedef.flatten_up_to(slow)
        pairs = [leaf(*a) for a in zip(flat, fasts, slows, strict=True)]
        fast_out = jax.tree.unflatten(treedef, [f for f, _ in pairs])
        slow_out = jax.tree.unflatten(treedef, [s for _, s in pairs])
        if reset_state:
            fresh = inner.init(fast)
            fast_state = jax.tree.map(lambda c, i: jnp.where(sync, i, c), fast_state, fresh)
        steps = (state.steps_since_sync + 1) % sync_period
        pair: Any = type(params)  # jopt's LookaheadParams or optax's: the caller's class
        return pair(fast=fast_out, slow=slow_out), LookaheadState(fast_state, steps)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
