"""PyTorch's MNIST recipe (Adadelta lr=1.0, StepLR gamma=0.7 per epoch) ported to Flax NNX + jopt.

    python examples/port_pytorch_mnist.py --epochs 5

PyTorch's ``examples/mnist/main.py`` trains a small CNN with::

    optimizer = optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.7)
    for epoch in range(epochs):
        train(...)          # optimizer.zero_grad(); loss.backward(); optimizer.step()
        scheduler.step()    # once per epoch

The port, on scikit-learn's 8×8 digits (no downloads), with jopt::

    steps = len(batches)                                  # updates per epoch
    tx = jt.Adadelta(lr=jopt.schedules.step_lr(1.0, step_size=steps, gamma=0.7))
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)

``step_lr`` counts updates, so ``step_size=steps`` is PyTorch's once-per-epoch
``scheduler.step()``. Both run here side by side: the same CNN shape (two 3×3
convolutions, max-pool, two dense layers, log-softmax + NLL; the recipe's dropout is left
out so that the two runs are deterministic), the same initial weights (copied from the
Flax model into torch), the same mini-batches in the same order. The script prints both
loss curves and the test accuracies.
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np
import torch
from flax import nnx
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import jopt
import jopt.compat.torch as jt

GAMMA, LR = 0.7, 1.0


class Net(nnx.Module):
    """PyTorch's MNIST ``Net`` scaled to 8×8 inputs: conv 3×3 (8), conv 3×3 (16),
    max-pool 2, dense 64 → 32 → 10, log-softmax."""

    def __init__(self, rngs: nnx.Rngs):
        self.conv1 = nnx.Conv(1, 8, (3, 3), padding="VALID", rngs=rngs)
        self.conv2 = nnx.Conv(8, 16, (3, 3), padding="VALID", rngs=rngs)
        self.fc1 = nnx.Linear(64, 32, rngs=rngs)
        self.fc2 = nnx.Linear(32, 10, rngs=rngs)

    def __call__(self, x):  # x: [batch, 8, 8, 1] (NHWC)
        x = jax.nn.relu(self.conv2(jax.nn.relu(self.conv1(x))))
        x = nnx.max_pool(x, (2, 2), strides=(2, 2))
        x = jax.nn.relu(self.fc1(x.reshape(x.shape[0], -1)))
        return jax.nn.log_softmax(self.fc2(x))


class TorchNet(torch.nn.Module):
    """The same network in PyTorch, its weights copied from a Flax ``Net``."""

    def __init__(self, flax_net: Net):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 8, 3)
        self.conv2 = torch.nn.Conv2d(8, 16, 3)
        self.fc1 = torch.nn.Linear(64, 32)
        self.fc2 = torch.nn.Linear(32, 10)
        with torch.no_grad():
            for name in ("conv1", "conv2"):
                conv = getattr(flax_net, name)
                kernel = np.asarray(conv.kernel[...])  # [kh, kw, in, out]
                getattr(self, name).weight.copy_(torch.tensor(kernel.transpose(3, 2, 0, 1)))
                getattr(self, name).bias.copy_(torch.tensor(np.asarray(conv.bias[...])))
            for name in ("fc1", "fc2"):
                dense = getattr(flax_net, name)
                getattr(self, name).weight.copy_(torch.tensor(np.asarray(dense.kernel[...]).T))
                getattr(self, name).bias.copy_(torch.tensor(np.asarray(dense.bias[...])))

    def forward(self, x):  # x: [batch, 1, 8, 8] (NCHW)
        x = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        x = torch.nn.functional.max_pool2d(x, 2)
        x = x.permute(0, 2, 3, 1).flatten(1)  # flatten in Flax's (h, w, c) order
        x = torch.relu(self.fc1(x))
        return torch.log_softmax(self.fc2(x), dim=1)


def data(seed: int):
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32).reshape(-1, 8, 8, 1)
    return train_test_split(x, y.astype(np.int64), test_size=0.25, random_state=seed)


def batches(n: int, batch_size: int, epoch: int, seed: int) -> list[np.ndarray]:
    order = np.random.default_rng([seed, epoch]).permutation(n)
    return [order[i : i + batch_size] for i in range(0, n - batch_size + 1, batch_size)]


def nll(model, x, y):
    return -jnp.mean(jnp.take_along_axis(model(x), y[:, None], axis=1))


def run_jopt(model: Net, x_tr, y_tr, x_te, y_te, epochs, batch_size, seed):
    steps = len(batches(len(x_tr), batch_size, 0, seed))
    # PyTorch: Adadelta(lr=1.0) + StepLR(step_size=1, gamma=0.7) stepped once per epoch.
    tx = jt.Adadelta(lr=jopt.schedules.step_lr(LR, step_size=steps, gamma=GAMMA))
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)

    @nnx.jit
    def train_step(model, optimizer, x, y):
        loss, grads = nnx.value_and_grad(nll)(model, x, y)
        optimizer.update(model, grads)
        return loss

    curve = []
    for epoch in range(epochs):
        losses = [
            float(train_step(model, optimizer, jnp.asarray(x_tr[b]), jnp.asarray(y_tr[b])))
            for b in batches(len(x_tr), batch_size, epoch, seed)
        ]
        curve.append(float(np.mean(losses)))
    accuracy = float(np.mean(np.asarray(jnp.argmax(model(jnp.asarray(x_te)), axis=1)) == y_te))
    return curve, accuracy, float(jopt.get_learning_rate(optimizer.opt_state))


def run_torch(model: TorchNet, x_tr, y_tr, x_te, y_te, epochs, batch_size, seed):
    optimizer = torch.optim.Adadelta(model.parameters(), lr=LR)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=GAMMA)
    x_tr_t = torch.from_numpy(x_tr.transpose(0, 3, 1, 2).copy())
    y_tr_t = torch.from_numpy(y_tr)
    curve = []
    for epoch in range(epochs):
        losses = []
        for b in batches(len(x_tr), batch_size, epoch, seed):
            optimizer.zero_grad()
            loss = torch.nn.functional.nll_loss(model(x_tr_t[b]), y_tr_t[b])
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        scheduler.step()
        curve.append(float(np.mean(losses)))
    with torch.no_grad():
        predictions = model(torch.from_numpy(x_te.transpose(0, 3, 1, 2).copy())).argmax(1)
    accuracy = float((predictions.numpy() == y_te).mean())
    return curve, accuracy


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    x_tr, x_te, y_tr, y_te = data(args.seed)
    flax_model = Net(nnx.Rngs(args.seed))
    torch_model = TorchNet(flax_model)  # the same initial weights
    common = (x_tr, y_tr, x_te, y_te, args.epochs, args.batch_size, args.seed)
    ours = run_jopt(flax_model, *common)
    theirs = run_torch(torch_model, *common)
    print("epoch  lr        train loss: jopt + Flax NNX   PyTorch")
    for epoch, (a, b) in enumerate(zip(ours[0], theirs[0], strict=True)):
        print(f"{epoch + 1:5d}  {LR * GAMMA**epoch:<8.4g}  {a:28.6f}  {b:9.6f}")
    print(f"test accuracy: jopt {ours[1]:.4f}, PyTorch {theirs[1]:.4f}")
    return {"jopt": ours[0], "torch": theirs[0], "accuracy": (ours[1], theirs[1]), "lr": ours[2]}


if __name__ == "__main__":
    main()
