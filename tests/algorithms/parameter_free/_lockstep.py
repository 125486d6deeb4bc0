"""The inputs the parameter-free tests share: a small tree of parameters and the same
gradient arrays for every step, in the dtype under test, and runs of jopt or optax fed them."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from tests.support import trajectory

SHAPES = {"w": (3, 4), "b": (4,), "s": (2, 3)}
DTYPES = [np.float64, np.float32]


def tree(seed: int, dtype: Any, scale: float = 1.0) -> dict[str, np.ndarray]:
    """A tree of SHAPES drawn from N(0, scale²), rounded to ``dtype`` and held as float64
    (so NumPy's float64 oracle sees exactly the values jopt is fed)."""
    rng = np.random.default_rng(seed)
    return {
        k: (scale * rng.normal(size=s)).astype(dtype).astype(np.float64) for k, s in SHAPES.items()
    }


def inputs(dtype: Any, steps: int, seed: int = 0) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Initial params and one gradient tree per step, as float64 holding ``dtype`` values."""
    return tree(seed, dtype), [tree(seed + 100 + t, dtype) for t in range(steps)]


def cast(x: Any, dtype: Any) -> Any:
    return jax.tree.map(lambda a: jnp.asarray(a, dtype), x)


def fed(
    tx: optax.GradientTransformation,
    params: dict[str, Any],
    grads: list[dict[str, Any]],
    dtype: Any,
    **extra: Any,
):
    """The params after each step of ``tx`` fed ``grads`` in ``dtype`` (float64 arrays back),
    with ``extra`` arguments to update given per step as lists (e.g. ``value=[...]``)."""
    if not extra:
        path, _ = trajectory.fed(tx, cast(params, dtype), [cast(g, dtype) for g in grads])
        return jax.tree.map(lambda a: np.asarray(a, np.float64), path)
    p = cast(params, dtype)
    state = tx.init(p)

    @jax.jit
    def step(p, state, g, kw):
        u, state = tx.update(g, state, p, **kw)
        return optax.apply_updates(p, u), state

    path = []
    for t, g in enumerate(grads):
        kw = {k: jnp.asarray(v[t], dtype) for k, v in extra.items()}
        p, state = step(p, state, cast(g, dtype), kw)
        path.append(p)
    return jax.tree.map(lambda a: np.asarray(a, np.float64), trajectory.stack(path))


def assert_close(ours: Any, theirs: Any, dtype: Any) -> None:
    """Lockstep bounds: 1e-10 (float64), 2e-5 (float32), relative to each step's max."""
    trajectory.assert_steps_close(ours, theirs, "lockstep", dtype)
