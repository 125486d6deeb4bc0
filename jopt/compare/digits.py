"""The digits MLP of ``jopt-compare``, public for the benchmarks and examples that train it.

The one definition of the model (64 inputs, 32 ReLU hidden units, 10 logits: 64-32-10), of
the stratified splits of scikit-learn's bundled digits (pixels scaled to [0, 1]) and of the
study's ``digits`` problem as a ``jopt.compare.Task``: ``jopt-compare --problem
jopt.compare.digits:task`` runs the built-in problem through the user's path. Needs the
``examples`` extra (Flax NNX, scikit-learn).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from jopt.compare._task import Task

BATCH_SIZE = 64  # mini-batch size of the study
HIDDEN = 32  # hidden units


class MLP(nnx.Module):
    """64-``hidden``-10 ReLU MLP on the 8×8 digit images (flattened)."""

    def __init__(self, hidden: int = HIDDEN, *, rngs: nnx.Rngs):
        self.l1: nnx.Linear = nnx.Linear(64, hidden, rngs=rngs)
        self.l2: nnx.Linear = nnx.Linear(hidden, 10, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
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
    splits = (x_train, y_train, x_val, y_val, x_test, y_test)
    return DigitsData(*(np.asarray(a) for a in splits))


@dataclass(frozen=True)
class _CrossEntropy:
    """Mean softmax cross-entropy of the MLP given as ``graphdef`` and its parameters."""

    graphdef: nnx.GraphDef

    def __call__(self, params, batch):
        x, y = batch
        logits = nnx.merge(self.graphdef, params)(x)
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))


@dataclass(frozen=True)
class _Accuracy:
    graphdef: nnx.GraphDef

    def __call__(self, params, batch):
        x, y = batch
        pred = jnp.argmax(nnx.merge(self.graphdef, params)(x), axis=-1).astype(y.dtype)
        return jnp.mean((pred == y).astype(jnp.float32))


def task(seed: int = 0) -> Task:
    """The study's digits problem: the MLP's initial weights (from ``seed``), the training
    split, mini-batches of 64, accuracy on the test split. The model runs as a pure function of
    its parameters (``nnx.split`` once, ``nnx.merge`` inside the loss), so it can be vmapped."""
    data = load(seed)
    graphdef, params = nnx.split(MLP(rngs=nnx.Rngs(seed)))
    return Task(
        params=params,
        loss=_CrossEntropy(graphdef),
        data=(jnp.asarray(data.x_train), jnp.asarray(data.y_train)),
        batch_size=BATCH_SIZE,
        test_data=(jnp.asarray(data.x_test), jnp.asarray(data.y_test)),
        metric=_Accuracy(graphdef),
        metric_name="test accuracy",
        title="an MLP on scikit-learn's digits (Flax NNX)",
    )
