"""The digits MLP of ``jopt-compare``, public for the benchmarks and examples that train it.

The one definition of the model (64 inputs, 32 ReLU hidden units, 10 logits: 64-32-10) and of
the stratified splits of scikit-learn's bundled digits (pixels scaled to [0, 1]). Needs the
``examples`` extra (Flax NNX, scikit-learn).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np
from flax import nnx

BATCH_SIZE = 64  # mini-batch size of the study
HIDDEN = 32  # hidden units


class MLP(nnx.Module):
    """64-``hidden``-10 ReLU MLP on the 8×8 digit images (flattened)."""

    def __init__(self, hidden: int = HIDDEN, *, rngs: nnx.Rngs):
        self.l1 = nnx.Linear(64, hidden, rngs=rngs)
        self.l2 = nnx.Linear(hidden, 10, rngs=rngs)

    def __call__(self, x):
        return self.l2(jax.nn.relu(self.l1(x)))


@dataclass
class DigitsData:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load(seed: int) -> DigitsData:
    """Stratified splits: 25% test, then 20% of the rest for validation; float32 x, int32 y."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    y = y.astype(np.int32)
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=0.25, random_state=seed, stratify=y
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=0.2, random_state=seed, stratify=y_rest
    )
    return DigitsData(x_train, y_train, x_val, y_val, x_test, y_test)
