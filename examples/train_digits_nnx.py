"""A Flax NNX training loop on scikit-learn's bundled digits with jopt's mini-batches.

    python examples/train_digits_nnx.py --optimizer adam --lr 1e-2 --epochs 10

The step is jitted with the model and optimizer state donated (updated in place). The model
is the MLP class that ``jopt-compare`` and ``benchmarks/sweep.py`` train
(``jopt.compare.digits.MLP``), here with 64 hidden units.
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import jopt
from jopt.compare.digits import MLP

OPTIMIZERS = {
    "gd": lambda lr: jopt.gd(lr),
    "sgd": lambda lr: jopt.sgd(lr, momentum=0.9, nesterov=True),
    "momentum": lambda lr: jopt.momentum(lr, 0.9),
    "nesterov": lambda lr: jopt.nesterov(lr, 0.9),
    "adagrad": lambda lr: jopt.adagrad(lr),
    "rmsprop": lambda lr: jopt.rmsprop(lr),
    "adam": lambda lr: jopt.adam(lr),
    "adamw": lambda lr: jopt.adamw(lr),
}


def loss_fn(model, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()


@nnx.jit(donate_argnums=(0, 1))
def train_step(model, optimizer, x, y):
    loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
    optimizer.update(model, grads)
    return loss


@nnx.jit
def accuracy(model, x, y):
    return jnp.mean((jnp.argmax(model(x), -1).astype(y.dtype) == y).astype(jnp.float32))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam")
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    x, y = load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x / 16.0, y, test_size=0.25, random_state=args.seed)
    x_tr, x_te = jnp.asarray(x_tr, jnp.float32), jnp.asarray(x_te, jnp.float32)
    y_tr, y_te = jnp.asarray(y_tr, jnp.int32), jnp.asarray(y_te, jnp.int32)

    model = MLP(64, rngs=nnx.Rngs(args.seed))
    optimizer = nnx.Optimizer(model, OPTIMIZERS[args.optimizer](args.lr), wrt=nnx.Param)
    key = jax.random.key(args.seed)
    for epoch in range(args.epochs):
        key, sub = jax.random.split(key)
        losses = [
            train_step(model, optimizer, x_tr[idx], y_tr[idx])
            for idx in jopt.minibatch_indices(sub, x_tr.shape[0], args.batch_size)
        ]
        print(
            f"epoch {epoch + 1:2d}  loss {float(jnp.mean(jnp.stack(losses))):.4f}  "
            f"test accuracy {float(accuracy(model, x_te, y_te)):.3f}"
        )
    return float(accuracy(model, x_te, y_te))


if __name__ == "__main__":
    main()
