"""The learning-rate step every optimizer ends with, and reading the rate back."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._core.checks import UnnamedValueError, checked, flag, unchecked
from jopt._core.checks import learning_rate as learning_rate_rule
from jopt._core.dtypes import cast, compute_dtype, per_dtype
from jopt._core.groups import ParamGroupsState
from jopt._core.hyperparams import ScalarOrSchedule, recurrence
from jopt._core.state import (
    check_params,
    check_tree,
    evaluate,
    find_states,
    increment,
    scalar,
    zero_count,
)


class ScaleByLearningRateState(NamedTuple):
    """A constant rate's step.

    No count: nothing reads one, and its increment would be the step's only scalar
    kernel (about 8 ms more XLA compile for a small tree than optax's stateless step).

    Args:
      learning_rate: the rate every update uses (:func:`jopt.get_learning_rate` reads it).

    >>> import jax.numpy as jnp, jopt
    >>> jopt.scale_by_learning_rate(0.1).init(jnp.zeros(2))
    ScaleByLearningRateState(learning_rate=Array(0.1, dtype=float32))
    """

    learning_rate: jax.Array


class ScaleByScheduleState(NamedTuple):
    """A schedule's step.

    Args:
      count: int32, updates applied so far.
      learning_rate: the rate the last one used (before the first update, the rate the
        first one will use).

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_learning_rate(jopt.schedules.step_lr(0.1, step_size=1, gamma=0.5))
    >>> state = tx.init(jnp.zeros(2))
    >>> state.count, state.learning_rate  # the first update's rate
    (Array(0, dtype=int32), Array(0.1, dtype=float32))
    >>> _, state = tx.update(jnp.ones(2), state)
    >>> state.count, state.learning_rate  # one update applied, at 0.1
    (Array(1, dtype=int32), Array(0.1, dtype=float32))
    """

    count: jax.Array
    learning_rate: jax.Array


LearningRateState = ScaleByLearningRateState | ScaleByScheduleState


def _lr_array(value: Any) -> jax.Array:
    # One fixed dtype for the recorded rate, whatever the schedule returns, so the
    # state's structure and dtypes never change between init and update.
    return jnp.asarray(value).astype(jnp.result_type(float))


def init_learning_rate(
    learning_rate: ScalarOrSchedule, params: Any, counted: bool = False
) -> LearningRateState:
    """The state of a step that applies ``learning_rate`` (a constant or a schedule),
    its scalars placed for ``params``.

    ``counted=True`` keeps a count for a constant rate too (another scheduled
    hyperparameter of the same step reads it).
    """
    dtype = jnp.result_type(float)
    if callable(learning_rate) or counted:
        count = zero_count(params)
        lr = evaluate(learning_rate, count, "the learning-rate schedule")
        return ScaleByScheduleState(count, scalar(params, lr, dtype))
    return ScaleByLearningRateState(scalar(params, learning_rate, dtype))


def next_learning_rate(
    learning_rate: ScalarOrSchedule, state: LearningRateState
) -> tuple[Any, LearningRateState]:
    """The rate this update applies, and the state after it."""
    if isinstance(state, ScaleByScheduleState):
        step = recurrence(learning_rate)
        if step is not None:  # O(1) from the rate recorded at the last update
            previous = state.learning_rate
            lr = evaluate(lambda c: step(c, previous), state.count, "the learning-rate schedule")
        else:
            lr = evaluate(learning_rate, state.count, "the learning-rate schedule")
        return lr, ScaleByScheduleState(increment(state.count), _lr_array(lr))
    if not isinstance(learning_rate, jax.Array):
        # A number: init recorded it and it never changes. Passing the state through
        # keeps the recorded rate where init placed it (a constant output of a jitted
        # step that uses no other input lands uncommitted on one device).
        return learning_rate, state
    return learning_rate, ScaleByLearningRateState(_lr_array(learning_rate))


@checked(learning_rate=learning_rate_rule(), flip_sign=flag())
def scale_by_learning_rate(
    learning_rate: ScalarOrSchedule, *, flip_sign: bool = True
) -> optax.GradientTransformationExtraArgs:
    """Multiplies updates by ``-learning_rate`` (``+learning_rate`` with ``flip_sign=False``).

    Δθ = −α_t·u, with α_t the rate of the t-th update. The state records the rate applied
    at the last step; read it with :func:`jopt.get_learning_rate`. It is a
    :class:`jopt.ScaleByScheduleState` (int32 ``count``, ``learning_rate``) for a
    schedule, and a :class:`jopt.ScaleByLearningRateState` (``learning_rate`` only) for a
    constant, as optax keeps no count for a constant rate. Given ``params``, ``update``
    checks that the gradients have their structure.

    Args:
      learning_rate: α, a number, a (possibly traced) JAX scalar, or a schedule
        ``count -> value`` evaluated at the number of updates already applied.
      flip_sign: multiply by −α (descent, the default) or by +α.

    Returns:
      An ``optax.GradientTransformationExtraArgs``.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_learning_rate(0.1)
    >>> updates, state = tx.update(jnp.array([1.0, -2.0]), tx.init(jnp.zeros(2)))
    >>> updates
    Array([-0.1,  0.2], dtype=float32)
    """
    sign = -1.0 if flip_sign else 1.0

    def init_fn(params):
        check_params(params)
        return init_learning_rate(learning_rate, params)

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        if params is not None:
            check_tree(updates, params, "the params")
        lr, state = next_learning_rate(learning_rate, state)
        factor = per_dtype(lambda dt: sign * cast(lr, dt))

        def scale(g):
            dt = compute_dtype(g)
            return (g.astype(dt) * factor(dt)).astype(g.dtype)

        return jax.tree.map(scale, updates), state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@checked(state=unchecked("any pytree holding a jopt state; searched by type"))
def get_learning_rate(state: Any) -> jax.Array:
    """The learning rate applied at the last update, read from any jopt optimizer state.

    Works on a bare jopt state, on one nested in ``optax.chain``/``inject_hyperparams``
    and on a Flax ``nnx.Optimizer``'s ``optimizer.opt_state``. A state of parameter
    groups (``param_groups=`` of a ``jopt.compat.torch`` preset) gives one rate per
    group, in the groups' order, as PyTorch's ``scheduler.get_last_lr()`` does. With several
    learning-rate steps in one state, the first in the state's pytree order
    (``jax.tree.leaves``) is returned: in a chain the first step's, in
    ``optax.multi_transform`` the one of the first label in sorted order.

    Args:
      state: an optimizer state (or any pytree holding one).

    Returns:
      The rate, a scalar array in the default float dtype.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.sgd(lambda count: 0.1 * 0.5**count)
    >>> state = tx.init(jnp.zeros(3))
    >>> for _ in range(3):
    ...     _, state = tx.update(jnp.ones(3), state)
    >>> float(jopt.get_learning_rate(state))  # the third step ran at 0.1 * 0.5**2
    0.025
    """
    grouped = find_states(state, (ParamGroupsState,))
    if grouped:  # one rate per group, in the groups' order (scheduler.get_last_lr())
        return jnp.stack([get_learning_rate(g) for g in grouped[0].groups])
    found = find_states(state, (ScaleByLearningRateState, ScaleByScheduleState))
    if not found:
        raise UnnamedValueError(
            "no jopt learning-rate step in this state; it reads states of jopt optimizers "
            "(or chains containing jopt.scale_by_learning_rate)."
        )
    # ``[...]`` reads both a jax.Array and a Flax nnx Variable wrapping one.
    return jnp.asarray(found[0].learning_rate[...])
