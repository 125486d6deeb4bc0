"""Shared pieces: hyperparameter types, the feature rule, dtype rules, state creation,
tree checks and the learning-rate step.

Dtype rule (every primitive follows it): math runs in ``compute_dtype(leaf)``: float32
for bfloat16/float16/float32 leaves, float64 for float64 leaves, the leaf's own complex
dtype for complex leaves. Moments are stored in the leaf's dtype, except float16 leaves,
whose moments are float32 (float16 underflows at 6e-8: Adam's v of a 1e-4 gradient is
0 there); ``mu_dtype``/``nu_dtype`` override it. Second moments of complex leaves are
real (|g|², as optax). Hyperparameters are cast to the dtype they multiply, so nothing
mixes dtypes under ``jax_numpy_dtype_promotion="strict"``.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Callable
from typing import Any, NamedTuple, TypeGuard

import jax
import jax.core
import jax.numpy as jnp
import numpy as np
import optax
from jax.experimental.shard_alike import shard_alike
from jax.sharding import NamedSharding, PartitionSpec

from jopt._validation import check_flag, check_learning_rate

Schedule = Callable[[jax.Array], Any]
Scalar = float | jax.Array
ScalarOrSchedule = float | jax.Array | Schedule


def requested(value: Any) -> TypeGuard[ScalarOrSchedule]:
    """Whether an optional feature (momentum, dampening, weight decay, ...) is on.

    Off for ``None`` and for a concrete zero given as a Python or NumPy scalar; on for
    anything else, including every JAX array (it may be traced, or changed later by
    ``optax.inject_hyperparams``, so its value cannot decide the state's layout) and
    every schedule. The state layout therefore depends only on what the caller asked for.

    >>> import jax.numpy as jnp, numpy as np
    >>> [requested(v) for v in (None, 0.0, np.float32(0), 0.9, jnp.asarray(0.0))]
    [False, False, False, True, True]
    """
    if value is None:
        return False
    if isinstance(value, (int, float, np.number, np.ndarray)) and not isinstance(value, bool):
        return not (np.ndim(value) == 0 and value == 0)
    return True


def evaluate(value: Any, count: jax.Array) -> Any:
    """A constant, or a schedule evaluated at ``count`` (the updates already applied)."""
    return value(count) if callable(value) else value


# ------------------------------------------------------------------------------- dtypes


def compute_dtype(x: Any) -> jnp.dtype:
    """float32 for 16- and 32-bit floats, float64 for float64, complex dtypes as they are."""
    return _compute_dtype(jnp.dtype(x.dtype if hasattr(x, "dtype") else jnp.asarray(x).dtype))


@functools.cache
def _compute_dtype(dtype: jnp.dtype) -> jnp.dtype:
    if jnp.issubdtype(dtype, jnp.complexfloating):
        return dtype
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(
            f"jopt: updates must be floating point or complex, got a leaf of dtype {dtype}."
        )
    return dtype if jnp.finfo(dtype).bits > 32 else jnp.dtype(jnp.float32)


def real_dtype(dtype: Any) -> jnp.dtype:
    """The real dtype of the same precision (float32 for complex64)."""
    return jnp.dtype(jnp.finfo(dtype).dtype)


def cast(value: Any, dtype: Any) -> jax.Array:
    """A hyperparameter (Python number, array or tracer) as an array of ``dtype``."""
    return jnp.asarray(value).astype(dtype)


def per_dtype(make: Callable[[jnp.dtype], Any]) -> Callable[[jnp.dtype], Any]:
    """``make(dtype)`` memoized for one update: scalar hyperparameter math built once per
    compute dtype instead of once per leaf (fewer ops to trace and compile on big trees)."""
    return functools.cache(make)


def stored(x: jax.Array, dtype: Any) -> jax.Array:
    """``x`` rounded to its state ``dtype`` and back: the step uses a moment as stored.

    A no-op for float32/float64 state. For bfloat16 state XLA then reads the new, narrow
    moment instead of recomputing it from the old one (which forced copies of the
    donated state): Adam with bfloat16 m and v moves 28 bytes per parameter, not 40.
    """
    return x if x.dtype == dtype else x.astype(dtype).astype(x.dtype)


def state_dtype(leaf: Any, dtype: Any | None = None, *, real: bool = False) -> jnp.dtype:
    """The dtype a moment of ``leaf`` is stored in (the module docstring's rule).

    ``real=True`` for a second moment (|g|²): real for complex leaves.
    """
    leaf_dtype = jnp.dtype(leaf.dtype if hasattr(leaf, "dtype") else jnp.asarray(leaf).dtype)
    if jnp.issubdtype(leaf_dtype, jnp.complexfloating):
        return real_dtype(leaf_dtype) if real else leaf_dtype
    if dtype is not None:
        return jnp.dtype(dtype)
    if leaf_dtype == jnp.float16:
        return jnp.dtype(jnp.float32)
    return leaf_dtype


# ------------------------------------------------------------------------ state creation


def check_params(call: str, params: Any) -> None:
    """Raises TypeError naming the first leaf that is not floating point or complex."""
    for path, leaf in jax.tree_util.tree_leaves_with_path(params):
        dtype = jnp.dtype(leaf.dtype if hasattr(leaf, "dtype") else jnp.asarray(leaf).dtype)
        if not jnp.issubdtype(dtype, jnp.inexact):
            raise TypeError(
                f"{call}: init() got the parameter {jax.tree_util.keystr(path) or '(root)'} of "
                f"dtype {dtype}; parameters must be floating point or complex (an integer "
                "parameter cannot take a fractional step). Cast it, e.g. x.astype(jnp.float32), "
                "or keep it out of the optimizer (optax.masked / optax.set_to_zero)."
            )


def check_real_params(call: str, params: Any, why: str) -> None:
    """Raises TypeError naming the first complex leaf, for math that needs real numbers
    (``why`` says which, and what to use instead)."""
    for path, leaf in jax.tree_util.tree_leaves_with_path(params):
        if jnp.iscomplexobj(leaf):
            raise TypeError(
                f"{call}: init() got the complex parameter "
                f"{jax.tree_util.keystr(path) or '(root)'}; {why}"
            )


def require_params(call: str, params: Any, why: str) -> None:
    """Raises ValueError when an update that reads the parameters got none."""
    if params is None:
        raise ValueError(
            f"{call}: update() needs params {why}; call tx.update(grads, state, params)."
        )


def moments_like(
    call: str, params: Any, dtype: Any | None = None, *, fill: Any = 0.0, real: bool = False
) -> Any:
    """One new array per parameter, filled with ``fill``, in ``state_dtype``.

    Each array is its own buffer (donation needs that) and is created where its
    parameter lives, so no full-size moment of a sharded parameter is ever built on one
    device: eagerly, ``jnp.full_like`` gives it a committed parameter's sharding (each
    device fills its own shard); under ``jit`` it is tied to its parameter with
    ``shard_alike``, so XLA gives both one sharding on a mesh with ``Auto`` axes too
    (``Explicit`` axes carry the sharding in the type already).
    """
    check_params(call, params)

    def make(p):
        dt = state_dtype(p, dtype, real=real)
        if isinstance(fill, (int, float)) and fill == 0:
            return zeros_placed_like(p, dt)
        return _tie(p, jnp.full_like(p, cast(fill, dt), dtype=dt))

    return jax.tree.map(make, params)


def zeros_placed_like(like: Any, dtype: Any) -> jax.Array:
    """A new zero array of ``like``'s shape in ``dtype``, placed as ``like`` (see
    :func:`moments_like`)."""
    return _tie(like, jnp.zeros_like(like, dtype=dtype))


def _tie(like: Any, new: jax.Array) -> jax.Array:
    # Eagerly *_like already places new as a committed like; under jit it depends on
    # no value of like, so nothing would make XLA shard the two alike (Auto axes).
    return shard_alike(like, new)[1] if isinstance(like, jax.core.Tracer) else new


def _replicated(params: Any) -> jax.sharding.Sharding | None:
    # Where jit puts a scalar output of a step over these params: replicated over the
    # devices of the first committed parameter (None: nothing committed, or traced).
    for leaf in jax.tree.leaves(params):
        if isinstance(leaf, jax.core.Tracer) or not isinstance(leaf, jax.Array):
            continue
        if not leaf.committed:
            continue
        sharding = leaf.sharding
        if isinstance(sharding, NamedSharding):
            return NamedSharding(sharding.mesh, PartitionSpec())
        return sharding if len(sharding.device_set) == 1 else None
    return None


def scalar(params: Any, value: Any, dtype: Any) -> jax.Array:
    """A new state scalar (its own buffer) holding ``value`` as ``dtype``.

    Replicated over the devices of committed ``params`` (e.g. sharded over a mesh), as
    ``jit`` returns it from a step, so the second step finds the state where the first
    left it and does not compile again; uncommitted for uncommitted params, traced
    under a trace.
    """
    x = jnp.array(value, dtype)
    sharding = _replicated(params)
    if sharding is None or isinstance(x, jax.core.Tracer):
        return x
    return jax.device_put(x, sharding)


def zero_count(params: Any) -> jax.Array:
    """A new int32 step count, 0, placed as :func:`scalar` places it."""
    return scalar(params, 0, jnp.int32)


def increment(count: jax.Array) -> jax.Array:
    """count + 1 as int32, saturating instead of wrapping around."""
    return typing.cast(jax.Array, optax.safe_int32_increment(count))


def check_tree(call: str, updates: Any, reference: Any, what: str = "the optimizer state") -> None:
    """Raises ValueError showing both structures when ``updates`` does not match ``reference``."""
    got, want = jax.tree.structure(updates), jax.tree.structure(reference)
    if got != want:
        raise ValueError(
            f"{call}: the gradient tree does not match {what}.\n"
            f"  gradients: {got}\n  {what.split()[-1] + ':':<10} {want}\n"
            "Pass gradients with the same structure as the params given to init()."
        )


def map_leaves(
    fn: Callable[..., tuple[Any, ...]], num_outputs: int, updates: Any, *trees: Any
) -> tuple[Any, ...]:
    """Applies ``fn(g, *leaves) -> tuple`` leaf-wise and returns ``num_outputs`` trees.

    ``updates`` fixes the structure; every tree in ``trees`` must have the same one.
    ``fn``'s first output is the update, the others new state leaves.

    On a mesh with ``Explicit`` axes a state leaf may be sharded apart from its
    gradient (ZeRO-1: :func:`jopt.sharding.state_shardings` with ``zero_axis``), and
    explicit shardings do not mix: ``fn`` then runs in the first such state leaf's
    sharding (the gradient and every other leaf of its shape resharded to it, so each
    device updates its own slice) and the update is resharded back to the gradient's
    (an all-gather). ``Auto`` axes leave that to XLA.
    """

    def run(g, *leaves):
        have = _explicit(g)
        want = next((w for x in leaves if _apart(w := _explicit(x), x, g, have)), None)
        if want is None:
            return fn(g, *leaves)
        moved = [
            jax.sharding.reshard(x, want) if _apart(_explicit(x), x, g, want) else x
            for x in (g, *leaves)
        ]
        out = fn(*moved)
        back = have if have is not None else NamedSharding(want.mesh, PartitionSpec())
        return (jax.sharding.reshard(out[0], back), *out[1:])

    out = jax.tree.map(run, updates, *trees)
    return tuple(jax.tree.map(lambda _, o, i=i: o[i], updates, out) for i in range(num_outputs))


def _apart(sharding: Any, x: Any, g: Any, other: Any) -> bool:
    # x, an array of g's shape, is explicitly sharded (as sharding) other than other
    if sharding is None or jnp.shape(x) != jnp.shape(g):
        return False
    return other is None or _spec(sharding, g) != _spec(other, g)


def gathered(fn: Callable[[jax.Array], jax.Array], x: jax.Array) -> jax.Array:
    """``fn(x)`` on the whole of ``x``: an ``x`` sharded over ``Explicit`` mesh axes is
    gathered first and the result resharded as ``x`` (for math on a whole matrix, such as
    Muon's Newton–Schulz products, which explicit shardings cannot contract); otherwise
    ``fn(x)`` as it is (``Auto`` axes: XLA places the products)."""
    have = _explicit(x)
    if have is None or all(e is None for e in have.spec):
        return fn(x)
    whole = fn(jax.sharding.reshard(x, NamedSharding(have.mesh, PartitionSpec())))
    return jax.sharding.reshard(whole, have)


def _explicit(x: Any) -> Any:
    # The sharding a value's type carries over Explicit mesh axes (None: none does, or
    # x is not an array, e.g. a factored statistic's NamedTuple).
    if not isinstance(x, (jax.Array, np.ndarray, np.generic)):
        return None
    sharding = getattr(jax.typeof(x), "sharding", None)
    if sharding is None or jax.sharding.AxisType.Explicit not in sharding.mesh.axis_types:
        return None
    return sharding


def _spec(sharding: Any, x: Any) -> tuple[Any, ...]:
    spec = tuple(sharding.spec)
    return spec + (None,) * (jnp.ndim(x) - len(spec))


# ------------------------------------------------------------------------------ chains


def chain(*transforms: optax.GradientTransformation) -> optax.GradientTransformationExtraArgs:
    """``optax.chain`` whose inner updates run in the compute dtype.

    The updates enter as float32 (float16/bfloat16 leaves) and leave in the gradients'
    dtype only after the last transform: the learning rate is applied before the cast,
    so a large direction never overflows float16 on its way to a small step. The state is
    ``optax.chain``'s, unchanged.
    """
    return in_compute_dtype(optax.chain(*transforms))


def in_compute_dtype(inner: optax.GradientTransformation) -> optax.GradientTransformationExtraArgs:
    """``inner`` fed updates in the compute dtype, its output cast back to the gradients'
    dtypes (what :func:`chain` does to its chain); the state is ``inner``'s."""
    inner = optax.with_extra_args_support(inner)

    def update_fn(updates, state, params=None, **extra_args):
        wide = jax.tree.map(lambda g: g.astype(compute_dtype(g)), updates)
        out, state = inner.update(wide, state, params, **extra_args)
        return jax.tree.map(lambda u, g: u.astype(g.dtype), out, updates), state

    return optax.GradientTransformationExtraArgs(inner.init, update_fn)


# ------------------------------------------------------------------- the learning rate


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


def init_learning_rate(
    learning_rate: ScalarOrSchedule, params: Any, counted: bool = False
) -> LearningRateState:
    """The state of a step that applies ``learning_rate`` (a constant or a schedule),
    its scalars placed for ``params`` (see :func:`scalar`).

    ``counted=True`` keeps a count for a constant rate too (another scheduled
    hyperparameter of the same step reads it).
    """
    dtype = jnp.result_type(float)
    if callable(learning_rate) or counted:
        count = zero_count(params)
        return ScaleByScheduleState(count, scalar(params, evaluate(learning_rate, count), dtype))
    return ScaleByLearningRateState(scalar(params, learning_rate, dtype))


def next_learning_rate(
    learning_rate: ScalarOrSchedule, state: LearningRateState
) -> tuple[Any, LearningRateState]:
    """The rate this update applies, and the state after it."""
    if isinstance(state, ScaleByScheduleState):
        lr = evaluate(learning_rate, state.count)
        return lr, ScaleByScheduleState(increment(state.count), _lr_array(lr))
    if not isinstance(learning_rate, jax.Array):
        # A number: init recorded it and it never changes. Passing the state through
        # keeps the recorded rate where init placed it (a constant output of a jitted
        # step that uses no other input lands uncommitted on one device).
        return learning_rate, state
    return learning_rate, ScaleByLearningRateState(_lr_array(learning_rate))


def _scale_by_learning_rate(
    call: str, learning_rate: ScalarOrSchedule, flip_sign: bool = True
) -> optax.GradientTransformationExtraArgs:
    sign = -1.0 if flip_sign else 1.0

    def init_fn(params):
        check_params(call, params)
        return init_learning_rate(learning_rate, params)

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        if params is not None:
            check_tree(call, updates, params, "the params")
        lr, state = next_learning_rate(learning_rate, state)
        factor = per_dtype(lambda dt: sign * cast(lr, dt))

        def scale(g):
            dt = compute_dtype(g)
            return (g.astype(dt) * factor(dt)).astype(g.dtype)

        return jax.tree.map(scale, updates), state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def scale_by_learning_rate(
    learning_rate: ScalarOrSchedule, *, flip_sign: bool = True
) -> optax.GradientTransformationExtraArgs:
    """Multiplies updates by ``-learning_rate`` (``+learning_rate`` with ``flip_sign=False``).

    ``learning_rate`` is a number, a (possibly traced) JAX scalar, or a schedule
    ``count -> value`` evaluated at the number of updates already applied. The state
    records the rate applied at the last step; read it with :func:`jopt.get_learning_rate`.
    It is a :class:`jopt.ScaleByScheduleState` (int32 ``count``, ``learning_rate``) for a
    schedule, and a :class:`jopt.ScaleByLearningRateState` (``learning_rate`` only) for a
    constant, as optax keeps no count for a constant rate. Given ``params``, ``update``
    checks that the gradients have their structure.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.scale_by_learning_rate(0.1)
    >>> updates, state = tx.update(jnp.array([1.0, -2.0]), tx.init(jnp.zeros(2)))
    >>> updates
    Array([-0.1,  0.2], dtype=float32)
    """
    call = "jopt.scale_by_learning_rate"
    check_learning_rate(call, learning_rate)
    check_flag(call, "flip_sign", flip_sign)
    return _scale_by_learning_rate(call, learning_rate, flip_sign)


def find_states(state: Any, kinds: tuple[type, ...]) -> list[Any]:
    """The NamedTuple states of the given classes inside ``state``, outermost first
    (through ``optax.chain``, ``inject_hyperparams`` and Flax ``nnx.Optimizer`` states)."""
    return [
        s
        for s in jax.tree.leaves(state, is_leaf=lambda x: isinstance(x, kinds))
        if isinstance(s, kinds)
    ]


def get_learning_rate(state: Any) -> jax.Array:
    """The learning rate applied at the last update, read from any jopt optimizer state.

    Works on a bare jopt state, on one nested in ``optax.chain``/``inject_hyperparams``
    and on a Flax ``nnx.Optimizer``'s ``optimizer.opt_state``. With several
    learning-rate steps in one state, the first in the state's pytree order
    (``jax.tree.leaves``) is returned: in a chain the first step's, in
    ``optax.multi_transform`` the one of the first label in sorted order.

    >>> import jax.numpy as jnp, jopt
    >>> tx = jopt.sgd(lambda count: 0.1 * 0.5**count)
    >>> state = tx.init(jnp.zeros(3))
    >>> for _ in range(3):
    ...     _, state = tx.update(jnp.ones(3), state)
    >>> float(jopt.get_learning_rate(state))  # the third step ran at 0.1 * 0.5**2
    0.025
    """
    found = find_states(state, (ScaleByLearningRateState, ScaleByScheduleState))
    if not found:
        raise ValueError(
            "jopt.get_learning_rate: no jopt learning-rate step in this state; it reads states "
            "of jopt optimizers (or chains containing jopt.scale_by_learning_rate)."
        )
    # ``[...]`` reads both a jax.Array and a Flax nnx Variable wrapping one.
    return jnp.asarray(found[0].learning_rate[...])
