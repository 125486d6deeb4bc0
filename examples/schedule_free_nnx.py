"""Schedule-free training in a Flax NNX loop: train at y, evaluate at x.

    python examples/schedule_free_nnx.py --optimizer adamw --lr 1e-2 --steps 20

A schedule-free optimizer (Defazio et al. 2024; jopt.schedule_free_adamw is the authors'
``schedulefree.AdamWScheduleFree``) needs no learning-rate schedule. Its parameters are y,
the point the gradients are taken at; the point to evaluate at is the average x, which
``jopt.schedule_free_eval_params(state, params)`` computes from the optimizer state (the
package's ``optimizer.eval()``), without touching the model: training goes on at y. The
model is the MLP of ``jopt-compare`` (``jopt.compare.digits.MLP``) on scikit-learn's
bundled digits, in mini-batches of 64.
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
    "adamw": lambda lr: jopt.schedule_free_adamw(lr, warmup_steps=5, weight_decay=1e-4),
    "sgd": lambda lr: jopt.schedule_free_sgd(lr, warmup_steps=5),
    "radam": lambda lr: jopt.schedule_free_radam(lr),
    # any optimizer made schedule-free (its momentum off): the wrapper
    "wrapped-adam": lambda lr: jopt.schedule_free(jopt.adam(lr, b1=0.0), lr),
}


def loss_fn(model, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()


@nnx.jit(donate_argnums=(0, 1))
def train_step(model, optimizer, x, y):
    loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
    optimizer.update(model, grads)  # the step needs the params (y): nnx passes them
    return loss


@nnx.jit
def accuracy(model, x, y):
    return jnp.mean((jnp.argmax(model(x), -1).astype(y.dtype) == y).astype(jnp.float32))


def eval_model(model, optimizer):
    """A copy of ``model`` at the evaluation point x (the model itself stays at y)."""
    x = jopt.schedule_free_eval_params(optimizer.opt_state, nnx.state(model, nnx.Param))
    evaluated = nnx.clone(model)
    nnx.update(evaluated, x)
    return evaluated


def main(argv=None):
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adamw")
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--eval-every", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    x, y = load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x / 16.0, y, test_size=0.25, random_state=args.seed)
    x_tr, x_te = jnp.asarray(x_tr, jnp.float32), jnp.asarray(x_te, jnp.float32)
    y_tr, y_te = jnp.asarray(y_tr, jnp.int32), jnp.asarray(y_te, jnp.int32)

    model = MLP(64, rngs=nnx.Rngs(args.seed))
    optimizer = nnx.Optimizer(model, OPTIMIZERS[args.optimizer](args.lr), wrt=nnx.Param)
    key, batches, result = jax.random.key(args.seed), iter(()), {}
    for step in range(1, args.steps + 1):
        idx = next(batches, None)
        if idx is None:  # a new epoch
            key, sub = jax.random.split(key)
            batches = iter(jopt.minibatch_indices(sub, x_tr.shape[0], 64))
            idx = next(batches)
        loss = train_step(model, optimizer, x_tr[idx], y_tr[idx])
        if step % args.eval_every == 0 or step == args.steps:
            result = {
                "train point y": float(accuracy(model, x_te, y_te)),
                "eval point x": float(accuracy(eval_model(model, optimizer), x_te, y_te)),
            }
            print(
                f"step {step:3d}  loss {float(loss):.4f}  test accuracy at y "
                f"{result['train point y']:.3f}, at x {result['eval point x']:.3f}"
            )
    return {**result, "model": model, "optimizer": optimizer}


if __name__ == "__main__":
    main()
