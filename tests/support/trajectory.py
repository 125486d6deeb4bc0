"""Run a transformation over many steps in one compiled loop, for the formula tests.

A formula test feeds jopt and its NumPy transcription the same inputs and compares every
step. Stepping jopt eagerly costs a dispatch (and, the first time, a compile) per operation
per step; these helpers trace ``tx.update`` once (inside a ``jax.lax.scan``, or one jitted
step in a Python loop) and return NumPy arrays with one row per step. Nothing here computes
a formula: the NumPy side of each test is written out in the test.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from tests.support.tolerances import tol


def gradients(steps: int = 30, *, complex_: bool = False, seed: int = 0) -> list[np.ndarray]:
    """A fixed sequence of float64 (or complex128) gradients of shape (5,), one per step,
    with an entry exactly 0 at step 4 when there are that many steps."""
    rng = np.random.default_rng(seed)
    gs = rng.normal(size=(steps, 5))
    if complex_:
        gs = gs + 1j * rng.normal(size=(steps, 5))
    if steps > 3:
        gs[3, 1] = 0.0
    return list(gs)


def b1_ramp(count):
    """A β1 schedule for NumPy: from 0.9 to 0.7 over 10 steps (count: updates applied)."""
    return 0.9 - 0.2 * np.minimum(count, 10) / 10


def jopt_b1_ramp(count):
    """The same β1 schedule for jopt (count: an int32 array)."""
    return 0.9 - 0.2 * jnp.minimum(count.astype(jnp.float64), 10.0) / 10.0


def stack(steps: Sequence[Any]) -> Any:
    """A list of per-step pytrees of NumPy arrays as one pytree with a leading step axis."""
    return jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *steps)


def updates(tx: optax.GradientTransformation, grads: Any, params: Any = None) -> Any:
    """The updates of ``tx`` fed ``grads`` (a pytree, or a list of pytrees, with one entry
    per step), the params held fixed (zeros like the first gradient unless given): a pytree
    of NumPy arrays with a leading step axis."""
    grads = stack(grads) if isinstance(grads, list) else grads
    grads = jax.tree.map(jnp.asarray, grads)
    if params is None:
        params = jax.tree.map(lambda g: jnp.zeros_like(g[0]), grads)
    params = jax.tree.map(jnp.asarray, params)

    def step(state, g):
        u, state = tx.update(g, state, params)
        return state, u

    run = jax.jit(lambda g: jax.lax.scan(step, tx.init(params), g)[1])
    return jax.tree.map(np.asarray, run(grads))


def fed(tx: optax.GradientTransformation, params: Any, grads: Any) -> tuple[Any, Any]:
    """The params after each step of ``tx`` fed ``grads`` (a list of pytrees, one per step)
    and the final state: ``(pytree of NumPy arrays with a leading step axis, state)``.

    One jitted step in a Python loop: for the large update of a many-leaf tree it compiles
    faster than a ``lax.scan`` (whose body XLA optimizes harder)."""
    params = jax.tree.map(jnp.asarray, params)
    state = tx.init(params)

    @jax.jit
    def step(p, state, g):
        u, state = tx.update(g, state, p)
        return optax.apply_updates(p, u), state

    path = []
    for g in grads:
        params, state = step(params, state, jax.tree.map(jnp.asarray, g))
        path.append(params)
    return stack(path), state


def descent(
    tx: optax.GradientTransformation,
    grad: Callable[[Any], Any],
    params: Any,
    steps: int,
) -> np.ndarray | Any:
    """The params after each of ``steps`` steps of ``tx`` on the gradient ``grad(params)``
    (a JAX function): a pytree of NumPy arrays with a leading step axis."""
    params = jax.tree.map(jnp.asarray, params)

    def step(carry, _):
        p, state = carry
        u, state = tx.update(grad(p), state, p)
        p = optax.apply_updates(p, u)
        return (p, state), p

    run = jax.jit(lambda p: jax.lax.scan(step, (p, tx.init(p)), None, length=steps)[1])
    return jax.tree.map(np.asarray, run(params))


def assert_steps_close(actual: Any, expected: Any, kind: str = "formula", dtype=np.float64):
    """Every step of ``actual`` (a pytree with a leading step axis) within ``tol(kind,
    dtype)`` of ``expected`` (the same, or a list of per-step pytrees): the largest error of
    a leaf at a step, relative to the largest magnitude of the expected leaf there (an
    all-zero expected leaf must be met exactly)."""
    expected = stack(expected) if isinstance(expected, list) else expected
    bound = tol(kind, dtype)
    flat_a, tree_a = jax.tree.flatten(actual)
    flat_e, tree_e = jax.tree.flatten(expected)
    assert tree_a == tree_e, (tree_a, tree_e)
    paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(expected)[0]]
    for path, a, e in zip(paths, flat_a, flat_e, strict=True):
        a, e = np.asarray(a), np.asarray(e)
        assert a.shape == e.shape, (path, a.shape, e.shape)
        for t in range(e.shape[0]):
            scale = float(np.max(np.abs(e[t]), initial=0.0))
            err = float(np.max(np.abs(a[t] - e[t]), initial=0.0))
            assert err <= bound * scale, (
                f"step {t + 1}{path}: error {err:.3g} > {bound:g} x max|expected| {scale:.3g}"
            )


# The deck's test problem E(θ) = Σ a θ² + Σ sin θ: its gradient written out for NumPy, and
# E itself for jax.grad (each side takes the gradient at its own iterate).
DECK_A = np.array([1.0, 3.0, 0.2, 5.0])
DECK_THETA0 = np.array([1.5, -0.8, 2.0, 0.3])


def deck_grad_np(theta: np.ndarray) -> np.ndarray:
    """∇E(θ) = 2aθ + cos θ, in NumPy."""
    return 2 * DECK_A * theta + np.cos(theta)


def deck_loss(theta: jax.Array) -> jax.Array:
    """E(θ) in JAX (jopt's side differentiates it)."""
    return jnp.sum(jnp.asarray(DECK_A) * theta**2) + jnp.sum(jnp.sin(theta))


def deck_descent(tx: optax.GradientTransformation, steps: int) -> np.ndarray:
    """jopt's iterates θ_1 … θ_steps on E from DECK_THETA0 (float64)."""
    return descent(tx, jax.grad(deck_loss), DECK_THETA0, steps)
