"""Lockstep against a reference torch optimizer that is not torch.optim's (prodigyopt,
dadaptation): each step the gradient is taken once, at jopt's parameters, and the same
arrays go to both (torch: ``p.grad``). Eager on both sides (a few steps of a small tree
cost less than compiling them). The error is max|θ_jopt − θ_ref| / max|θ_ref| over leaves
and steps, as tests/support/parity.py measures it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch

TARGET = 0.5  # the quadratic's minimum, so the estimate sees progress


def init_params() -> dict[str, np.ndarray]:
    """Small leaves of three shapes (float64 NumPy)."""
    rng = np.random.default_rng(0)
    return {"w": rng.normal(size=(3, 4)), "b": rng.normal(size=(4,)), "c": rng.normal(size=(2, 3))}


def gradient(params: dict[str, Any], k: int) -> dict[str, np.ndarray]:
    """The gradient of a quadratic at ``params`` plus a step-dependent wiggle (float64)."""
    out = {}
    for i, (name, p) in enumerate(sorted(params.items())):
        x = np.asarray(p, np.float64)
        wiggle = 0.3 * np.sin(np.arange(x.size).reshape(x.shape) + 1.7 * k + i)
        out[name] = (1.0 + i) * (x - TARGET) + wiggle
    return out


def run(
    tx: optax.GradientTransformation,
    make_torch: Callable[[list[torch.Tensor]], torch.optim.Optimizer],
    dtype: Any,
    steps: int = 8,
    *,
    lr_at: Callable[[int], float] | None = None,
    zero_at: tuple[int, ...] = (),
) -> tuple[float, Any, torch.optim.Optimizer]:
    """Runs ``tx`` and the reference in lockstep for ``steps`` steps in ``dtype``; returns
    the largest relative error, jopt's last state and the torch optimizer. ``lr_at(k)``
    sets torch's ``group['lr']`` before step k (jopt's schedule must give the same);
    the gradient is 0 at the steps in ``zero_at``."""
    np_dtype = np.dtype(dtype)
    tdtype = {np.float32: torch.float32, np.float64: torch.float64}[np_dtype.type]
    start = init_params()
    names = sorted(start)
    params = {n: jnp.asarray(start[n], np_dtype) for n in names}
    tensors = [torch.tensor(start[n].astype(np_dtype), dtype=tdtype) for n in names]
    opt = make_torch(tensors)
    state = tx.init(params)
    worst = 0.0
    for k in range(steps):
        g = gradient(params, k)
        if k in zero_at:
            g = {n: np.zeros_like(x) for n, x in g.items()}
        g = {n: x.astype(np_dtype) for n, x in g.items()}
        updates, state = tx.update({n: jnp.asarray(g[n]) for n in names}, state, params)
        params = optax.apply_updates(params, updates)
        for t, n in zip(tensors, names, strict=True):
            t.grad = torch.tensor(g[n])
        if lr_at is not None:
            for group in opt.param_groups:
                group["lr"] = lr_at(k)
        opt.step()
        for t, n in zip(tensors, names, strict=True):
            ref = t.detach().numpy()
            err = np.max(np.abs(np.asarray(params[n], np.float64) - ref)) / np.max(np.abs(ref))
            worst = max(worst, float(err))
    assert all(x.dtype == np_dtype for x in jax.tree.leaves(params))
    return worst, state, opt
