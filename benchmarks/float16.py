"""float16 parameters end to end: jopt against optax, the optimizer's own arithmetic.

    python -m benchmarks.float16            # writes its section of docs/benchmarks.md

Three measurements, each for jopt and optax on the same float16 inputs:

1. Adam's first update for float16 gradients of magnitude 1e-8 … 6e4: finite or not.
2. AdaGrad over 700 steps of |g| = 10 (Σg² = 70 000 > float16's 65 504): the last update.
3. A 64-32-10 MLP on scikit-learn's digits with float16 parameters, full-batch Adam
   (lr 1e-3) for 300 steps: the training loss at the end.

optax runs under standard dtype promotion (it mixes dtypes); jopt under strict.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.datasets import load_digits

import jopt
from benchmarks._report import write_section

ROOT = Path(__file__).resolve().parents[1]

F16 = jnp.float16
MAGNITUDES = (1e-8, 1e-7, 1e-5, 1e-4, 1e-3, 1e-1, 1.0, 1e2, 1e4, 6e4)
LIBRARIES = {"jopt": (jopt, "strict"), "optax": (optax, "standard")}


def _first_adam_update(lib, promotion, magnitude):
    params = jnp.zeros(4, F16)
    grads = jnp.full(4, magnitude, F16)
    with jax.numpy_dtype_promotion(promotion):
        tx = lib.adam(1e-3)
        updates, _ = tx.update(grads, tx.init(params), params)
    return float(updates[0])


def _adagrad_last_update(lib, promotion, steps):
    params = jnp.zeros(2, F16)
    grads = jnp.full(2, 10.0, F16)
    with jax.numpy_dtype_promotion(promotion):
        tx = lib.adagrad(0.1)
        state = tx.init(params)
        step = jax.jit(lambda s: tx.update(grads, s, params))
        for _ in range(steps):
            updates, state = step(state)
    return float(updates[0])


def _mlp_loss(lib, promotion, steps, seed=0, dtype=F16):
    x, y = load_digits(return_X_y=True)
    x, y = jnp.asarray(x / 16.0, dtype), jnp.asarray(y, jnp.int32)
    k0, k1 = jax.random.split(jax.random.key(seed))
    params = {
        "w0": (jax.random.normal(k0, (64, 32), jnp.float32) / 8.0).astype(dtype),
        "b0": jnp.zeros(32, dtype),
        "w1": (jax.random.normal(k1, (32, 10), jnp.float32) / float(np.sqrt(32))).astype(dtype),
        "b1": jnp.zeros(10, dtype),
    }

    def loss(p):
        h = jax.nn.relu(x @ p["w0"] + p["b0"])
        logits = (h @ p["w1"] + p["b1"]).astype(jnp.float32)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    with jax.numpy_dtype_promotion(promotion):
        tx = lib.adam(1e-3)

        @jax.jit
        def step(p, s):
            value, grads = jax.value_and_grad(loss)(p)
            updates, s = tx.update(grads, s, p)
            return optax.apply_updates(p, updates), s, value

        state = tx.init(params)
        for _ in range(steps):
            params, state, value = step(params, state)
        return float(loss(params))


def _fmt(x: float) -> str:
    return f"{x:.3g}" if np.isfinite(x) else f"**{x}**"


def measure(steps: int = 300, adagrad_steps: int = 700) -> dict:
    """Every number of the report, jopt's and optax's."""
    return dict(
        adam={
            m: {name: _first_adam_update(lib, pr, m) for name, (lib, pr) in LIBRARIES.items()}
            for m in MAGNITUDES
        },
        adagrad={
            name: _adagrad_last_update(lib, pr, adagrad_steps)
            for name, (lib, pr) in LIBRARIES.items()
        },
        adagrad_exact=-0.1 * 10.0 / np.sqrt(100.0 * adagrad_steps),
        mlp={name: _mlp_loss(lib, pr, steps) for name, (lib, pr) in LIBRARIES.items()},
        reference=_mlp_loss(jopt, "strict", steps, dtype=jnp.float32),
    )


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="MLP training steps")
    parser.add_argument("--adagrad-steps", type=int, default=700)
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args(argv)
    r = measure(args.steps, args.adagrad_steps)
    rows = [
        "| gradient | float16 value | jopt first update | optax first update |",
        "|---|---|---|---|",
    ]
    for m, got in r["adam"].items():
        rows.append(
            f"| {m:g} | {float(jnp.asarray(m, F16)):.3g} | {_fmt(got['jopt'])} "
            f"| {_fmt(got['optax'])} |"
        )
    ada, mlp = r["adagrad"], r["mlp"]
    body = (
        "Adam (lr 1e-3) on float16 parameters, first update for a float16 gradient:\n\n"
        + "\n".join(rows)
        + "\n\n| float16 parameters | jopt | optax | exact |\n|---|---|---|---|\n"
        f"| AdaGrad (lr 0.1), update after {args.adagrad_steps} steps of g = 10 "
        f"| {_fmt(ada['jopt'])} | {_fmt(ada['optax'])} | {r['adagrad_exact']:.3g} |\n"
        f"| digits MLP 64-32-10, Adam lr 1e-3, training loss after {args.steps} full-batch "
        f"steps | {_fmt(mlp['jopt'])} | {_fmt(mlp['optax'])} | {r['reference']:.3g} "
        "(float32 params) |\n\n"
        "jopt stores the moments of float16 leaves in float32 and applies the learning rate "
        "before casting the update to float16; optax keeps float16 moments (v of a 1e-3 "
        "gradient underflows to 0, Σg² overflows to inf) and casts Adam's direction "
        "m̂/(sqrt(v̂)+ε) ≈ 1e5 to float16 before the rate.\n"
    )
    print(body)
    if args.out:
        write_section(Path(args.out), "float16", "## float16 parameters: jopt vs optax", body)
    return body


if __name__ == "__main__":
    main()
