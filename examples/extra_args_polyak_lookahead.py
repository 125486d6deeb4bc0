"""Polyak's step and Lookahead in a Flax NNX loop: the loss as ``value=``, and two sets of
weights with evaluation at the slow ones.

    python examples/extra_args_polyak_lookahead.py --steps 20

- ``jopt.polyak_sgd`` sets each step's size from the loss, γ = min((f(x) − f*)/‖g‖²,
  γ_max), so the update needs the mini-batch loss beside the gradients, passed as optax
  passes it: ``nnx.Optimizer.update(model, grads, value=loss)`` hands it to ``tx.update``.
- ``jopt.lookahead`` keeps fast and slow weights, a ``jopt.LookaheadParams(fast, slow)``:
  the gradients are taken at the fast ones, every ``sync_period`` steps the slow ones move
  towards them, and the model is evaluated at the slow ones
  (``jopt.lookahead_eval_params``). ``nnx.Optimizer`` updates the model's own parameters
  only, so the pair is kept beside the model (``nnx.split``/``nnx.merge``), as with
  ``optax.lookahead``.
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from sklearn.datasets import load_digits

import jopt
from jopt.compare.digits import MLP


def loss_fn(model, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()


def digits():
    x, y = load_digits(return_X_y=True)
    return jnp.asarray(x / 16.0, jnp.float32), jnp.asarray(y, jnp.int32)


def batches(seed: int, n: int, batch_size: int, steps: int):
    """``steps`` mini-batches of indices, epoch after epoch."""
    key, out = jax.random.key(seed), []
    while len(out) < steps:
        key, sub = jax.random.split(key)
        out += list(jopt.minibatch_indices(sub, n, batch_size))
    return out[:steps]


def train_polyak(steps: int = 20, seed: int = 0) -> list[float]:
    """Polyak SGD through ``nnx.Optimizer``, the loss passed as ``value=``."""
    x, y = digits()
    model = MLP(32, rngs=nnx.Rngs(seed))
    optimizer = nnx.Optimizer(model, jopt.polyak_sgd(max_learning_rate=1.0), wrt=nnx.Param)

    @nnx.jit
    def step(model, optimizer, x, y):
        loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
        optimizer.update(model, grads, value=loss)  # Polyak's step reads the loss
        return loss

    return [float(step(model, optimizer, x[i], y[i])) for i in batches(seed, len(x), 128, steps)]


def train_lookahead(steps: int = 20, seed: int = 0) -> tuple[list[float], float]:
    """Adam inside Lookahead; returns the losses at the fast weights and the accuracy of
    the model at the slow ones."""
    x, y = digits()
    model = MLP(32, rngs=nnx.Rngs(seed))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    tx = jopt.lookahead(jopt.adam(1e-2), sync_period=5, slow_step_size=0.5)
    pair = jopt.LookaheadParams.init_synced(params)
    state = tx.init(pair)

    @jax.jit
    def step(pair, state, x, y):
        loss, grads = jax.value_and_grad(lambda p: loss_fn(nnx.merge(graphdef, p, rest), x, y))(
            pair.fast
        )
        updates, state = tx.update(grads, state, pair)
        return optax.apply_updates(pair, updates), state, loss

    losses = []
    for i in batches(seed, len(x), 128, steps):
        pair, state, loss = step(pair, state, x[i], y[i])
        losses.append(float(loss))
    slow = nnx.merge(graphdef, jopt.lookahead_eval_params(pair), rest)  # pair.slow
    accuracy = float(jnp.mean(jnp.argmax(slow(x), -1).astype(y.dtype) == y))
    return losses, accuracy


def main(argv=None) -> dict[str, list[float]]:
    parser = argparse.ArgumentParser(description="Polyak SGD and Lookahead in Flax NNX")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    polyak = train_polyak(args.steps, args.seed)
    lookahead, accuracy = train_lookahead(args.steps, args.seed)
    print(f"polyak_sgd: loss {polyak[0]:.4f} -> {polyak[-1]:.4f}")
    print(
        f"lookahead(adam): loss {lookahead[0]:.4f} -> {lookahead[-1]:.4f}, "
        f"accuracy at the slow weights {accuracy:.3f}"
    )
    return {"polyak_sgd": polyak, "lookahead": lookahead}


if __name__ == "__main__":
    main()
