"""The one table of tolerances the tests use: how close is "the same numbers".

Each entry is a policy, named for what it compares; a test takes its bound from here
rather than writing a number (an exact comparison needs no entry).
"""

from __future__ import annotations

import numpy as np

TOL: dict[str, dict[type, float]] = {
    # jopt in lockstep with a reference library (torch, Keras, optax, a reference package),
    # fed the same gradient arrays each step: max relative error of the parameters
    "lockstep": {np.float64: 1e-10, np.float32: 2e-5},
    # a formula written out in NumPy (float64), one step or a short trajectory
    "formula": {np.float64: 1e-12, np.float32: 1e-6},
    # the same jopt computation two ways (jit vs eager, vmap vs a loop, a chain of one vs
    # the transformation): rounding only (XLA may fuse or contract to FMA under jit)
    "rounding": {np.float64: 1e-12, np.float32: 1e-5},
    # a schedule against its closed form (or a float32 oracle's values, Keras')
    "schedule": {np.float64: 1e-12, np.float32: 1e-6},
    # a schedule against the rates PyTorch's lr_scheduler sets over hundreds of steps:
    # PyTorch multiplies or recurses step by step (rounding accumulates: 1e-12 in float64,
    # 3e-6 for a float32 product of 320 factors)
    "torch_schedule": {np.float64: 1e-9, np.float32: 1e-5},
    # a schedule at counts near 2**31 and beyond against PyTorch's formula written out in
    # float64 (whose 1 + cos(...) cancels near a trough), relative; and the absolute floor
    # that admits the written-out trough rounding to 0
    "large_count": {np.float64: 1e-7, np.float32: 2e-5},
    "large_count_floor": {np.float64: 1e-15, np.float32: 1e-8},
}


def tol(kind: str, dtype: object = np.float64) -> float:
    """The bound of ``kind`` for values of ``dtype`` (float64 unless said)."""
    return TOL[kind][np.dtype(dtype).type]
