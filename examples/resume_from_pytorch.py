"""Resume a PyTorch run in JAX: model, optimizer (two groups) and scheduler from torch.save.

    python examples/resume_from_pytorch.py --epochs 4

A PyTorch MLP on scikit-learn's digits (no downloads) trains one epoch with ``AdamW`` in two
parameter groups (no weight decay on the biases) and ``OneCycleLR``, then saves its model,
optimizer and scheduler with ``torch.save``, as a training script does between runs::

    optimizer = torch.optim.AdamW([{"params": weights}, {"params": biases, "weight_decay": 0.0}],
                                  lr=LR, weight_decay=0.01)
    scheduler = OneCycleLR(optimizer, max_lr=LR, total_steps=total_steps)

The run resumes twice from those three files: in PyTorch, and in Flax NNX + jopt::

    tx = jt.AdamW(lr=LR, weight_decay=0.01, betas=(momentum, 0.999),   # β1 cycles too
                  param_groups=[{"params": r".*/kernel"},
                                {"params": r".*/bias", "weight_decay": 0.0}],
                  lr_scheduler=functools.partial(jopt.schedules.one_cycle_lr,
                                                 total_steps=total_steps))
    opt_state = jt.load_state_dict(tx, params, torch.load("optimizer.pt"), order=ORDER,
                                   layout={"fc1/kernel": layout.linear, ...},
                                   scheduler_state_dict=torch.load("scheduler.pt"))

Both continue on the same mini-batches; the script prints the two loss curves side by side.
They agree to float32 rounding.
"""

from __future__ import annotations

import argparse
import functools
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch
from flax import nnx
from sklearn.datasets import load_digits

import jopt
import jopt.compat.torch as jt
from jopt.compat import layout

LR, WEIGHT_DECAY, BATCH = 1e-2, 0.01, 64
# torch's parameter numbering: group 0 (the weights), then group 1 (the biases).
ORDER = ["fc1/kernel", "fc2/kernel", "fc1/bias", "fc2/bias"]
LAYOUT = {"fc1/kernel": layout.linear, "fc2/kernel": layout.linear}


class TorchMLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(64, 64)
        self.fc2 = torch.nn.Linear(64, 10)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


class MLP(nnx.Module):
    """The same MLP in Flax NNX (kernels ``(in, out)``)."""

    def __init__(self, rngs: nnx.Rngs):
        self.fc1 = nnx.Linear(64, 64, rngs=rngs)
        self.fc2 = nnx.Linear(64, 10, rngs=rngs)

    def __call__(self, x):
        return self.fc2(jax.nn.relu(self.fc1(x)))


def data():
    x, y = load_digits(return_X_y=True)
    return (x / 16.0).astype(np.float32), y.astype(np.int64)


def batches(n: int, epoch: int) -> list[np.ndarray]:
    order = np.random.default_rng([0, epoch]).permutation(n)
    return [order[i : i + BATCH] for i in range(0, n - BATCH + 1, BATCH)]


def torch_optimizer(model: TorchMLP, total_steps: int):
    weights = [model.fc1.weight, model.fc2.weight]
    biases = [model.fc1.bias, model.fc2.bias]
    optimizer = torch.optim.AdamW(
        [{"params": weights}, {"params": biases, "weight_decay": 0.0}],
        lr=LR,
        weight_decay=WEIGHT_DECAY,
    )
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=LR, total_steps=total_steps)
    return optimizer, scheduler


def torch_epochs(model, optimizer, scheduler, x, y, epochs) -> tuple[list[float], list[float]]:
    x_t, y_t = torch.from_numpy(x), torch.from_numpy(y)
    curve, rates = [], []
    for epoch in epochs:
        losses = []
        for b in batches(len(x), epoch):
            rates = [g["lr"] for g in optimizer.param_groups]  # the rates of this step
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x_t[b]), y_t[b])
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
        curve.append(float(np.mean(losses)))
    return curve, rates


def jopt_optimizer(total_steps: int) -> optax.GradientTransformation:
    # OneCycleLR cycles AdamW's β1 between 0.95 and 0.85 as it cycles the rate.
    beta1 = jopt.schedules.one_cycle_momentum(total_steps=total_steps)
    return jt.AdamW(
        lr=LR,
        betas=(beta1, 0.999),
        weight_decay=WEIGHT_DECAY,
        param_groups=[{"params": r".*/kernel"}, {"params": r".*/bias", "weight_decay": 0.0}],
        lr_scheduler=functools.partial(jopt.schedules.one_cycle_lr, total_steps=total_steps),
    )


def load_model(model_state: dict) -> MLP:
    """The Flax model with the torch weights (Linear weights transposed to kernels)."""
    model = MLP(nnx.Rngs(0))
    for name in ("fc1", "fc2"):
        dense = getattr(model, name)
        dense.kernel[...] = jnp.asarray(layout.linear(model_state[f"{name}.weight"].numpy()))
        dense.bias[...] = jnp.asarray(model_state[f"{name}.bias"].numpy())
    return model


def jopt_epochs(folder: Path, x, y, epochs, total_steps) -> tuple[list[float], list[float]]:
    """The run resumed from the three files of ``folder`` in Flax NNX and jopt."""
    model = load_model(torch.load(folder / "model.pt"))
    graphdef, params = nnx.split(model, nnx.Param)
    params = nnx.to_pure_dict(params)  # {"fc1": {"kernel": …, "bias": …}, "fc2": …}
    tx = jopt_optimizer(total_steps)
    opt_state = jt.load_state_dict(
        tx,
        params,
        torch.load(folder / "optimizer.pt"),
        order=ORDER,
        layout=LAYOUT,
        scheduler_state_dict=torch.load(folder / "scheduler.pt"),
    )

    def loss_fn(params, xb, yb):
        logits = nnx.merge(graphdef, nnx.State(params))(xb)
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

    @jax.jit
    def step(params, opt_state, xb, yb):
        loss, grads = jax.value_and_grad(loss_fn)(params, xb, yb)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    curve = []
    for epoch in epochs:
        losses = []
        for b in batches(len(x), epoch):
            params, opt_state, loss = step(params, opt_state, x[b], y[b])
            losses.append(float(loss))
        curve.append(float(np.mean(losses)))
    # the rates of the last step, one per group, as torch's group["lr"] during it
    return curve, [float(r) for r in jopt.get_learning_rate(opt_state)]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4, help="epochs in all (1 in torch first)")
    args = parser.parse_args(argv)
    x, y = data()
    steps_per_epoch = len(batches(len(x), 0))
    total_steps = args.epochs * steps_per_epoch

    torch.manual_seed(0)
    model = TorchMLP()
    optimizer, scheduler = torch_optimizer(model, total_steps)
    first, _ = torch_epochs(model, optimizer, scheduler, x, y, [0])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        torch.save(model.state_dict(), folder / "model.pt")
        torch.save(optimizer.state_dict(), folder / "optimizer.pt")
        torch.save(scheduler.state_dict(), folder / "scheduler.pt")
        rest = range(1, args.epochs)
        theirs, torch_rates = torch_epochs(model, optimizer, scheduler, x, y, rest)
        ours, rates = jopt_epochs(folder, x, y, rest, total_steps)

    print(f"epoch 1 in PyTorch: train loss {first[0]:.6f}; saved, then resumed in both:")
    print("epoch  train loss: PyTorch   jopt + Flax NNX")
    for epoch, (a, b) in enumerate(zip(theirs, ours, strict=True)):
        print(f"{epoch + 2:5d}  {a:19.6f}  {b:16.6f}")
    print(f"the last step's rate per group: PyTorch {torch_rates}, jopt {rates}")
    gap = max(abs(a - b) / abs(a) for a, b in zip(theirs, ours, strict=True))
    assert gap < 1e-4, f"jopt does not continue the PyTorch run (relative gap {gap:.2e})"
    print(f"jopt continues the PyTorch run: the losses agree to {gap:.1e} (float32 rounding)")
    return {"torch": theirs, "jopt": ours, "rates": (torch_rates, rates)}


if __name__ == "__main__":
    main()
