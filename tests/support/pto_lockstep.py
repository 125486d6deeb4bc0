"""Lockstep against a PyTorch reference optimizer (pytorch_optimizer's classes, or any
``torch.optim.Optimizer``) fed the same gradient arrays as jopt, every step.

The gradients are a fixed sequence of random pytrees (not taken at either side's iterate),
so both optimizers see the very same arrays and only their own arithmetic can differ.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tests.support import trajectory
from tests.support.trajectory import assert_steps_close

SHAPES = {"w": (3, 4), "b": (4,), "m": (2, 3), "s": ()}


def tree(seed: int, shapes: dict[str, Any] = SHAPES, scale: float = 1.0) -> dict[str, np.ndarray]:
    """A pytree of float64 normal draws of ``shapes``."""
    rng = np.random.default_rng(seed)
    return {k: scale * rng.normal(size=s) for k, s in shapes.items()}


def grads(
    steps: int, shapes: dict[str, Any] = SHAPES, seed: int = 100
) -> list[dict[str, np.ndarray]]:
    """``steps`` gradient pytrees of ``shapes``."""
    return [tree(seed + i, shapes) for i in range(steps)]


def cast(t: Any, dtype) -> Any:
    return {k: np.asarray(v, dtype) for k, v in t.items()}


def torch_path(
    make: Callable[[list[Any]], Any],
    params: dict[str, np.ndarray],
    grads_seq: list[dict[str, np.ndarray]],
    dtype=np.float64,
    state_of: Callable[[Any, list[Any]], dict[str, Any]] | None = None,
) -> list[dict[str, np.ndarray]]:
    """The reference's parameters after each step: ``make(tensors)`` builds the torch
    optimizer over the tensors of ``params`` (in ``dtype``), fed ``grads_seq`` as ``.grad``.
    ``state_of(opt, tensors)`` adds entries (e.g. Lookahead's slow weights) to each step's
    record."""
    import torch

    keys = list(params)
    ts = [torch.tensor(np.asarray(params[k], dtype), requires_grad=True) for k in keys]
    opt = make(ts)
    path = []
    for g in grads_seq:
        for t, k in zip(ts, keys, strict=True):
            t.grad = torch.tensor(np.asarray(g[k], dtype))
        opt.step()
        row = {k: t.detach().numpy().copy() for k, t in zip(keys, ts, strict=True)}
        if state_of is not None:
            row.update(state_of(opt, ts))
        path.append(row)
    return path


def assert_lockstep(tx, make, dtype, steps: int = 10, params=None, shapes: dict[str, Any] = SHAPES):
    """jopt's ``tx`` and the reference ``make`` (see :func:`torch_path`) from the same
    ``params`` fed the same gradients, within the lockstep bound of ``dtype``."""
    params = tree(0, shapes) if params is None else params
    gs = [cast(g, dtype) for g in grads(steps, shapes)]
    p0 = cast(params, dtype)
    ours, _ = trajectory.fed(tx, p0, gs)
    theirs = torch_path(make, p0, gs, dtype)
    assert_steps_close(ours, theirs, "lockstep", dtype)
