"""Adam's state on a mesh of 8 devices: jopt and optax, three layouts, in one run.

    python -m benchmarks.sharded_state                 # 8 virtual CPU devices, docs/benchmarks.md
    python -m benchmarks.sharded_state --scale 0.01 --out ''   # a quick look

The transformer-shaped tree of benchmarks/update_step.py (12 layers, d=384, 24 M
parameters), data-parallel over a mesh ("data": 8, Auto axes), the step
``step(params, state, grads) -> (params, state)`` jitted with params and state donated,
the gradients given with the params' sharding (as the backward pass leaves them):

- replicated: params and state whole on every device (``tx.init`` on replicated params);
- sharded params: each parameter split over "data" on its largest dimension that 8
  divides, ``tx.init`` on them (the state follows, or not);
- ZeRO-1: params replicated, the state split over "data":
  ``jax.jit(tx.init, out_shardings=jopt.sharding.state_shardings(tx, params,
  zero_axis="data"))``, and the step's in/out shardings from the same call.

The first two use ``jax.jit(step)`` without shardings, as most training loops do. Columns:
optimizer-state bytes on each device (min-max over the 8), median step time, the bytes
XLA's cost analysis counts for one device's step (a noise-free measure of its work), the
collectives in the compiled step (XLA's HLO text: all-gather / reduce-scatter /
all-reduce, async starts included), and XLA compiles over ``--steps`` steps.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import statistics
import time
from pathlib import Path

if __name__ == "__main__" and "xla_force_host_platform_device_count" not in os.environ.get(
    "XLA_FLAGS", ""
):  # before jax is imported: 8 virtual CPU devices
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
    ).strip()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from jax.sharding import NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

import jopt  # noqa: E402
from benchmarks._report import write_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
from benchmarks.update_step import _transformer_shapes, machine, scaled, versions  # noqa: E402

DEVICES = 8
LAYOUTS = ("replicated", "sharded params", "ZeRO-1")
CONTENDERS = {"jopt": lambda: jopt.adam(1e-3), "optax": lambda: optax.adam(1e-3)}
COLLECTIVES = ("all-gather", "reduce-scatter", "all-reduce")
COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


def split_largest(mesh, shape) -> NamedSharding:
    """Over "data" on the largest dimension its size divides (replicated if none)."""
    spec = [None] * len(shape)
    fits = [d for d in range(len(shape)) if shape[d] % mesh.shape["data"] == 0]
    if fits:
        spec[max(fits, key=lambda d: shape[d])] = "data"
    return NamedSharding(mesh, P(*spec))


def per_device_bytes(tree) -> list[int]:
    buffers = {}
    for leaf in jax.tree.leaves(tree):
        for shard in leaf.addressable_shards:
            buffers[shard.device.id, shard.data.unsafe_buffer_pointer()] = shard.data.nbytes
    used = dict.fromkeys(d.id for d in jax.devices()[:DEVICES])
    for (device, _), n in buffers.items():
        used[device] = (used[device] or 0) + n
    return [n or 0 for n in used.values()]


def collectives(hlo: str) -> dict[str, int]:
    return {c: len(re.findall(rf"\b{c}(?:-start)?\(", hlo)) for c in COLLECTIVES}


class Contender:
    """One library's Adam in one layout: its params, state, jitted step and records."""

    def __init__(self, name: str, layout: str, mesh, shapes):
        tx = CONTENDERS[name]()
        replicated = NamedSharding(mesh, P())
        if layout == "sharded params":
            where = {k: split_largest(mesh, s) for k, s in shapes}
        else:
            where = {k: replicated for k, _ in shapes}
        self.params = {
            k: jax.device_put(jnp.full(s, 0.5, jnp.float32), where[k]) for k, s in shapes
        }
        self.grads = {
            k: jax.device_put(jnp.full(s, 0.01, jnp.float32), where[k]) for k, s in shapes
        }

        def step(params, state, grads):
            updates, state = tx.update(grads, state, params)
            return optax.apply_updates(params, updates), state

        if layout == "ZeRO-1":
            shardings = jopt.sharding.state_shardings(tx, self.params, zero_axis="data")
            self.state = jax.jit(tx.init, out_shardings=shardings)(self.params)
            self.jitted = jax.jit(
                step,
                in_shardings=(where, shardings, where),
                out_shardings=(where, shardings),
                donate_argnums=(0, 1),
            )
        else:
            self.state = tx.init(self.params)  # what a training loop writes
            self.jitted = jax.jit(step, donate_argnums=(0, 1))
        self.bytes = per_device_bytes(self.state)
        self.times: list[float] = []
        self.compiled: list[bool] = []

    def step(self, compiles: list) -> None:
        before, start = len(compiles), time.perf_counter()
        self.params, self.state = self.jitted(self.params, self.state, self.grads)
        jax.block_until_ready((self.params, self.state))
        self.times.append(time.perf_counter() - start)
        self.compiled.append(len(compiles) > before)

    def result(self) -> dict:
        steady = [t for t, c in zip(self.times, self.compiled, strict=True) if not c]
        # the executable the steady steps ran (already compiled: taken from the cache)
        compiled = self.jitted.lower(self.params, self.state, self.grads).compile()
        cost = compiled.cost_analysis()
        cost = cost[0] if isinstance(cost, list) else cost
        leaves = jax.tree.leaves(self.state)
        return {
            "bytes": self.bytes,
            "total": sum(int(np.prod(x.shape)) * x.dtype.itemsize for x in leaves),
            "ms": 1e3 * statistics.median(steady or self.times),
            "collectives": collectives(compiled.as_text()),
            "compiles": sum(self.compiled),
            "accessed": cost.get("bytes accessed", float("nan")),
        }


def run_layout(layout: str, mesh, shapes, steps: int) -> dict:
    """jopt and optax set up side by side, their steps interleaved (one each per round)."""
    contenders = {name: Contender(name, layout, mesh, shapes) for name in CONTENDERS}
    compiles: list[float] = []

    def count(event, duration, **kwargs):
        if event == COMPILE_EVENT:
            compiles.append(duration)

    jax.monitoring.register_event_duration_secs_listener(count)
    try:
        for _ in range(steps):
            for contender in contenders.values():
                contender.step(compiles)
    finally:
        jax.monitoring.unregister_event_duration_listener(count)
    return {name: c.result() for name, c in contenders.items()}


def table(results: dict) -> str:
    lines = [
        "| layout | library | state bytes / device (min–max) | total / 8 | step ms "
        "| XLA bytes accessed / device | all-gather | reduce-scatter | all-reduce "
        "| XLA compiles in the steps |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (layout, name), r in results.items():
        lo, hi = min(r["bytes"]), max(r["bytes"])
        spread = f"{lo:,}" if lo == hi else f"{lo:,} – {hi:,}"
        c = r["collectives"]
        lines.append(
            f"| {layout} | {name} | {spread} | {r['total'] // DEVICES:,} | {r['ms']:.1f} "
            f"| {r['accessed'] / 1e6:.1f} M "
            f"| {c['all-gather']} | {c['reduce-scatter']} | {c['all-reduce']} "
            f"| {r['compiles']} |"
        )
    return "\n".join(lines)


def verdict(results: dict) -> tuple[str, bool]:
    """The targets: ZeRO-1 bytes/device = total/8 (+ replicated scalars), and jopt never
    more collectives or compiles than optax for the same layout."""
    notes, ok = [], True
    for name in CONTENDERS:
        r = results["ZeRO-1", name]
        excess = max(r["bytes"]) - r["total"] / DEVICES
        fine = excess <= 64  # the count and the learning rate, replicated
        ok &= fine or name != "jopt"
        notes.append(
            f"ZeRO-1, {name}: at most {max(r['bytes']):,} bytes per device, total/8 "
            f"{r['total'] / DEVICES:,.0f} ({excess:+,.0f}: {'ok' if fine else 'NOT total/8'})"
        )
    for layout in LAYOUTS:
        j, o = results[layout, "jopt"], results[layout, "optax"]
        more = [c for c in COLLECTIVES if j["collectives"][c] > o["collectives"][c]]
        fine = not more and j["compiles"] <= o["compiles"]
        ok &= fine
        notes.append(
            f"{layout}: jopt {'≤' if fine else 'MORE than'} optax in collectives and compiles"
            + (f" ({', '.join(more)})" if more else "")
        )
    return "\n".join(f"- {n}" for n in notes), ok


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies first dimensions")
    parser.add_argument("--layers", type=int, default=12, help="transformer layers")
    parser.add_argument("--steps", type=int, default=10, help="steps per contender and layout")
    parser.add_argument(
        "--out", default=str(ROOT / "docs" / "benchmarks.md"), help="markdown ('' to skip)"
    )
    args = parser.parse_args(argv)
    if len(jax.devices()) < DEVICES:
        parser.error(f"needs {DEVICES} devices, found {len(jax.devices())}")
    mesh = jax.make_mesh(
        (DEVICES,),
        ("data",),
        devices=jax.devices()[:DEVICES],
        axis_types=(jax.sharding.AxisType.Auto,),
    )
    # first dimensions scaled, kept divisible by 8 so that every leaf splits evenly
    shapes = [
        (k, (max(DEVICES, scaled(s, args.scale)[0] // DEVICES * DEVICES), *s[1:]))
        for k, s in _transformer_shapes(layers=args.layers)
    ]
    n = sum(int(np.prod(s)) for _, s in shapes)
    results, load = {}, os.getloadavg()[0]
    for layout in LAYOUTS:  # one layout at a time: its arrays are freed before the next
        for name, result in run_layout(layout, mesh, shapes, args.steps).items():
            results[layout, name] = result
            print(f"{layout:15s} {name:6s} {result}", flush=True)
    notes, ok = verdict(results)
    body = (
        f"Adam (lr 1e-3, float32) on a transformer-shaped tree of {n / 1e6:.1f} M parameters "
        f"({args.layers} layers, d=384, {len(shapes)} leaves), over {DEVICES} virtual CPU devices (one process, mesh "
        f"'data': {DEVICES}, Auto axes), {args.steps} donated steps per row, the two libraries' "
        "steps interleaved; step ms: median of the steps that did not compile.\n"
        f"Run {datetime.date.today().isoformat()}: {versions()}; {machine(jax.devices()[0])}; "
        f"load average {load:.1f} at the start (a shared machine): the 8 devices share its "
        "cores, so step times compare layouts and libraries in this run, not hardware.\n\n"
        + table(results)
        + "\n\n"
        + notes
        + f"\n\nTargets met: {'yes' if ok else 'NO'}. Reproduce: "
        "`python -m benchmarks.sharded_state`.\n"
    )
    if args.out:
        write_section(Path(args.out), "sharded_state", "## Optimizer state on a mesh", body)
    print(body)
    return body


if __name__ == "__main__":
    main()
