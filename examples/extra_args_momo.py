"""MoMo's Polyak-type step in a Flax NNX loop: the update takes the loss as ``value=``.

    python examples/extra_args_momo.py --optimizer momo --steps 20

MoMo (``jopt.momo``) and MoMo-Adam (``jopt.momo_adam``) set each step's size from the
loss: τ_t = min(α, [f̄_t − f_* − γ_t + ⟨d_t, x_t⟩]_+ / ‖d_t‖²), with f_* = 0 (a lower
bound of the cross-entropy). So the update needs the mini-batch loss beside the
gradients, passed as optax passes it (``value=``): ``nnx.Optimizer.update(model, grads,
value=loss)`` hands it to ``tx.update``. The learning rate α is only a cap; MoMo's
default α = 1 needs no tuning here.
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

OPTIMIZERS = {
    "momo": lambda lr: jopt.momo(lr if lr is not None else 1.0),
    "momo_adam": lambda lr: jopt.momo_adam(lr if lr is not None else 1e-2),
}


def loss_fn(model, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()


@nnx.jit(donate_argnums=(0, 1))
def train_step(model, optimizer, x, y):
    loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
    optimizer.update(model, grads, value=loss)  # MoMo reads the loss: value=
    return loss


def main(argv=None) -> list[float]:
    """Trains for ``--steps`` mini-batch steps; returns the loss of each."""
    parser = argparse.ArgumentParser(description="MoMo in a Flax NNX loop, value=loss")
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="momo")
    parser.add_argument("--lr", type=float, default=None, help="the cap α (MoMo's default)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    x, y = load_digits(return_X_y=True)
    x, y = jnp.asarray(x / 16.0, jnp.float32), jnp.asarray(y, jnp.int32)
    model = MLP(32, rngs=nnx.Rngs(args.seed))
    optimizer = nnx.Optimizer(model, OPTIMIZERS[args.optimizer](args.lr), wrt=nnx.Param)
    key, losses = jax.random.key(args.seed), []
    while len(losses) < args.steps:
        key, sub = jax.random.split(key)
        for idx in jopt.minibatch_indices(sub, x.shape[0], args.batch_size):
            losses.append(float(train_step(model, optimizer, x[idx], y[idx])))
            if len(losses) == args.steps:
                break
    rate = float(jopt.get_learning_rate(optimizer.opt_state))
    print(f"{args.optimizer} (cap α = {rate:g}): loss {losses[0]:.4f} -> {losses[-1]:.4f}")
    return losses


if __name__ == "__main__":
    main()
