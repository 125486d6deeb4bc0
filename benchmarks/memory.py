"""Memory-lean optimizer state: bytes per parameter, quality over seeds, step time.

    python -m benchmarks.memory                  # all three sections of docs/benchmarks.md
    python -m benchmarks.memory --only bytes     # one of: bytes, quality, speed

- **bytes**: Adam's state bytes per parameter, counted from the state tree
  (``jax.eval_shape`` of ``init``, nothing allocated) of a 16.8 M-parameter
  transformer-shaped tree, for float32, bfloat16, int8, fp8 and int4 moments; and the bytes
  of parameters + state for pure bfloat16 training against float32 master weights.
- **quality**: the final loss over 5 seeds of two tasks, the digits MLP and a small
  character-level transformer language model trained on this repository's README, for each
  state format and for bfloat16 parameters (stochastic rounding, Kahan summation, plain
  round-to-nearest) against float32 parameters.
- **speed**: one jitted Adam step on one leaf, float32 state against the quantized ones,
  optax's adam and torch's fused Adam (when torch is installed), interleaved, medians, with
  XLA's bytes accessed per parameter.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import jopt
from benchmarks._report import write_section

ROOT = Path(__file__).resolve().parents[1]


def _formats() -> dict[str, dict[str, Any]]:
    """Adam's state formats: the keyword arguments of ``jopt.adam`` for each."""
    out: dict[str, dict[str, Any]] = {"float32": {}, "bfloat16": {}}
    out["bfloat16"] = dict(mu_dtype=jnp.bfloat16, nu_dtype=jnp.bfloat16)
    for kind in ("int8", "fp8", "int4"):
        fmt = jopt.quantized(kind)
        out[kind] = dict(mu_dtype=fmt, nu_dtype=fmt)
    return out


# ------------------------------------------------------------------------ bytes


def transformer_shapes(
    vocab: int = 8192, d: int = 512, layers: int = 4, mlp: int = 4
) -> dict[str, Any]:
    """A decoder's parameter tree as shapes (16.8 M parameters at the defaults)."""
    f32 = jnp.float32
    tree: dict[str, Any] = {"embed": jax.ShapeDtypeStruct((vocab, d), f32)}
    for i in range(layers):
        tree[f"layer{i}"] = {
            "qkv": jax.ShapeDtypeStruct((d, 3 * d), f32),
            "out": jax.ShapeDtypeStruct((d, d), f32),
            "up": jax.ShapeDtypeStruct((d, mlp * d), f32),
            "down": jax.ShapeDtypeStruct((mlp * d, d), f32),
            "norm1": jax.ShapeDtypeStruct((d,), f32),
            "norm2": jax.ShapeDtypeStruct((d,), f32),
        }
    tree["norm"] = jax.ShapeDtypeStruct((d,), f32)
    return tree


def tree_bytes(tree: Any) -> int:
    return sum(int(np.prod(x.shape)) * jnp.dtype(x.dtype).itemsize for x in jax.tree.leaves(tree))


def bytes_section() -> str:
    params = transformer_shapes()
    n = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(params))
    lines = [
        f"Adam's state (m and v) of a transformer-shaped tree of {n:,} parameters (embedding "
        "8192×512, 4 layers of 512-wide attention and a 4× MLP, norms), counted from the "
        "state tree (`jax.eval_shape(tx.init, params)`). Quantized formats keep leaves of "
        "fewer than 4,096 elements (the norms) in float32, as bitsandbytes and torchao do.",
        "",
        "| Adam state | state bytes | bytes per parameter |",
        "|---|---:|---:|",
    ]
    for name, kw in _formats().items():
        state = jax.eval_shape(jopt.adam(1e-3, **kw).init, params)
        b = tree_bytes(state)
        lines.append(f"| {name} | {b:,} | {b / n:.2f} |")
    bf16 = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, jnp.bfloat16), params)
    rows = {
        "float32 master weights + bfloat16 copy, float32 m, v": (
            tree_bytes(params) + tree_bytes(bf16),
            optax.adam(1e-3),
            params,
        ),
        "bfloat16 parameters, bfloat16 m, v, stochastic rounding": (
            tree_bytes(bf16),
            optax.chain(jopt.adam(1e-3, **_formats()["bfloat16"]), jopt.stochastic_rounding()),
            bf16,
        ),
        "bfloat16 parameters, bfloat16 m, v, Kahan summation": (
            tree_bytes(bf16),
            optax.chain(jopt.adam(1e-3, **_formats()["bfloat16"]), jopt.kahan_summation()),
            bf16,
        ),
        "bfloat16 parameters, int8 m, v, stochastic rounding": (
            tree_bytes(bf16),
            optax.chain(jopt.adam(1e-3, **_formats()["int8"]), jopt.stochastic_rounding()),
            bf16,
        ),
    }
    lines += [
        "",
        "Parameters and optimizer state together, and with the bfloat16 gradients the "
        "backward pass produces in both setups:",
        "",
        "| training | parameters + state, bytes / param | + bfloat16 gradients |",
        "|---|---:|---:|",
    ]
    for name, (param_bytes, tx, like) in rows.items():
        b = param_bytes + tree_bytes(jax.eval_shape(tx.init, like))
        lines.append(f"| {name} | {b / n:.2f} | {(b + tree_bytes(bf16)) / n:.2f} |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- quality


def _digits(seed: int):
    x, y = load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x / 16.0, y, test_size=0.25, random_state=seed)
    return (
        jnp.asarray(x_tr, jnp.float32),
        jnp.asarray(y_tr, jnp.int32),
        jnp.asarray(x_te, jnp.float32),
        jnp.asarray(y_te, jnp.int32),
    )


def _dense(key, a: int, b: int, dtype) -> jax.Array:
    return (jax.random.normal(key, (a, b), jnp.float32) / np.sqrt(a)).astype(dtype)


def _as_forward(forward):
    """Parameters as the forward pass uses them: rounded to ``forward``, computed in float32."""
    return lambda a: a.astype(forward).astype(jnp.float32)


def mlp_task(seed: int, dtype, forward) -> tuple[Any, Callable, Callable]:
    """The digits MLP 64-256-256-10: params, batch loss, final loss (test set)."""
    x_tr, y_tr, x_te, y_te = _digits(seed)
    keys = jax.random.split(jax.random.key(seed), 3)
    sizes = (64, 256, 256, 10)
    params = {
        f"w{i}": _dense(keys[i], a, b, dtype)
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))
    }
    params |= {f"b{i}": jnp.zeros((b,), dtype) for i, b in enumerate(sizes[1:])}

    f = _as_forward(forward)

    def loss(p, x, y):
        h = x
        for i in range(3):
            h = h @ f(p[f"w{i}"]) + f(p[f"b{i}"])
            h = jax.nn.relu(h) if i < 2 else h
        return optax.softmax_cross_entropy_with_integer_labels(h, y).mean()

    def batch(k):
        idx = jax.random.randint(
            jax.random.fold_in(jax.random.key(seed + 1000), k), (64,), 0, len(x_tr)
        )
        return x_tr[idx], y_tr[idx]

    return params, lambda p, k: loss(p, *batch(k)), lambda p: loss(p, x_te, y_te)


def _text() -> np.ndarray:
    return np.frombuffer((ROOT / "README.md").read_bytes(), np.uint8)


def lm_task(seed: int, dtype, forward) -> tuple[Any, Callable, Callable]:
    """A 2-layer character transformer (d=64, 4 heads, context 32) on README.md's bytes:
    params, batch loss, final loss (the last 10 % of the text, held out)."""
    data = jnp.asarray(_text(), jnp.int32)
    split = int(0.9 * len(data))
    train, test = data[:split], data[split:]
    d, heads, ctx, vocab = 64, 4, 32, 256
    keys = iter(jax.random.split(jax.random.key(seed), 16))
    params: dict[str, Any] = {
        "embed": (jax.random.normal(next(keys), (vocab, d)) * 0.02).astype(dtype),
        "pos": (jax.random.normal(next(keys), (ctx, d)) * 0.02).astype(dtype),
    }
    for i in range(2):
        params[f"l{i}"] = {
            "qkv": _dense(next(keys), d, 3 * d, dtype),
            "out": _dense(next(keys), d, d, dtype),
            "up": _dense(next(keys), d, 4 * d, dtype),
            "down": _dense(next(keys), 4 * d, d, dtype),
        }

    def norm(h):
        return (h - h.mean(-1, keepdims=True)) * jax.lax.rsqrt(h.var(-1, keepdims=True) + 1e-5)

    f = _as_forward(forward)

    def apply(p, tokens):
        h = f(p["embed"])[tokens] + f(p["pos"])[: tokens.shape[-1]]
        mask = jnp.tril(jnp.ones((tokens.shape[-1],) * 2, bool))
        for i in range(2):
            lp = p[f"l{i}"]
            q, k, v = jnp.split(norm(h) @ f(lp["qkv"]), 3, axis=-1)
            shape = (*tokens.shape, heads, d // heads)
            q, k, v = (a.reshape(shape) for a in (q, k, v))
            att = jnp.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(d // heads)
            att = jax.nn.softmax(jnp.where(mask, att, -1e9), axis=-1)
            h = h + jnp.einsum("bhqk,bkhd->bqhd", att, v).reshape(h.shape) @ f(lp["out"])
            h = h + jax.nn.gelu(norm(h) @ f(lp["up"])) @ f(lp["down"])
        return norm(h) @ f(p["embed"]).T

    def loss_on(p, windows):
        logits = apply(p, windows[:, :-1])
        return optax.softmax_cross_entropy_with_integer_labels(logits, windows[:, 1:]).mean()

    def windows(source, key, n):
        start = jax.random.randint(key, (n,), 0, len(source) - ctx - 1)
        return jax.vmap(lambda s: jax.lax.dynamic_slice(source, (s,), (ctx + 1,)))(start)

    fixed = windows(test, jax.random.key(0), 64)
    step_key = jax.random.key(seed + 1000)
    return (
        params,
        lambda p, k: loss_on(p, windows(train, jax.random.fold_in(step_key, k), 16)),
        lambda p: loss_on(p, fixed),
    )


def train(task, seed: int, steps: int, lr: float, tx_of: Callable, dtype, forward) -> float:
    params, batch_loss, final_loss = task(seed, dtype, forward)
    tx = tx_of(lr)
    state = tx.init(params)

    @jax.jit
    def run(params, state):
        def body(carry, k):
            p, s = carry
            g = jax.grad(batch_loss)(p, k)
            u, s = tx.update(g, s, p)
            return (optax.apply_updates(p, u), s), None

        (params, state), _ = jax.lax.scan(body, (params, state), jnp.arange(steps))
        return final_loss(params)

    return float(run(params, state))


def _adam(lr: float, **kw: Any) -> optax.GradientTransformation:
    return jopt.adam(lr, **kw)


def quality_rows() -> dict[str, tuple[Callable, Any, Any]]:
    """Each run: its transformation ``lr -> tx``, the params' dtype, the forward's dtype."""
    f32, bf16 = jnp.float32, jnp.bfloat16
    rows: dict[str, tuple[Callable, Any, Any]] = {
        f"{name} m, v": (functools.partial(_adam, **kw), f32, f32)
        for name, kw in _formats().items()
    }
    rows["float32 master weights, bfloat16 forward"] = (jopt.adam, f32, bf16)
    f32_state = dict(mu_dtype=f32, nu_dtype=f32)  # a bfloat16 leaf's default is bfloat16
    rows["bfloat16 params, stochastic rounding"] = (
        lambda lr: optax.chain(jopt.adam(lr, **f32_state), jopt.stochastic_rounding()),
        bf16,
        bf16,
    )
    rows["bfloat16 params, Kahan summation"] = (
        lambda lr: optax.chain(jopt.adam(lr, **f32_state), jopt.kahan_summation()),
        bf16,
        bf16,
    )
    rows["bfloat16 params, round to nearest"] = (
        lambda lr: jopt.adam(lr, **f32_state),
        bf16,
        bf16,
    )
    rows["bfloat16 params and m, v, stochastic rounding"] = (
        lambda lr: optax.chain(jopt.adam(lr), jopt.stochastic_rounding()),
        bf16,
        bf16,
    )
    return rows


# Each task: its builder, Adam's rate and the steps. The rates are small enough that a
# bfloat16 parameter cannot take most updates (|update| < half its spacing): the case
# stochastic rounding and Kahan summation exist for.
TASKS = {
    "digits MLP 64-256-256-10": (mlp_task, 1e-4, 1500),
    "char transformer on README.md": (lm_task, 1e-3, 600),
}
BASELINES = {"bfloat16 params": "float32 master weights, bfloat16 forward"}


def quality_section(seeds: int, scale: float) -> str:
    lines = [
        f"Adam, seeds 0..{seeds - 1} (data order and initialization per seed), final loss on "
        "held-out data (digits: the test split; language model: a fixed sample of the last "
        "10 % of README.md), mean ± sd. The state rows keep float32 parameters and change only "
        "m and v (compared with float32 m, v in its seed sd). The parameter rows keep float32 "
        "m, v and change how the parameters are stored (compared with float32 master weights "
        "whose forward pass sees them rounded to bfloat16, as the bfloat16 rows' does); the "
        "last row is pure bfloat16 training, bfloat16 m and v too (6 bytes per parameter).",
        "",
    ]
    for task_name, (task, lr, steps) in TASKS.items():
        steps = max(1, int(steps * scale))
        lines += [
            f"**{task_name}** (lr {lr}, {steps} steps, batch 64 / 16 windows of 32)",
            "",
            "| run | final loss, mean ± sd | against its baseline |",
            "|---|---:|---:|",
        ]
        results: dict[str, tuple[float, float]] = {}
        for name, (tx_of, dtype, forward) in quality_rows().items():
            every = [train(task, s, steps, lr, tx_of, dtype, forward) for s in range(seeds)]
            losses = [x for x in every if np.isfinite(x)]
            if not losses:
                lines.append(f"| {name} | diverged (NaN) in {seeds} of {seeds} seeds | – |")
                print(task_name, lines[-1], flush=True)
                continue
            mean = statistics.mean(losses)
            sd = statistics.stdev(losses) if len(losses) > 1 else 0.0
            results[name] = (mean, sd)
            if len(losses) < seeds:
                name = f"{name} (NaN in {seeds - len(losses)} of {seeds} seeds)"
            base_name = next(
                (b for prefix, b in BASELINES.items() if name.startswith(prefix)), "float32 m, v"
            )
            base_mean, base_sd = results[base_name]
            if name == base_name:
                gap = "baseline"
            elif base_name == "float32 m, v":
                gap = (
                    f"{mean - base_mean:+.4f} ({(mean - base_mean) / base_sd:+.1f} sd)"
                    if base_sd
                    else f"{mean - base_mean:+.4f}"
                )
            else:
                gap = f"{(mean - base_mean) / base_mean:+.1%}"
            lines.append(f"| {name} | {mean:.4f} ± {sd:.4f} | {gap} |")
            print(task_name, lines[-1], flush=True)
        lines.append("")
    return "\n".join(lines)


# ------------------------------------------------------------------------ speed


def _bytes_accessed(fn, *args) -> float:
    cost = jax.jit(fn).lower(*args).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return float(cost.get("bytes accessed", float("nan")))


def speed_section(size: int, repeats: int, device: str = "cpu") -> str:
    key = jax.random.key(0)
    params = jax.random.normal(key, (size // 1024, 1024), jnp.float32)
    grads = jax.random.normal(jax.random.key(1), params.shape, jnp.float32) * 1e-2
    candidates: dict[str, Any] = {
        f"jopt.adam, {name} m, v": jopt.adam(1e-3, **kw) for name, kw in _formats().items()
    }
    candidates["optax.adam"] = optax.adam(1e-3)
    steps, states, accessed = {}, {}, {}
    for name, tx in candidates.items():

        def step(p, s, g, tx=tx):
            u, s = tx.update(g, s, p)
            return optax.apply_updates(p, u), s

        state = tx.init(params)
        steps[name] = jax.jit(step, donate_argnums=(0, 1))
        states[name] = (jnp.copy(params), state)
        accessed[name] = _bytes_accessed(step, params, state, grads)
    torch_step = _torch_fused_adam(np.asarray(params), np.asarray(grads), device)
    times: dict[str, list[float]] = {
        name: [] for name in [*steps, *(["torch Adam(fused=True)"] if torch_step else [])]
    }
    for name, fn in steps.items():  # compile and warm up
        states[name] = jax.block_until_ready(fn(*states[name], grads))
    for _ in range(repeats):  # interleaved
        for name, fn in steps.items():
            t = time.perf_counter()
            states[name] = jax.block_until_ready(fn(*states[name], grads))
            times[name].append(time.perf_counter() - t)
        if torch_step:
            times["torch Adam(fused=True)"].append(torch_step())
    base = statistics.median(times["jopt.adam, float32 m, v"])
    lines = [
        f"One Adam step on one float32 leaf of {size:,} elements, jitted with donation, on "
        f"{jax.devices()[0].device_kind} ({repeats} interleaved repeats, medians).",
        "",
        "| step | ms | vs jopt float32 | XLA bytes accessed / param |",
        "|---|---:|---:|---:|",
    ]
    for name, ts in times.items():
        med = statistics.median(ts)
        b = accessed.get(name)
        b_text = f"{b / size:.1f}" if b is not None else "–"
        lines.append(f"| {name} | {1e3 * med:.2f} | {med / base:.2f}× | {b_text} |")
    lines += [
        "",
        "On CPU a quantized leaf this large steps in a loop over chunks of 65,536 elements "
        "(jopt._core.moments.chunked), and XLA's bytes accessed counts a loop's body once: "
        "the quantized rows undercount (the loop reads g and the codes and writes the codes, "
        "about 8 bytes per parameter, besides what is counted).",
    ]
    return "\n".join(lines) + "\n"


def _torch_fused_adam(params: np.ndarray, grads: np.ndarray, device: str):
    try:
        import torch
    except ImportError:
        return None
    where = "cuda" if device == "gpu" else "cpu"
    if where == "cuda" and not torch.cuda.is_available():
        return None
    p = torch.nn.Parameter(torch.from_numpy(params.copy()).to(where))
    g = torch.from_numpy(grads.copy()).to(where)
    try:
        opt = torch.optim.Adam([p], lr=1e-3, fused=True)
    except (RuntimeError, ValueError):
        opt = torch.optim.Adam([p], lr=1e-3, foreach=True)
    p.grad = g
    opt.step()

    def step() -> float:
        t = time.perf_counter()
        opt.step()
        if where == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t

    return step


# ------------------------------------------------------------------------- main


def main(argv=None) -> dict[str, str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("bytes", "quality", "speed"), default=None)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0, help="quality: a fraction of the steps")
    parser.add_argument("--size", type=int, default=25 * 2**20, help="speed: leaf elements")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu", help="speed: torch's")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args(argv)
    command = " ".join(
        ["python -m benchmarks.memory", *(argv if argv is not None else sys.argv[1:])]
    )
    sections = {
        "bytes": ("memory_bytes", "## Memory-lean state: bytes per parameter", bytes_section),
        "quality": (
            "memory_quality",
            "## Memory-lean state: quality over seeds",
            lambda: quality_section(args.seeds, args.scale),
        ),
        "speed": (
            f"memory_speed_{args.device}",
            f"## Memory-lean state: step time ({args.device})",
            lambda: speed_section(args.size, args.repeats, args.device),
        ),
    }
    out: dict[str, str] = {}
    for name, (key, title, make) in sections.items():
        if args.only not in (None, name):
            continue
        body = f"Command: `{command}`\n\n" + make()
        print(body, flush=True)
        out[name] = body
        if args.out:
            write_section(Path(args.out), key, title, body)
    return out


if __name__ == "__main__":
    main()
