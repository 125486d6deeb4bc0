"""Adam with float32 against bfloat16 moments on scikit-learn's digits: test accuracy.

    python -m benchmarks.low_precision            # writes its section of docs/benchmarks.md

A 64-256-10 MLP in plain JAX, full float32 parameters; only the optimizer state
(m and v) changes dtype. The math inside the update runs in float32 either way.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import jopt
from benchmarks._report import write_section

ROOT = Path(__file__).resolve().parents[1]

STATES = {
    "float32 m, v": dict(),
    "bfloat16 m, v": dict(mu_dtype=jnp.bfloat16, nu_dtype=jnp.bfloat16),
    "bfloat16 m only": dict(mu_dtype=jnp.bfloat16),
}


def init_mlp(key, sizes=(64, 256, 10)):
    params = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=False)):
        key, sub = jax.random.split(key)
        params[f"w{i}"] = jax.random.normal(sub, (a, b), jnp.float32) / float(np.sqrt(a))
        params[f"b{i}"] = jnp.zeros((b,), jnp.float32)
    return params


def logits(params, x):
    h = jax.nn.relu(x @ params["w0"] + params["b0"])
    return h @ params["w1"] + params["b1"]


def train(seed, state_kw, epochs, lr, batch=64):
    x, y = load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x / 16.0, y, test_size=0.25, random_state=seed)
    x_tr, x_te = jnp.asarray(x_tr, jnp.float32), jnp.asarray(x_te, jnp.float32)
    y_tr, y_te = jnp.asarray(y_tr, jnp.int32), jnp.asarray(y_te, jnp.int32)
    key = jax.random.key(seed)
    params = init_mlp(key)
    tx = jopt.adam(lr, **state_kw)
    state = tx.init(params)

    def loss(p, xb, yb):
        return optax.softmax_cross_entropy_with_integer_labels(logits(p, xb), yb).mean()

    @jax.jit
    def epoch(params, state, key):
        idx = jopt.minibatch_indices(key, x_tr.shape[0], batch)

        def body(carry, i):
            p, s = carry
            g = jax.grad(loss)(p, x_tr[i], y_tr[i])
            u, s = tx.update(g, s, p)
            return (optax.apply_updates(p, u), s), None

        (params, state), _ = jax.lax.scan(body, (params, state), idx)
        return params, state

    for _ in range(epochs):
        key, sub = jax.random.split(key)
        params, state = epoch(params, state, sub)
    acc = jnp.mean(jnp.argmax(logits(params, x_te), -1).astype(y_te.dtype) == y_te)
    return float(acc), float(loss(params, x_te, y_te))


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args(argv)
    lines = [
        "Command: `"
        + " ".join(
            ["python -m benchmarks.low_precision", *(argv if argv is not None else sys.argv[1:])]
        )
        + "`",
        "",
        f"Digits (sklearn), MLP 64-256-10, jopt.adam(lr={args.lr}), batch 64, {args.epochs} "
        f"epochs, seeds 0..{args.seeds - 1} (split and init per seed); parameters float32.",
        "",
        "| optimizer state | test accuracy, mean ± sd | min | max | test loss, mean | "
        "state bytes / param |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, kw in STATES.items():
        res = [train(seed, kw, args.epochs, args.lr) for seed in range(args.seeds)]
        accs = [a for a, _ in res]
        sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
        nbytes = sum(jnp.dtype(kw.get(k, jnp.float32)).itemsize for k in ("mu_dtype", "nu_dtype"))
        lines.append(
            f"| {name} | {100 * statistics.mean(accs):.2f} ± {100 * sd:.2f} % "
            f"| {100 * min(accs):.2f} | {100 * max(accs):.2f} "
            f"| {statistics.mean(loss for _, loss in res):.4f} | {nbytes} |"
        )
        print(lines[-1], flush=True)
    body = "\n".join(lines) + "\n"
    if args.out:
        write_section(
            Path(args.out), "low_precision", "## Low-precision optimizer state: accuracy", body
        )
        print(f"wrote {args.out}")
    return body


if __name__ == "__main__":
    main()
