"""The quantized-state codec inside one Adam-like step, against the float32 step.

    python -m benchmarks.quantize                       # one 25 M-element leaf
    python -m benchmarks.quantize --size 4194304 --repeats 9   # a quicker look

One leaf of ``--size`` float32 parameters. Each contender is a jitted, donated
``step(p, m, v, g) -> (p, m, v)``: decode m (signed map) and v (unsigned map), update them
in float32 (m = 0.9 m + 0.1 g, v = 0.999 v + 0.001 g², p −= 1e-3 m / (√v + 1e-8)) and
encode both again; the float32 contender keeps m and v in float32. ``old`` is the direct
formulation (``jopt._core.quantize._reference_encode``: a gather from bitsandbytes'
65,536-entry table, or torchao's binary search in the map), ``new`` the closed form
(``_arithmetic_encode``); both decode with :func:`~jopt._core.quantize.decode`.
``chunked``: the same step in a loop over chunks of ``CHUNK`` elements updated in place.
The contenders run interleaved, one step each per round; the table shows medians, the
ratio to the float32 step and XLA's ``bytes accessed`` per parameter
(``compiled.cost_analysis()``). The load average is printed: the numbers come from a
shared machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jopt._core import quantize as Q

Step = Callable[..., Any]
CHUNK = 1 << 16  # elements per chunk of the chunked steps


def _float32_step(p: jax.Array, m: jax.Array, v: jax.Array, g: jax.Array) -> tuple:
    m = 0.9 * m + 0.1 * g
    v = 0.999 * v + 0.001 * g * g
    return p - 1e-3 * m / (jnp.sqrt(v) + 1e-8), m, v


def _quantized_step(kind: str, rounding: str, encode: Callable[..., Q.Quantized]) -> Step:
    def step(p: jax.Array, m: Q.Quantized, v: Q.Quantized, g: jax.Array) -> tuple:
        md = Q.decode(m, kind, signed=True, shape=p.shape)
        vd = Q.decode(v, kind, signed=False, shape=p.shape)
        md = 0.9 * md + 0.1 * g
        vd = 0.999 * vd + 0.001 * g * g
        p = p - 1e-3 * md / (jnp.sqrt(vd) + 1e-8)
        m = encode(md, kind, signed=True, rounding=rounding)
        return p, m, encode(vd, kind, signed=False, rounding=rounding)

    return step


def _chunked(step: Step, kind: str, chunk: int) -> Step:
    """``step`` over consecutive chunks of ``chunk`` elements, in place in a loop: no
    temporary larger than a chunk (XLA:CPU materializes the new moments for the absmax
    reduction, and fresh large buffers cost page faults every step)."""
    block = Q.BLOCK_SIZE[kind]
    pack = Q.PACKING[kind]

    def chunked(p: jax.Array, m: Q.Quantized, v: Q.Quantized, g: jax.Array) -> tuple:
        n = p.shape[0] // chunk

        def body(i: jax.Array, carry: tuple) -> tuple:
            p, m, v = carry
            at, at_codes, at_scales = i * chunk, i * (chunk // pack), i * (chunk // block)

            def piece(q: Q.Quantized) -> Q.Quantized:
                return Q.Quantized(
                    jax.lax.dynamic_slice_in_dim(q.codes, at_codes, chunk // pack),
                    jax.lax.dynamic_slice_in_dim(q.scales, at_scales, chunk // block),
                )

            def put(q: Q.Quantized, new: Q.Quantized) -> Q.Quantized:
                return Q.Quantized(
                    jax.lax.dynamic_update_slice_in_dim(q.codes, new.codes, at_codes, 0),
                    jax.lax.dynamic_update_slice_in_dim(q.scales, new.scales, at_scales, 0),
                )

            pc, mc, vc = step(
                jax.lax.dynamic_slice_in_dim(p, at, chunk),
                piece(m),
                piece(v),
                jax.lax.dynamic_slice_in_dim(g, at, chunk),
            )
            return jax.lax.dynamic_update_slice_in_dim(p, pc, at, 0), put(m, mc), put(v, vc)

        return jax.lax.fori_loop(0, n, body, (p, m, v))

    return chunked


def contenders() -> dict[str, tuple[Step, str | None]]:
    """name -> (step, kind of the state: None for float32)."""
    new = Q._arithmetic_encode  # pyright: ignore[reportPrivateUsage]
    old = Q._reference_encode  # pyright: ignore[reportPrivateUsage]
    return {
        "float32": (_float32_step, None),
        "int8, bitsandbytes rule, old": (_quantized_step("int8", "bitsandbytes", old), "int8"),
        "int8, bitsandbytes rule, new": (_quantized_step("int8", "bitsandbytes", new), "int8"),
        "int8, torchao rule, old": (_quantized_step("int8", "torchao", old), "int8"),
        "int8, torchao rule, new": (_quantized_step("int8", "torchao", new), "int8"),
        "fp8": (_quantized_step("fp8", "torchao", new), "fp8"),
        "int4, old": (_quantized_step("int4", "torchao", old), "int4"),
        "int4, new": (_quantized_step("int4", "torchao", new), "int4"),
        "int8, bitsandbytes rule, old, chunked": (
            _chunked(_quantized_step("int8", "bitsandbytes", old), "int8", CHUNK),
            "int8",
        ),
        "int8, bitsandbytes rule, new, chunked": (
            _chunked(_quantized_step("int8", "bitsandbytes", new), "int8", CHUNK),
            "int8",
        ),
        "int8, torchao rule, new, chunked": (
            _chunked(_quantized_step("int8", "torchao", new), "int8", CHUNK),
            "int8",
        ),
        "int4, new, chunked": (
            _chunked(_quantized_step("int4", "torchao", new), "int4", CHUNK),
            "int4",
        ),
    }


def run(size: int, repeats: int, only: list[str] | None = None) -> str:
    rng = np.random.default_rng(0)
    g = jnp.asarray(rng.standard_normal(size, np.float32) * np.float32(1e-3))
    p0 = rng.standard_normal(size, np.float32)
    cases = {k: c for k, c in contenders().items() if not only or k in only}
    steps, states, costs = {}, {}, {}
    for name, (step, kind) in cases.items():
        p = jnp.asarray(p0)
        if kind is None:
            m, v = g * 0.1, g * g * 0.001
        else:
            m = Q.encode(g, kind, signed=True)
            v = Q.encode(g * g, kind, signed=False)
        jitted = jax.jit(step, donate_argnums=(0, 1, 2))
        compiled = jitted.lower(p, m, v, g).compile()
        cost = compiled.cost_analysis()
        cost = cost[0] if isinstance(cost, list) else cost
        costs[name] = float(cost["bytes accessed"]) / size
        states[name] = jax.block_until_ready(jitted(p, m, v, g))  # warm up
        steps[name] = jitted
    times: dict[str, list[float]] = {name: [] for name in cases}
    loads = [os.getloadavg()[0]]
    for _ in range(repeats):
        for name, jitted in steps.items():
            start = time.perf_counter()
            states[name] = jax.block_until_ready(jitted(*states[name], g))
            times[name].append(time.perf_counter() - start)
        loads.append(os.getloadavg()[0])
    base = statistics.median(times["float32"]) if "float32" in times else float("nan")
    lines = [
        f"One leaf of {size:,} float32 parameters, {repeats} interleaved rounds, "
        f"jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} CPUs, "
        f"load average {min(loads):.1f}-{max(loads):.1f}.",
        "",
        "| step | median ms | min ms | × float32 | bytes accessed / param |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, ts in times.items():
        med = statistics.median(ts)
        # XLA counts a loop's body once: no per-parameter figure for the chunked steps
        cost = "—" if "chunked" in name else f"{costs[name]:.1f}"
        lines.append(
            f"| {name} | {med * 1e3:.1f} | {min(ts) * 1e3:.1f} | {med / base:.2f} | {cost} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=25 * 1024 * 1024)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--only", nargs="*", help="contender names (default: all)")
    args = parser.parse_args()
    print(run(args.size, args.repeats, args.only))


if __name__ == "__main__":
    main()
