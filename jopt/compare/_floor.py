"""Least squares with label noise: the problem with a noise floor, its minimum known exactly.

y = X w + noise, the loss ½ mean (xᵀw − y)² over 1000 examples in 50 dimensions with feature
scales from 1 to 0.1 (curvatures 1 … 0.01). The labels' noise cannot be fitted, so the minimum
loss is about ½σ² > 0 and the gradient of a mini-batch at the minimum is not zero: a constant
step keeps SGD moving around the minimum (the noise floor), a decaying one lets it settle.
Fifty directions make an iterate's distance to the minimum a sum of many terms, so it varies
little from seed to seed. The minimizer and the minimum come from a float64 least-squares
solve on the same float32 data the optimizers see.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from jopt.compare._task import Task

EXAMPLES = 1000
DIM = 50
NOISE = 1.0  # σ of the label noise
BATCH_SIZE = 10


@dataclass(frozen=True)
class _LeastSquares:
    def __call__(self, w, batch):
        x, y = batch
        r = x @ w - y
        return 0.5 * jnp.mean(r * r)


def task(seed: int = 0) -> Task:
    rng = np.random.default_rng(seed)
    scales = np.geomspace(1.0, 0.1, DIM)
    x = (rng.standard_normal((EXAMPLES, DIM)) * scales).astype(np.float32)
    w_true = rng.standard_normal(DIM)
    y = (x.astype(np.float64) @ w_true + NOISE * rng.standard_normal(EXAMPLES)).astype(np.float32)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    w_star = np.linalg.lstsq(x64, y64, rcond=None)[0]
    min_loss = 0.5 * float(np.mean((x64 @ w_star - y64) ** 2))
    return Task(
        params=jnp.zeros(DIM, jnp.float32),
        loss=_LeastSquares(),
        data=(jnp.asarray(x), jnp.asarray(y)),
        batch_size=BATCH_SIZE,
        min_loss=min_loss,
        minimizer=jnp.asarray(w_star, jnp.float32),
        title="Least squares with label noise (a noise floor; minimum known)",
    )
