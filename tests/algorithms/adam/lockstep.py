"""Lockstep runs against a reference torch optimizer (pytorch_optimizer's), fed the same
gradient arrays each step, for the Adam-family tests of issue 21.

Both sides start from the same parameters and receive the same per-step gradient pytree
(random arrays, fixed by a seed, so that nothing either side computes feeds back into the
other's input); the parameters after every step are compared with
:func:`tests.support.trajectory.assert_steps_close` under the "lockstep" tolerance.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
import optax

from tests.support import trajectory

Tree = dict[str, Any]

SHAPES = {"w": (3, 4), "b": (4,), "m": (2, 3)}


def tree(seed: int, shapes: dict[str, tuple[int, ...]] = SHAPES, scale: float = 1.0):
    """A float64 NumPy pytree of normal draws."""
    rng = np.random.default_rng(seed)
    return {k: scale * rng.normal(size=s) for k, s in shapes.items()}


def problem(steps: int = 8, seed: int = 0) -> tuple[Tree, list[Tree]]:
    """Initial parameters and ``steps`` gradient pytrees (float64)."""
    return tree(seed), [tree(seed + 100 + i) for i in range(steps)]


def torch_path(make: Any, params: Tree, grads: list[Tree], dtype: Any) -> Tree:
    """The parameters after each step of the torch optimizer ``make(list_of_tensors)``,
    fed ``grads`` in ``dtype``: a pytree of NumPy arrays with a leading step axis."""
    import torch  # noqa: PLC0415

    tdt = torch.float64 if dtype == np.float64 else torch.float32
    keys = sorted(params)
    ts = [torch.tensor(np.asarray(params[k], dtype), dtype=tdt, requires_grad=True) for k in keys]
    opt = make(ts)
    path = []
    for g in grads:
        for t, k in zip(ts, keys, strict=True):
            t.grad = torch.tensor(np.asarray(g[k], dtype), dtype=tdt)
        opt.step()
        path.append({k: t.detach().numpy().copy() for t, k in zip(ts, keys, strict=True)})
    return trajectory.stack(path)


def jopt_path(tx: optax.GradientTransformation, params: Tree, grads: list[Tree], dtype: Any):
    """The parameters after each step of ``tx`` fed ``grads``, in ``dtype``."""
    cast = lambda t: jax.tree.map(lambda x: np.asarray(x, dtype), t)  # noqa: E731
    path, _ = trajectory.fed(tx, cast(params), [cast(g) for g in grads])
    return path


def assert_lockstep(ours: Any, theirs: Any, dtype: Any) -> float:
    """Every step within the lockstep bound of ``dtype``; returns the largest relative
    error (for the report)."""
    trajectory.assert_steps_close(ours, theirs, "lockstep", dtype)
    return max_error(ours, theirs)


def max_error(ours: Any, theirs: Any) -> float:
    """max over leaves and steps of max|a − b| / max|b|."""
    errs = jax.tree.map(
        lambda a, b: float(np.max(np.abs(np.asarray(a, np.float64) - b)) / np.max(np.abs(b))),
        ours,
        theirs,
    )
    return max(jax.tree.leaves(errs))


def optax_path(tx: optax.GradientTransformation, params: Tree, grads: list[Tree], dtype: Any):
    """:func:`jopt_path` for an optax transformation (optax mixes dtypes: it runs under
    the standard promotion rule, outside the suite's strict one)."""
    with jax.numpy_dtype_promotion("standard"):
        return jopt_path(tx, params, grads, dtype)
