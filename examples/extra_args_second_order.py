"""SAM's second gradient and Sophia's Hessian estimate in a Flax NNX training loop.

    python examples/extra_args_second_order.py --steps 20

Both optimizers need more than one gradient per step, passed the way optax passes it:

- ``jopt.sam`` (optax.contrib.sam's convention): one SAM step is two calls to
  ``optimizer.update``, each with the gradient at the parameters the previous call left.
  The first call moves the weights to the adversarial point θ + ρ g/‖g‖, the second
  takes the outer step from θ with the gradient found there;
- ``jopt.sophia``: ``update`` takes ``obj_fn=``, the loss as a function of the
  parameters, whose Hessian diagonal Hutchinson's estimator probes (every
  ``update_interval`` steps; here every 2). ``nnx.Optimizer.update`` passes keyword
  arguments on to the transformation.

The model is the digits MLP of ``jopt.compare.digits`` (64 hidden units), trained on the
whole training split of scikit-learn's bundled digits each step.
"""

from __future__ import annotations

import argparse

import jax.numpy as jnp
import optax
from flax import nnx
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import jopt
from jopt.compare.digits import MLP


def digits(seed: int = 0):
    """The digits, scaled to [0, 1], split 75/25 into train and test arrays."""
    x, y = load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x / 16.0, y, test_size=0.25, random_state=seed)
    as_x, as_y = (lambda a: jnp.asarray(a, jnp.float32)), (lambda a: jnp.asarray(a, jnp.int32))
    return as_x(x_tr), as_y(y_tr), as_x(x_te), as_y(y_te)


def loss_fn(model, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()


@nnx.jit
def accuracy(model, x, y):
    return jnp.mean((jnp.argmax(model(x), -1).astype(y.dtype) == y).astype(jnp.float32))


@nnx.jit(donate_argnums=(0, 1))
def sam_call(model, optimizer, x, y):
    """One call of SAM's pair: the gradient where the weights are now, handed to update."""
    loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
    optimizer.update(model, grads)
    return loss


def train_sam(steps: int = 20, lr: float = 0.1, rho: float = 0.05, seed: int = 0):
    """``steps`` SAM steps (2 calls each) of SGD with momentum; returns the losses at the
    outer weights (the first call of each pair) and the test accuracy."""
    x_tr, y_tr, x_te, y_te = digits(seed)
    model = MLP(64, rngs=nnx.Rngs(seed))
    tx = jopt.sam(jopt.sgd(lr, momentum=0.9), jopt.chain(jopt.normalize(), jopt.gd(rho)))
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    losses = []
    for _ in range(steps):
        losses.append(float(sam_call(model, optimizer, x_tr, y_tr)))  # ascend to θ + ε
        sam_call(model, optimizer, x_tr, y_tr)  # descend from θ with g(θ + ε)
    return losses, float(accuracy(model, x_te, y_te))


@nnx.jit(donate_argnums=(0, 1))
def sophia_step(model, optimizer, x, y):
    """One Sophia step: the gradient, and obj_fn for the Hessian-vector products."""
    graphdef, _, rest = nnx.split(model, nnx.Param, ...)

    def obj_fn(params):  # the loss as a function of the parameters nnx.Optimizer passes
        return loss_fn(nnx.merge(graphdef, params, rest), x, y)

    loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
    optimizer.update(model, grads, obj_fn=obj_fn)
    return loss


def train_sophia(steps: int = 20, lr: float = 0.02, seed: int = 0):
    """``steps`` Sophia-H steps (Hessian refreshed every 2); returns the losses and the
    test accuracy."""
    x_tr, y_tr, x_te, y_te = digits(seed)
    model = MLP(64, rngs=nnx.Rngs(seed))
    tx = jopt.sophia(lr, update_interval=2)
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    losses = [float(sophia_step(model, optimizer, x_tr, y_tr)) for _ in range(steps)]
    return losses, float(accuracy(model, x_te, y_te))


def main(argv=None):
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    results = {}
    for name, train in (("sam", train_sam), ("sophia", train_sophia)):
        losses, acc = train(args.steps, seed=args.seed)
        results[name] = (losses, acc)
        print(f"{name:7s} loss {losses[0]:.4f} -> {losses[-1]:.4f}  test accuracy {acc:.3f}")
    return results


if __name__ == "__main__":
    main()
