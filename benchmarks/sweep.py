"""A learning-rate sweep of the digits MLP: one vmapped program vs sequential runs.

    python -m benchmarks.sweep --points 64 --epochs 10

Both sides train the same Flax NNX MLP (run as a pure function via nnx.split/merge) with
``jopt.adam`` on the same mini-batches (``jopt.minibatch_indices``), from the same initial
weights, at ``--points`` learning rates log-spaced in [1e-4, 1e-1]:

* vmapped: one jitted ``vmap`` over the learning rates of a ``lax.scan`` over all steps;
* sequential: the same step function, jitted once (the learning rate is a traced
  argument, so it compiles once), called step by step from Python for each rate in turn,
  parameters and optimizer state donated.

Times include compilation (each side's first call). Writes the table to ``--out``.
"""

from __future__ import annotations

import argparse
import functools
import os
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import jopt
from jopt.compare.digits import BATCH_SIZE, MLP, load

F32 = jnp.float32


def _loss(graphdef, params, x, y):
    logits = nnx.merge(graphdef, params)(x)
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y))


def make_step(graphdef):
    grad_fn = jax.grad(functools.partial(_loss, graphdef))

    def step(params, state, x, y, idx, lr):
        tx = jopt.adam(lr)
        updates, state = tx.update(grad_fn(params, x[idx], y[idx]), state, params)
        return optax.apply_updates(params, updates), state

    return step


def accuracy(graphdef, params, x, y):
    pred = jnp.argmax(nnx.merge(graphdef, params)(x), -1).astype(jnp.int32)
    return jnp.mean((pred == y).astype(F32))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", default=str(Path(__file__).resolve().parents[1] / "docs" / "sweep.md")
    )
    args = parser.parse_args(argv)

    data = load(args.seed)
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    x_te, y_te = jnp.asarray(data.x_test), jnp.asarray(data.y_test)
    graphdef, params0 = nnx.split(MLP(rngs=nnx.Rngs(args.seed)))
    lrs = jnp.asarray(np.geomspace(1e-4, 1e-1, args.points), F32)
    keys = jax.random.split(jax.random.key(args.seed), args.epochs)
    batches = jnp.concatenate(
        [jopt.minibatch_indices(k, x.shape[0], BATCH_SIZE) for k in keys]
    )  # [steps, batch]
    step = make_step(graphdef)
    init = lambda lr: jopt.adam(lr).init(params0)  # noqa: E731

    # one program: vmap over learning rates of a scan over steps
    def run(lr):
        def body(carry, idx):
            return step(*carry, x, y, idx, lr), None

        (params, _), _ = jax.lax.scan(body, (params0, init(lr)), batches)
        return accuracy(graphdef, params, x_te, y_te)

    t0 = time.perf_counter()
    acc_v = jax.jit(jax.vmap(run))(lrs).block_until_ready()
    vmapped_s = time.perf_counter() - t0

    # sequential: the same step, jitted once, called from Python for each rate
    t0 = time.perf_counter()
    jstep = jax.jit(step, donate_argnums=(0, 1))
    jacc = jax.jit(functools.partial(accuracy, graphdef))
    acc_s = []
    for lr in lrs:
        params = jax.tree.map(jnp.copy, params0)
        state = init(lr)
        for idx in batches:
            params, state = jstep(params, state, x, y, idx, lr)
        acc_s.append(jacc(params, x_te, y_te))
    acc_s = np.asarray(jax.block_until_ready(acc_s))
    sequential_s = time.perf_counter() - t0

    ratio = sequential_s / vmapped_s
    agree = float(np.max(np.abs(np.asarray(acc_v) - acc_s)))
    steps = int(batches.shape[0])
    best = int(np.argmax(np.asarray(acc_v)))
    rows = [
        ("learning rates", f"{args.points}, log-spaced in [1e-4, 1e-1], jopt.adam"),
        (
            "steps per run",
            f"{steps} ({args.epochs} epochs × {steps // args.epochs} mini-batches of {BATCH_SIZE})",
        ),
        ("vmapped, one program (compile included)", f"{vmapped_s:.2f} s"),
        ("sequential, same jitted step (compile included)", f"{sequential_s:.2f} s"),
        ("ratio", f"{ratio:.1f}×"),
        ("max test-accuracy difference between the two", f"{agree:.4f}"),
        ("best lr / test accuracy", f"{float(lrs[best]):.2g} / {float(acc_v[best]):.3f}"),
        ("machine", f"{os.cpu_count()} CPU cores, jax {jax.__version__}, {jax.default_backend()}"),
    ]
    table = "\n".join(["| | |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows])
    print(table)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        "# Learning-rate sweep: one vmapped program vs sequential runs\n\n"
        "`python -m benchmarks.sweep --points 64 --epochs 10`\n\n" + table + "\n",
        encoding="utf-8",
    )
    return {"vmapped_s": vmapped_s, "sequential_s": sequential_s, "ratio": ratio, "agree": agree}


if __name__ == "__main__":
    main()
