"""Shared pieces: hyperparameter types, dtype rules, tree checks, the learning-rate step.

Dtype rule (every primitive follows it): state and math run in ``compute_dtype(leaf)``,
float32 for bfloat16/float16/float32 leaves and float64 for float64 leaves; results are
cast back to the leaf's dtype. Hyperparameters are cast to that dtype before use, so
nothing mixes dtypes under ``jax_numpy_dtype_promotion="strict"``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jopt._validation import check_learning_rate

Schedule = Callable[[jax.Array], Any]
ScalarOrSchedule = float | jax.Array | Schedule
Scalar = float | jax.Array


def compute_dtype(x: jax.Array) -> jnp.dtype:
    """float32 for 16- and 32-bit floats, the dtype itself when wider (float64)."""
    return _compute_dtype(jnp.dtype(x.dtype if hasattr(x, "dtype") else jnp.asarray(x).dtype))


@functools.cache
def _compute_dtype(dtype: jnp.dtype) -> jnp.dtype:
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"jopt: updates must be floating point, got a leaf of dtype {dtype}.")
    return dtype if jnp.finfo(dtype).bits > 32 else jnp.dtype(jnp.float32)


def stored(x: jax.Array, dtype: Any) -> jax.Array:
    """``x`` rounded to its state ``dtype`` and back: the step uses a moment as stored.

    A no-op for float32/float64 state. For bfloat16 state XLA then reads the new, narrow
    moment instead of recomputing it from the old one (which forced copies of the
    donated state): Adam with bfloat16 m and v moves 28 bytes per parameter, not 40.
    """
    return x if x.dtype == dtype else x.astype(dtype).astype(x.dtype)


def per_dtype(make: Callable[[jnp.dtype], Any]) -> Callable[[jnp.dtype], Any]:
    """``make(dtype)`` memoized for one update: scalar hyperparameter math built once per
    compute dtype instead of once per leaf (fewer ops to trace and compile on big trees)."""
    return functools.cache(make)


def cast(value: Any, dtype: Any) -> jax.Array:
    """A hyperparameter (Python number, array or tracer) as an array of ``dtype``."""
    return jnp.asarray(value).astype(dtype)


def state_dtype(leaf: jax.Array, dtype: Any | None) -> jnp.dtype:
    """The dtype a moment of ``leaf`` is stored in: ``dtype`` if given, else the leaf's own."""
    return jnp.dtype(dtype) if dtype is not None else jnp.asarray(leaf).dtype


def zeros_like(tree: Any, dtype: Any | None = None) -> Any:
    return jax.tree.map(lambda x: jnp.zeros(jnp.shape(x), state_dtype(x, dtype)), tree)


def check_tree(call: str, updates: Any, reference: Any, what: str = "the optimizer state") -> None:
    """Raises ValueError showing both structures when ``updates`` does not match ``reference``."""
    got, want = jax.tree.structure(updates), jax.tree.structure(reference)
    if got != want:
        raise ValueError(
            f"{call}: the gradient tree does not match {what}.\n"
            f"  gradients: {got}\n  state:     {want}\n"
            "Pass gradients with the same structure as the params given to init()."
        )


def increment(count: jax.Array) -> jax.Array:
    """count + 1 as int32, saturating instead of wrapping around."""
    return optax.safe_int32_increment(count)


def evaluate(learning_rate: ScalarOrSchedule, count: jax.Array) -> Any:
    """A constant, or a schedule evaluated at ``count`` (the updates already applied)."""
    return learning_rate(count) if callable(learning_rate) else learning_rate


class ScaleByLearningRateState(NamedTuple):
    """A constant rate's step: ``learning_rate``, the rate every update uses.

    No count: nothing reads one, and its increment would be the step's only scalar
    kernel (about 8 ms more XLA compile for a small tree than optax's stateless step).
    """

    learning_rate: jax.Array


class ScaleByScheduleState(NamedTuple):
    """A schedule's step: ``count``, updates applied so far; ``learning_rate``, the rate
    the last one used (before the first update, the rate the first one will use)."""

    count: jax.Array
    learning_rate: jax.Array


LearningRateState = ScaleByLearningRateState | ScaleByScheduleState


def _lr_array(value: Any) -> jax.Array:
    # One fixed dtype for the recorded rate, whatever the schedule returns, so the
    # state's structure and dtypes never change between init and update.
    return jnp.asarray(value).astype(jnp.result_type(float))


def init_learning_rate(learning_rate: ScalarOrSchedule) -> LearningRateState:
    """The state of a step that applies ``learning_rate`` (a constant or a schedule)."""
    if callable(learning_rate):
        count = jnp.zeros([], jnp.int32)
        return ScaleByScheduleState(count, _lr_array(learning_rate(count)))
    return ScaleByLearningRateState(_lr_array(learning_rate))


def next_learning_rate(
    learning_rate: ScalarOrSchedule, state: LearningRateState
) -> tuple[Any, LearningRateState]:
    """The rate this update applies, and the state after it."""
    if callable(learning_rate):
        lr = learning_rate(state.count)
        return lr, ScaleByScheduleState(increment(state.count), _lr_array(lr))
    return learning_rate, ScaleByLearningRateState(_lr_array(learning_rate))


def scale_by_learning_rate(
    learning_rate: ScalarOrSchedule, *, flip_sign: bool = True
) -> optax.GradientTransformationExtraArgs:
    """Multiplies updates by ``-learning_rate`` (``+learning_rate`` with ``flip_sign=False``).

    ``learning_rate`` is a number, a (possibly traced) JAX scalar, or a schedule
    ``count -> value`` evaluated at the number of updates already applied. The state
    records the rate applied at the last step; read it with :func:`jopt.get_learning_rate`.
    It is a :class:`jopt.ScaleByScheduleState` (int32 ``count``, ``learning_rate``) for a
    schedule, and a :class:`jopt.ScaleByLearningRateState` (``learning_rate`` only) for a
    constant, as optax keeps no count for a constant rate.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_learning_rate(0.1)
    >>> updates, state = tx.update(jnp.array([1.0, -2.0]), tx.init(jnp.zeros(2)))
    >>> updates
    Array([-0.1,  0.2], dtype=float32)
    """
    check_learning_rate("jopt.scale_by_learning_rate", learning_rate)
    sign = -1.0 if flip_sign else 1.0

    def init_fn(params):
        del params
        return init_learning_rate(learning_rate)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        lr, state = next_learning_rate(learning_rate, state)
        factor = per_dtype(lambda dt: sign * cast(lr, dt))

        def scale(g):
            dt = compute_dtype(g)
            return (g.astype(dt) * factor(dt)).astype(g.dtype)

        return jax.tree.map(scale, updates), state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def get_learning_rate(state: Any) -> jax.Array:
    """The learning rate applied at the last update, read from any jopt optimizer state.

    Works on a bare jopt state, on one nested in ``optax.chain``/``inject_hyperparams``
    and on a Flax ``nnx.Optimizer``'s ``optimizer.opt_state``. With several
    learning-rate steps in one chain, the first one found is returned.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.sgd(lambda count: 0.1 * 0.5**count)
    >>> state = tx.init(jnp.zeros(3))
    >>> for _ in range(3):
    ...     _, state = tx.update(jnp.ones(3), state)
    >>> float(jopt.get_learning_rate(state))  # the third step ran at 0.1 * 0.5**2
    0.025
    """
    kinds = (ScaleByLearningRateState, ScaleByScheduleState)
    found = [
        s
        for s in jax.tree.leaves(state, is_leaf=lambda x: isinstance(x, kinds))
        if isinstance(s, kinds)
    ]
    if not found:
        raise ValueError(
            "jopt.get_learning_rate: no jopt learning-rate step in this state; it reads states "
            "of jopt optimizers (or chains containing jopt.scale_by_learning_rate)."
        )
    # ``[...]`` reads both a jax.Array and a Flax nnx Variable wrapping one.
    return jnp.asarray(found[0].learning_rate[...])


def map_leaves(fn: Callable[..., tuple], num_outputs: int, updates: Any, *trees: Any) -> tuple:
    """Applies ``fn(g, *leaves) -> tuple`` leaf-wise and returns ``num_outputs`` trees.

    ``updates`` fixes the structure; every tree in ``trees`` must have the same one.
    """
    out = jax.tree.map(fn, updates, *trees)
    return tuple(jax.tree.map(lambda _, o, i=i: o[i], updates, out) for i in range(num_outputs))
