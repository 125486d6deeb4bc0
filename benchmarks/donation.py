"""Buffer donation: one ``jopt.adam`` step, donated or not, by plain jax.jit and by nnx.jit.

    python -m benchmarks.donation                  # 50 M parameters, writes docs/benchmarks.md
    python -m benchmarks.donation --scale 0.01 --out ''   # a quick look

Steps on the same parameters (2 leaves of 25 M), run interleaved, median of ``--repeats``:
``jax.jit(step, donate_argnums=(0, 1))`` on (params, opt_state) and without donation;
``nnx.jit(step, donate_argnums=(0, 1))`` on (model, nnx.Optimizer) and without, with the
gradients given as plain arrays, and once as a State of Params (which nnx.jit copies back).
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import jopt
from benchmarks._report import write_section

ROOT = Path(__file__).resolve().parents[1]

LEAF = 25_000_000


class TwoLeaves(nnx.Module):
    def __init__(self, n: int):
        self.w0 = nnx.Param(jnp.full((n,), 0.5, jnp.float32))
        self.w1 = nnx.Param(jnp.full((n,), 0.5, jnp.float32))


def jax_steps(n: int) -> dict:
    tx = jopt.adam(1e-3)

    def step(params, state, grads):
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    grads = {k: jnp.full((n,), 0.01, jnp.float32) for k in ("w0", "w1")}
    runs = {}
    for label, donate in (("jax.jit, donated", (0, 1)), ("jax.jit, not donated", ())):
        params = {k: jnp.full((n,), 0.5, jnp.float32) for k in ("w0", "w1")}
        box = [params, tx.init(params)]
        fn = jax.jit(step, donate_argnums=donate)

        def run(box=box, fn=fn):
            box[0], box[1] = fn(box[0], box[1], grads)
            jax.block_until_ready(box)

        runs[label] = run
    return runs


def nnx_step(model, optimizer, grads):
    """The update as a training step runs it: ``grads`` is a dict of plain arrays.

    Built into Params here, inside the jitted function: a State of Params passed *into*
    nnx.jit is a graph argument, which nnx.jit returns (copies) on every call.
    """
    params = nnx.state(model, nnx.Param)  # a new State: the model's Params stay as they are
    nnx.replace_by_pure_dict(params, grads)
    optimizer.update(model, params)


def nnx_step_variables(model, optimizer, grads):
    optimizer.update(model, grads)  # grads: a State of Params, passed in


def nnx_steps(n: int) -> dict:
    runs = {}
    setups = (
        ("nnx.jit, donated", (0, 1), nnx_step),
        ("nnx.jit, not donated", (), nnx_step),
        ("nnx.jit, donated, grads passed as a State of Params", (0, 1), nnx_step_variables),
    )
    for label, donate, step in setups:
        model = TwoLeaves(n)
        optimizer = nnx.Optimizer(model, jopt.adam(1e-3), wrt=nnx.Param)
        grads = {k: jnp.full((n,), 0.01, jnp.float32) for k in ("w0", "w1")}
        if step is nnx_step_variables:
            grads = jax.tree.map(lambda p: jnp.full(p.shape, 0.01, p.dtype), nnx.state(model))
        fn = nnx.jit(step, donate_argnums=donate)

        def run(model=model, optimizer=optimizer, grads=grads, fn=fn):
            fn(model, optimizer, grads)
            jax.block_until_ready(nnx.state(model))

        runs[label] = run
    return runs


def measure(runs: dict, repeats: int) -> dict:
    for run in runs.values():  # compile and first touch
        run()
    times = {label: [] for label in runs}
    order = np.random.default_rng(0)
    labels = list(runs)
    for _ in range(repeats):
        for i in order.permutation(len(labels)):
            time.sleep(0.02)
            t0 = time.perf_counter()
            runs[labels[i]]()
            times[labels[i]].append(time.perf_counter() - t0)
    return {label: statistics.median(t) * 1e3 for label, t in times.items()}


def table(ms: dict, n_params: int) -> str:
    def base(label):  # the same jit, donated
        return ms[label.split(",")[0] + ", donated"]

    rows = [f"| {label} | {ms[label]:.1f} | {ms[label] / base(label):.1f}× |" for label in ms]
    return (
        f"`jopt.adam` step on {n_params / 1e6:g} M parameters in 2 leaves, median ms:\n\n"
        "| step | ms | vs donated |\n|---|---:|---:|\n" + "\n".join(rows)
    )


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="leaf size × this")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args(argv)
    n = max(1, round(LEAF * args.scale))
    ms = measure({**jax_steps(n), **nnx_steps(n)}, args.repeats)
    import flax

    body = (
        f"Command: `python -m benchmarks.donation`\n\n"
        f"- date: {datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds')}\n"
        f"- jax {jax.__version__}, flax {flax.__version__}, optax {optax.__version__}; "
        f"{jax.devices()[0].platform}, median of {args.repeats} interleaved steps\n\n"
        + table(ms, 2 * n)
    )
    print(body)
    if args.out:
        write_section(Path(args.out), "donation", "## Donation: jax.jit and nnx.jit", body)
    return body


if __name__ == "__main__":
    main()
