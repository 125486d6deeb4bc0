"""Contract checks for gradient transformations, public so users can test their own.

jopt runs these over every optimizer it ships; they work on any
``optax.GradientTransformation``. Each raises ``AssertionError`` saying what broke.

>>> import jax.numpy as jnp, jopt
>>> params = {"w": jnp.ones((2, 3)), "b": jnp.zeros(3, jnp.bfloat16)}
>>> grads = {"w": jnp.full((2, 3), 0.5), "b": jnp.ones(3, jnp.bfloat16)}
>>> jopt.testing.check_transformation(jopt.adam(1e-2), params, grads)
>>> jopt.testing.check_vmap(lambda lr: jopt.sgd(lr, 0.9), params, grads, [0.1, 0.2, 0.3])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jopt.sharding._testing import check_on_mesh

# Per-dtype tolerance for "the same numbers": jit fuses ops (and may contract to FMA),
# eager does not, so only rounding-level differences are allowed.
_RTOL = {
    jnp.dtype(jnp.float64): 1e-12,
    jnp.dtype(jnp.float32): 1e-5,
    jnp.dtype(jnp.float16): 1e-2,
    jnp.dtype(jnp.bfloat16): 2e-2,
}


def _rtol(dtype) -> float:
    return _RTOL.get(jnp.dtype(dtype), 1e-5)


def assert_trees_close(actual: Any, expected: Any, what: str = "trees") -> None:
    """Same structure, dtypes and shapes, values equal to each leaf dtype's rounding.

    Args:
      actual: the tree to check.
      expected: the tree it must equal.
      what: the name the error message gives ``actual``.

    Returns:
      None; raises ``AssertionError`` naming the first leaf that differs (its path).

    >>> import jax.numpy as jnp, jopt
    >>> jopt.testing.assert_trees_close({"a": jnp.ones(2)}, {"a": jnp.ones(2) + 1e-7})
    >>> jopt.testing.assert_trees_close({"a": jnp.ones(2)}, {"a": jnp.ones(2, jnp.bfloat16)})
    Traceback (most recent call last):
    ...
    AssertionError: trees['a']: dtype float32 != bfloat16
    """
    sa, se = jax.tree.structure(actual), jax.tree.structure(expected)
    assert sa == se, f"{what}: structures differ:\n  {sa}\n  {se}"
    for path, a, e in zip(
        [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_leaves_with_path(actual)],
        jax.tree.leaves(actual),
        jax.tree.leaves(expected),
        strict=True,
    ):
        a, e = jnp.asarray(a), jnp.asarray(e)
        assert a.dtype == e.dtype, f"{what}{path}: dtype {a.dtype} != {e.dtype}"
        assert a.shape == e.shape, f"{what}{path}: shape {a.shape} != {e.shape}"
        if jnp.issubdtype(a.dtype, jnp.inexact):
            rtol = _rtol(a.dtype)
            np.testing.assert_allclose(
                np.asarray(a, np.float64),
                np.asarray(e, np.float64),
                rtol=rtol,
                atol=rtol,
                err_msg=f"{what}{path}",
            )
        else:
            np.testing.assert_array_equal(np.asarray(a), np.asarray(e), err_msg=f"{what}{path}")


def _signature(tree: Any) -> tuple[Any, ...]:
    leaves = jax.tree.leaves(tree)
    return jax.tree.structure(tree), [(jnp.shape(x), jnp.asarray(x).dtype) for x in leaves]


def _counts(state: Any) -> list[Any]:
    # Every NamedTuple field named ``count``, nested states (a wrapper's) included.
    return [
        leaf
        for path, leaf in jax.tree_util.tree_leaves_with_path(state)
        if path and isinstance(path[-1], jax.tree_util.GetAttrKey) and path[-1].name == "count"
    ]


def _buffers(x: Any) -> list[int]:
    return [shard.data.unsafe_buffer_pointer() for shard in x.addressable_shards]


def _check_distinct_buffers(state: Any) -> None:
    seen: dict[int, str] = {}
    for path, leaf in jax.tree_util.tree_leaves_with_path(state):
        if not isinstance(leaf, jax.Array):
            continue
        name = jax.tree_util.keystr(path)
        for pointer in _buffers(leaf):
            assert pointer not in seen, (
                f"state leaves {seen[pointer]} and {name} share one buffer; init must create "
                "a new array for each (a donated step would fail: 'Attempt to donate the "
                "same buffer twice')"
            )
            seen[pointer] = name


def check_transformation(
    tx: optax.GradientTransformation,
    params: Any,
    grads: Any,
    *,
    steps: int = 3,
    require_count: bool = False,
    mesh: jax.sharding.Mesh | None = None,
    **extra_args: Any,
) -> None:
    """Checks the contract every jopt optimizer meets, on ``steps`` updates.

    - ``update`` keeps each leaf's dtype and shape, and the updates are finite;
    - the state keeps its tree structure, shapes and dtypes from ``init`` on;
    - every state array sits in a NamedTuple field, every ``count`` field is an int32
      scalar, and (``require_count=True``, e.g. for a schedule) there is one;
    - no two state leaves share a buffer, and a ``jax.jit`` step with params and state
      donated (``donate_argnums=(0, 1)``) gives the eager numbers and compiles once for
      all steps;
    - all of it under ``jax_numpy_dtype_promotion="strict"``.

    Given a ``mesh``, also on params and grads sharded over it (a leaf already sharded
    with a ``NamedSharding`` keeps it; any other goes, each mesh axis in turn, on its
    first free dimension that the axis size divides, else stays replicated):

    - ``init`` builds every state leaf that mirrors a sharded parameter with that
      parameter's sharding (:func:`jopt.sharding.state_shardings`), never whole on one
      device. What mirrors a parameter is read from the state's declaration only: a
      field of your own state with one entry per parameter must be annotated
      :data:`jopt.sharding.PerParam` (a factored statistic's fields
      :class:`jopt.sharding.Reduced`); an undeclared field is expected replicated;
    - the jitted update returns every state leaf with that sharding (scalars
      replicated) and the params with theirs, and compiles once for all steps (a
      scalar left uncommitted at ``init`` costs a second compile);
    - its params, state and updates equal the eager steps' on ``params`` as given
      (a single-device run, for single-device ``params``).

    Args:
      tx: the transformation to check.
      params: the parameters (a pytree of arrays).
      grads: the gradients every update is given (the structure of ``params``).
      steps: the updates taken.
      require_count: the state must hold a NamedTuple with a ``count`` field.
      mesh: a mesh to also run the checks sharded over, or None.
      **extra_args: passed to every ``update`` (e.g. ``value=loss``).

    Returns:
      None; raises ``AssertionError`` saying which part of the contract failed.

    >>> import jax.numpy as jnp, optax, jopt
    >>> params, grads = {"w": jnp.ones(3)}, {"w": jnp.full(3, 0.5)}
    >>> jopt.testing.check_transformation(jopt.sgd(0.1, momentum=0.9), params, grads)
    >>> jopt.testing.check_transformation(optax.sgd(0.1), params, grads, require_count=True)
    Traceback (most recent call last):
    ...
    AssertionError: no NamedTuple with a `count` field in the state

    On 8 devices, w split over both mesh axes (b, odd-sized, replicated):

    >>> import jax
    >>> mesh = jax.make_mesh((2, 4), ("data", "model"))
    >>> params = {"w": jnp.ones((4, 8)), "b": jnp.zeros(5)}
    >>> grads = {"w": jnp.full((4, 8), 0.5), "b": jnp.ones(5)}
    >>> jopt.testing.check_transformation(jopt.adam(1e-2), params, grads, mesh=mesh)
    """
    with jax.numpy_dtype_promotion("strict"):
        state = tx.init(params)
        init_sig = _signature(state)
        for path, _ in jax.tree_util.tree_leaves_with_path(state):
            assert any(isinstance(k, jax.tree_util.GetAttrKey) for k in path), (
                f"state leaf {jax.tree_util.keystr(path)} is not inside a NamedTuple field"
            )
        _check_distinct_buffers(state)
        counts = _counts(state)
        assert counts or not require_count, "no NamedTuple with a `count` field in the state"
        for c in counts:
            assert jnp.asarray(c).dtype == jnp.int32 and jnp.shape(c) == (), (
                f"count must be an int32 scalar, got {jnp.asarray(c).dtype}{jnp.shape(c)}"
            )

        def step(p, s):
            u, s = tx.update(grads, s, p, **extra_args)
            return optax.apply_updates(p, u), s, u

        eager, p, s = [], params, state
        for i in range(steps):
            # Check the update before applying it: a wrong dtype should be named as such,
            # not surface as a promotion error inside apply_updates.
            u, _ = tx.update(grads, s, p, **extra_args)
            assert_trees_close(
                jax.tree.map(lambda x: jnp.zeros(jnp.shape(x), jnp.asarray(x).dtype), u),
                jax.tree.map(lambda x: jnp.zeros(jnp.shape(x), jnp.asarray(x).dtype), grads),
                f"update {i + 1} (dtype/shape vs grads)",
            )
            p, s, u = step(p, s)
            eager.append((p, s, u))
            for leaf in jax.tree.leaves(u):
                assert bool(jnp.all(jnp.isfinite(leaf))), f"update {i + 1} is not finite: {leaf}"
            assert _signature(s) == init_sig, (
                f"state after update {i + 1} changed structure or dtypes:\n"
                f"  init:  {init_sig}\n  now:   {_signature(s)}"
            )

        # One jitted step, as a training step is written (the README's advice): params
        # and state donated, so every state leaf must be a buffer of its own, or XLA
        # refuses the donation. It gives the eager numbers and traces once for all steps.
        traces = 0

        def traced_step(p, s):
            nonlocal traces
            traces += 1
            return step(p, s)

        donated = jax.jit(traced_step, donate_argnums=(0, 1))
        p, s = jax.tree.map(jnp.copy, params), jax.tree.map(jnp.copy, tx.init(params))
        for i in range(steps):
            try:
                p, s, u = donated(p, s)
            except Exception as error:  # XLA names the problem; say where it came from
                raise AssertionError(
                    f"a jitted step with donated params and state failed: {error}"
                ) from error
            assert_trees_close((p, s, u), eager[i], f"jit (donated) vs eager, step {i + 1}")
        assert traces == 1, f"jit traced the update {traces} times in {steps} steps (expected 1)"

        if mesh is not None:
            check_on_mesh(tx, params, grads, mesh, eager, extra_args, assert_trees_close)


def check_vmap(
    make: Callable[[Any], optax.GradientTransformation],
    params: Any,
    grads: Any,
    values: Sequence[float],
    *,
    steps: int = 3,
    **extra_args: Any,
) -> None:
    """``jax.vmap`` over a hyperparameter equals separate runs, and needs one compile.

    Args:
      make: ``make(value)`` builds the transformation (e.g. ``lambda lr: jopt.adam(lr)``).
      params: the parameters (a pytree of arrays).
      grads: the gradients every update is given.
      values: the hyperparameter values, run batched and one by one.
      steps: the updates taken.
      **extra_args: passed to every ``update`` (e.g. ``value=loss``).

    Returns:
      None; raises ``AssertionError`` where the batched run differs from the separate
      ones or compiles more than once.

    >>> import jax.numpy as jnp, jopt
    >>> params, grads = {"w": jnp.ones(3)}, {"w": jnp.full(3, 0.5)}
    >>> jopt.testing.check_vmap(lambda lr: jopt.adam(lr), params, grads, [1e-3, 1e-2, 1e-1])
    """
    if len(values) == 0:
        raise ValueError("jopt.testing.check_vmap: values is empty; give at least one value.")
    traces = 0

    def run(value):
        nonlocal traces
        traces += 1
        tx = make(value)
        p, s = params, tx.init(params)
        for _ in range(steps):
            u, s = tx.update(grads, s, p, **extra_args)
            p = optax.apply_updates(p, u)
        return p

    with jax.numpy_dtype_promotion("strict"):
        dtype = jnp.result_type(float)
        batched = jax.vmap(run)(jnp.asarray(values, dtype))
        for i, v in enumerate(values):
            single = run(float(v))
            assert_trees_close(
                jax.tree.map(lambda x, i=i: x[i], batched), single, f"vmap[{i}] (value {v})"
            )
        traces = 0
        jitted = jax.jit(run)
        for v in values:
            jitted(jnp.asarray(v, dtype))
        assert traces == 1, f"jit retraced for each value: {traces} traces for {len(values)}"
