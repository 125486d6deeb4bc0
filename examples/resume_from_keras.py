"""Resuming a Keras run in Flax NNX + jopt from its ``model.save("run.keras")``.

    python examples/resume_from_keras.py --epochs 3

Keras trains an MLP on scikit-learn's digits for one epoch with ``AdamW`` and saves it.
Both then go on from that file, on the same mini-batches: Keras (its model, its optimizer
state) and a Flax NNX model of the same layers (``nnx.Linear`` kernels are ``(in, out)``,
as Keras' ``Dense``) with the jopt port of the optimizer, its moments, rate and step
count read from the file::

    read = jk.read_keras_file("run.keras")           # h5py, no Keras needed
    model.l1.kernel[...] = read.weights["layers/dense"][0]         # … each weight
    tx = jk.AdamW(learning_rate=3e-3, weight_decay=0.01)           # Keras' arguments
    opt_state = jk.load_own_variables(
        tx, params, read.optimizer, order=["l1/kernel", "l1/bias", "l2/kernel", "l2/bias"])

``order`` is Keras' order of the variables (``model.trainable_variables``) as the paths of
the NNX parameters. The script prints the training loss of each further epoch side by side:
they agree to float32 rounding.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import warnings

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import jopt  # noqa: E402
import jopt.compat.keras as jk  # noqa: E402

RECIPE = dict(learning_rate=3e-3, weight_decay=0.01)
ORDER = ["l1/kernel", "l1/bias", "l2/kernel", "l2/bias"]  # Keras' trainable_variables


class MLP(nnx.Module):
    def __init__(self, hidden: int, rngs: nnx.Rngs):
        self.l1 = nnx.Linear(64, hidden, rngs=rngs)
        self.l2 = nnx.Linear(hidden, 10, rngs=rngs)

    def __call__(self, x):
        return self.l2(jax.nn.relu(self.l1(x)))


def keras_model(hidden: int):
    import keras

    model = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(hidden, "relu"), keras.layers.Dense(10)]
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(**RECIPE),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def keras_epoch(model, x, y, batch_size):
    """One epoch of ``model.fit`` on the batches in this order; its mean training loss."""
    with jax.numpy_dtype_promotion("standard"):  # Keras mixes dtypes inside fit
        history = model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    return history.history["loss"][0]


def jopt_from_file(path, hidden: int, seed: int):
    """The NNX model with the file's weights, and jopt's AdamW with its optimizer state."""
    read = jk.read_keras_file(path)  # h5py only: the weights and Keras' optimizer store
    model = MLP(hidden, nnx.Rngs(seed))
    for layer, name in ((model.l1, "layers/dense"), (model.l2, "layers/dense_1")):
        kernel, bias = read.weights[name]
        layer.kernel[...], layer.bias[...] = jnp.asarray(kernel), jnp.asarray(bias)
    graphdef, params = nnx.split(model)
    tx = jk.AdamW(**RECIPE)
    opt_state = jk.load_own_variables(tx, params, read.optimizer, order=ORDER)
    return graphdef, params, tx, opt_state


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs after the saved one")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import keras

    keras.utils.set_random_seed(args.seed)
    x, y = load_digits(return_X_y=True)
    x, y = (x / 16.0).astype(np.float32), y.astype(np.int32)
    # One order of the samples per epoch (jopt's shuffle), fed to both in that order.
    keys = jax.random.split(jax.random.key(args.seed), args.epochs + 1)
    epochs = [np.asarray(jopt.minibatch_indices(k, len(x), len(x))).ravel() for k in keys]

    model = keras_model(args.hidden)
    keras_epoch(model, x[epochs[0]], y[epochs[0]], args.batch_size)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "run.keras")
        with warnings.catch_warnings(), jax.numpy_dtype_promotion("standard"):
            # Keras' Variable.numpy() warns under NumPy 2 (its __array__ takes no copy=)
            warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)
            model.save(path)  # the weights, and the optimizer: iteration, rate, moments
        graphdef, params, tx, opt_state = jopt_from_file(path, args.hidden, args.seed)

    @jax.jit
    def step(params, opt_state, x, y):
        def loss_fn(p):
            logits = nnx.merge(graphdef, p)(x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    print(f"epoch 1 by Keras, saved to run.keras; then {args.epochs} more from that file")
    print(f"{'epoch':>5}{'Keras (model.fit)':>20}{'jopt + Flax NNX':>20}{'difference':>14}")
    keras_losses, jopt_losses = [], []
    for epoch, order in enumerate(epochs[1:], start=2):
        xs, ys = x[order], y[order]
        keras_losses.append(keras_epoch(model, xs, ys, args.batch_size))
        total = 0.0
        for i in range(0, len(order), args.batch_size):
            xb, yb = (
                jnp.asarray(xs[i : i + args.batch_size]),
                jnp.asarray(ys[i : i + args.batch_size]),
            )
            params, opt_state, loss = step(params, opt_state, xb, yb)
            total += float(loss) * len(xb)  # Keras' loss: the mean over the samples
        jopt_losses.append(total / len(order))
        gap = abs(keras_losses[-1] - jopt_losses[-1])
        print(f"{epoch:>5}{keras_losses[-1]:>20.6f}{jopt_losses[-1]:>20.6f}{gap:>14.2e}")

    np.testing.assert_allclose(jopt_losses, keras_losses, rtol=1e-4)
    print("jopt continues the Keras run: the losses agree to float32 rounding")
    return dict(keras=keras_losses, jopt=jopt_losses)


if __name__ == "__main__":
    main()
