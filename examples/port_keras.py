"""Porting ``model.compile(optimizer=AdamW(..., use_ema=True, global_clipnorm=1.0))`` to jopt.

    python examples/port_keras.py --epochs 5

The same MLP (the same initial weights) is trained on scikit-learn's digits twice, on the
same mini-batches in the same order: by Keras (``model.compile`` + ``model.fit``, JAX
backend) with ``keras.optimizers.AdamW``, and by Flax NNX with its jopt port::

    # Keras                                      # jopt
    opt = keras.optimizers.AdamW(                tx = jk.AdamW(
        learning_rate=3e-3, weight_decay=0.05,       learning_rate=3e-3, weight_decay=0.05,
        use_ema=True, ema_momentum=0.9,              use_ema=True, ema_momentum=0.9,
        global_clipnorm=1.0)                         global_clipnorm=1.0,
    opt.exclude_from_weight_decay(                   exclude_from_weight_decay=["bias"])
        var_names=["bias"])                      opt = nnx.Optimizer(model, tx, wrt=nnx.Param)
    model.compile(optimizer=opt, loss=...)       ... opt.update(model, grads) ...
    model.fit(x, y)  # ends on the EMA weights   nnx.update(model, jk.ema_params(
                                                     opt.opt_state, params))

Both end on the EMA of the weights (Keras' ``fit`` calls
``optimizer.finalize_variable_values``); the script prints both results side by side
and the largest difference between the two final weights (float32 rounding).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import jopt  # noqa: E402
import jopt.compat.keras as jk  # noqa: E402

RECIPE = dict(
    learning_rate=3e-3, weight_decay=0.05, use_ema=True, ema_momentum=0.9, global_clipnorm=1.0
)
EXCLUDE = ["bias"]


class MLP(nnx.Module):
    def __init__(self, hidden: int, rngs: nnx.Rngs):
        self.l1 = nnx.Linear(64, hidden, rngs=rngs)
        self.l2 = nnx.Linear(hidden, 10, rngs=rngs)

    def __call__(self, x):
        return self.l2(jax.nn.relu(self.l1(x)))


def loss_fn(model, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()


@nnx.jit
def train_step(model, optimizer, x, y):
    loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
    optimizer.update(model, grads)
    return loss


def train_jopt(model, batches):
    optimizer = nnx.Optimizer(
        model, jk.AdamW(**RECIPE, exclude_from_weight_decay=EXCLUDE), wrt=nnx.Param
    )
    for x, y in batches:
        train_step(model, optimizer, x, y)
    # What Keras' fit does at the end: the weights become their moving average.
    params = nnx.state(model, nnx.Param)
    nnx.update(model, jk.ema_params(optimizer.opt_state, params))
    return weights_of(model)


def weights_of(model):
    """[kernel 1, bias 1, kernel 2, bias 2], Keras' order of a Dense stack's weights."""
    return [np.asarray(w[...]) for m in (model.l1, model.l2) for w in (m.kernel, m.bias)]


def train_keras(weights, x, y, batch_size):
    # Keras mixes dtypes inside fit: run it under JAX's standard promotion even where the
    # caller made promotion strict (jopt's test suite does).
    with jax.numpy_dtype_promotion("standard"):
        return _train_keras(weights, x, y, batch_size)


def _train_keras(weights, x, y, batch_size):
    import keras

    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(weights[0].shape[1], "relu"),
            keras.layers.Dense(10),
        ]
    )
    model.layers[0].set_weights(weights[:2])
    model.layers[1].set_weights(weights[2:])
    optimizer = keras.optimizers.AdamW(**RECIPE)
    optimizer.exclude_from_weight_decay(var_names=EXCLUDE)
    model.compile(
        optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    return model, [np.asarray(w) for w in (*model.layers[0].weights, *model.layers[1].weights)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    x, y = load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x / 16.0, y, test_size=0.25, random_state=args.seed)
    x_tr, x_te = x_tr.astype(np.float32), x_te.astype(np.float32)
    y_tr, y_te = y_tr.astype(np.int32), y_te.astype(np.int32)

    # One sequence of mini-batches for both: jopt's epochs of random batches, in order.
    keys = jax.random.split(jax.random.key(args.seed), args.epochs)
    order = np.concatenate(
        [np.asarray(jopt.minibatch_indices(k, len(x_tr), args.batch_size)).ravel() for k in keys]
    )
    xs, ys = x_tr[order], y_tr[order]
    batches = [
        (jnp.asarray(xs[i : i + args.batch_size]), jnp.asarray(ys[i : i + args.batch_size]))
        for i in range(0, len(order), args.batch_size)
    ]

    model = MLP(64, nnx.Rngs(args.seed))
    keras_model, theirs = train_keras(weights_of(model), xs, ys, args.batch_size)
    ours = train_jopt(model, batches)

    def report(logits):
        logits = jnp.asarray(logits)
        test_loss = optax.softmax_cross_entropy_with_integer_labels(logits, y_te).mean()
        accuracy = jnp.mean((jnp.argmax(logits, -1).astype(y_te.dtype) == y_te).astype(jnp.float32))
        return float(test_loss), float(accuracy)

    with jax.numpy_dtype_promotion("standard"):
        keras_logits = keras_model.predict(x_te, verbose=0)
    keras_loss, keras_acc = report(keras_logits)
    jopt_loss, jopt_acc = report(model(jnp.asarray(x_te)))
    print(f"{len(batches)} steps ({args.epochs} epochs), EMA weights at the end")
    print(f"{'':16}{'keras.optimizers.AdamW':>24}{'jopt.compat.keras.AdamW':>26}")
    print(f"{'test loss':16}{keras_loss:>24.5f}{jopt_loss:>26.5f}")
    print(f"{'test accuracy':16}{keras_acc:>24.4f}{jopt_acc:>26.4f}")
    difference = max(float(np.max(np.abs(a - b))) for a, b in zip(ours, theirs, strict=True))
    print(f"largest |weight difference|: {difference:.2e}")
    return dict(keras=(keras_loss, keras_acc), jopt=(jopt_loss, jopt_acc), difference=difference)


if __name__ == "__main__":
    main()
