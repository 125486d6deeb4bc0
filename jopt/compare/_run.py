"""The runner: one jitted, vmapped program per optimizer family and block of learning rates.

A family's program is one ``lax.scan`` over the steps (an outer scan over the record points,
an inner one over the steps between them), ``vmap``ped over learning rate × schedule × seed.
The jopt (or optax) transform is built inside the vmapped function from the traced learning
rate, so one compile serves every rate, schedule and seed.

Learning rates lie on one log-spaced grid, ``GRID_PER_DECADE`` points per decade. A family
first runs its initial block of rates; while its best rate (for any schedule) is the lowest
or the highest rate tried, one more block of the same size is run beyond that end, at most
``MAX_EXTENSIONS`` times per side. A block has the initial block's shape, so an extension
reuses the compiled program. A best rate still on the edge after that is "at the grid
limit": the report marks it and no verdict rests on it. On the 2-D problems all families
share one grid and one program (their runs take milliseconds; the compile is what costs).
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jopt

F32 = jnp.float32
GRID_PER_DECADE = 4  # learning rates 10^(k/4): 1, 1.78, 3.16, 5.62, 10, ...
MAX_EXTENSIONS = 2  # blocks added beyond each end of the initial grid, at most
STEP_GAMMA = 0.1  # StepLR: the rate is multiplied by 0.1 ...
STEP_PARTS = 3  # ... after each third of the run


def grid_index(lr: float) -> int:
    """The grid point nearest to ``lr``."""
    return round(GRID_PER_DECADE * math.log10(lr))


def grid_lr(k: int) -> float:
    return 10.0 ** (k / GRID_PER_DECADE)


@dataclass(frozen=True)
class Setup:
    """What the program needs of a problem, besides its arrays; hashable (a static argument).

    ``loss(params, batch)`` is the mini-batch loss, ``full_loss(params, data)`` the loss on the
    whole training set (what full-batch optimizers descend and what is recorded),
    ``metrics`` are ``(name, fn(params, aux))`` recorded at the record points.
    """

    loss: Callable[[Any, Any], jax.Array]
    full_loss: Callable[[Any, Any], jax.Array]
    batch_size: int
    schedules: tuple[str, ...] = ("constant",)
    metrics: tuple[tuple[str, Callable[[Any, Any], jax.Array]], ...] = ()
    record_params: bool = False  # record the parameters (flattened) at every record point


@dataclass
class Arrays:
    """The problem's arrays: training data, ``aux`` for the metrics, per-seed starts and keys."""

    data: Any  # pytree, leading axis: examples
    aux: Any  # pytree passed to the metrics
    params0: Any  # pytree, leading axis: runs (seed-major)
    keys: jax.Array  # [runs] mini-batch keys


@dataclass
class Runs:
    """One optimizer on one problem; arrays indexed [lr, schedule, run, record point]."""

    lrs: np.ndarray  # [L] ascending
    schedules: tuple[str, ...]
    loss: np.ndarray  # [L, K, S, R+1] full-batch loss; record 0 is the start
    metrics: dict[str, np.ndarray]  # name -> [L, K, S, R+1]
    step_size: np.ndarray  # [L, K, S, R] effective step ‖Δθ‖/‖g‖, last step of each block
    trajectory: np.ndarray | None  # [L, K, S, R+1, P] flattened parameters (record_params)
    steps: np.ndarray  # [R+1] the step count at each record point
    seeds: int  # independent seeds; runs = seeds × starts per seed
    extensions: list[int] = field(default_factory=lambda: [0, 0])  # blocks added below, above

    def at_limit(self, i: int) -> str | None:
        """ "low" / "high" when lr index ``i`` is on an end that the limit stopped extending."""
        if i == 0 and self.extensions[0] >= MAX_EXTENSIONS:
            return "low"
        if i == len(self.lrs) - 1 and self.extensions[1] >= MAX_EXTENSIONS:
            return "high"
        return None


def _batches(key: jax.Array, steps: int, num_examples: int, batch_size: int) -> jax.Array:
    """``steps`` mini-batches: consecutive epochs of ``jopt.minibatch_indices``."""
    per_epoch = num_examples // batch_size
    epochs = math.ceil(steps / per_epoch)
    idx = jax.vmap(lambda k: jopt.minibatch_indices(k, num_examples, batch_size))(
        jax.random.split(key, epochs)
    )
    return idx.reshape(-1, batch_size)[:steps]


def _schedule(lr, kind, total: int, schedules: tuple[str, ...]):
    """The learning rate (a constant) or a schedule choosing among ``schedules`` by ``kind``."""
    if schedules == ("constant",):
        return lr
    table = {
        "constant": lambda count: lr,
        "step": jopt.schedules.step_lr(lr, max(1, math.ceil(total / STEP_PARTS)), STEP_GAMMA),
        "cosine": jopt.schedules.cosine_annealing_lr(lr, total),
    }
    branches = tuple(table[s] for s in schedules)
    return lambda count: jax.lax.switch(kind, branches, count)


def _norm(tree) -> jax.Array:
    return jnp.sqrt(sum(jnp.sum(jnp.square(x.astype(F32))) for x in jax.tree.leaves(tree)))


def _flat(tree) -> jax.Array:
    return jnp.concatenate([jnp.ravel(x).astype(F32) for x in jax.tree.leaves(tree)])


def _one_run(setup, make, full_batch, records, every, data, aux, lr, kind, params0, key):
    total = records * every
    tx = make(_schedule(lr, kind, total, setup.schedules))
    n = jax.tree.leaves(data)[0].shape[0]

    def grad(params, idx):
        if full_batch:
            return jax.grad(setup.full_loss)(params, data)
        return jax.grad(setup.loss)(params, jax.tree.map(lambda a: a[idx], data))

    def step(carry, idx):
        params, state = carry
        g = grad(params, idx)
        updates, state = tx.update(g, state, params)
        gnorm = _norm(g)
        eff = jnp.where(gnorm > 0, _norm(updates) / gnorm, jnp.zeros([], F32))
        return (optax.apply_updates(params, updates), state), eff

    def record(params):
        out = {"loss": setup.full_loss(params, data).astype(F32)}
        out.update({name: fn(params, aux).astype(F32) for name, fn in setup.metrics})
        if setup.record_params:
            out["params"] = _flat(params)
        return out

    def block(carry, idx):
        carry, eff = jax.lax.scan(step, carry, idx, length=every)
        return carry, (record(carry[0]), eff[-1])

    if full_batch:
        xs = None
    else:
        xs = _batches(key, total, n, setup.batch_size).reshape(records, every, -1)
    carry = (params0, tx.init(params0))
    _, (recs, eff) = jax.lax.scan(block, carry, xs, length=records)
    first = record(params0)
    recs = jax.tree.map(lambda a, r: jnp.concatenate([a[None], r]), first, recs)
    return recs, eff


def _program(setup, families, records, every, data, aux, lrs, params0, keys):
    """Every family of ``families`` ((make, full_batch) pairs): its own vmapped scan."""
    kinds = jnp.arange(len(setup.schedules), dtype=jnp.int32)
    out = []
    for (make, full_batch), lr, p0, key in zip(families, lrs, params0, keys, strict=True):
        run = functools.partial(_one_run, setup, make, full_batch, records, every, data, aux)
        over_runs = jax.vmap(run, in_axes=(None, None, 0, 0))
        over_kinds = jax.vmap(over_runs, in_axes=(None, 0, None, None))
        out.append(jax.vmap(over_kinds, in_axes=(0, None, None, None))(lr, kinds, p0, key))
    return tuple(out)


# XLA's optimization level trades compile time for run time: the 2-D problems' runs take
# milliseconds, so they compile fastest at level 0; the data problems' at level 1 (their run
# time as at the default level 2, a quarter less compile time, measured on 2 CPU cores).
_STATIC = ("setup", "families", "records", "every")
_PROGRAMS = {
    level: jax.jit(
        _program,
        static_argnames=_STATIC,
        compiler_options={"xla_backend_optimization_level": level},
    )
    for level in (0, 1)
}


def record_plan(steps: int, max_records: int) -> tuple[int, int]:
    """(record points, steps between them): at most ``max_records`` points, steps rounded up."""
    every = max(1, math.ceil(steps / max_records))
    return math.ceil(steps / every), every


@dataclass(frozen=True)
class Family:
    """One optimizer on a problem: how to build it, its batches, its initial block, its runs."""

    name: str
    make: Callable[..., optax.GradientTransformation]
    full_batch: bool
    grid: tuple[int, int]  # first and last grid index of the initial block
    seeds: int
    runs: int  # seeds × starts per seed, or 1 for a deterministic run


def _call(setup, families, ks, records, every, arrays, level) -> list[dict]:
    """One program: every family of ``families`` at the grid points ``ks``."""
    lrs = tuple(jnp.asarray([grid_lr(k) for k in ks], F32) for _ in families)
    params0 = tuple(jax.tree.map(lambda a, n=f.runs: a[:n], arrays.params0) for f in families)
    keys = tuple(arrays.keys[: f.runs] for f in families)
    static = tuple((f.make, f.full_batch) for f in families)
    out = _PROGRAMS[level](
        setup, static, records, every, arrays.data, arrays.aux, lrs, params0, keys
    )
    blocks_out = []
    for lr, (recs, eff) in zip(lrs, jax.device_get(out), strict=True):
        b = dict(recs)
        b["step_size"] = np.asarray(eff)
        b["lrs"] = np.asarray(lr)
        blocks_out.append(b)
    return blocks_out


def run_families(
    setup: Setup,
    families: list[Family],
    *,
    grouped: bool,
    steps: int,
    max_records: int,
    arrays: Arrays,
    select: Callable[[Runs, int], int],
    level: int,
) -> dict[str, Runs]:
    """All learning rates × schedules × runs of each family, grids extended as needed.

    ``grouped``: the families share one grid (the union of their initial blocks) and run in
    one program, which an extension reruns whole (so any two compare at the same rates);
    else each family has its own grid and program, and the families run in parallel threads.
    ``select(runs, k)`` is the index of the best rate for schedule ``k``.
    """
    records, every = record_plan(steps, max_records)
    if grouped:
        lo = min(f.grid[0] for f in families)
        hi = max(f.grid[1] for f in families)
        return _extend(setup, families, (lo, hi), records, every, arrays, select, level)
    workers = max(1, min(len(families), os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool:
        parts = pool.map(
            lambda f: _extend(setup, [f], f.grid, records, every, arrays, select, level),
            families,
        )
        return {name: runs for part in parts for name, runs in part.items()}


def _extend(setup, families, grid, records, every, arrays, select, level) -> dict[str, Runs]:
    """``families`` on one shared grid, from block ``grid``, extended while any family's
    best rate (for any schedule) is at an end, at most ``MAX_EXTENSIONS`` blocks per side."""
    lo, hi = grid
    size = hi - lo + 1
    blocks: list[tuple[int, list[dict]]] = []
    extensions = [0, 0]
    runs: dict[str, Runs] = {}
    todo: range | None = range(lo, hi + 1)
    while todo is not None:
        blocks.append((todo[0], _call(setup, families, todo, records, every, arrays, level)))
        runs = {
            f.name: _assemble([(k, b[n]) for k, b in blocks], setup, records, every, f, extensions)
            for n, f in enumerate(families)
        }
        ends = set()
        for r in runs.values():
            best = [select(r, k) for k in range(len(setup.schedules))]
            ends |= {"high" for b in best if b == len(r.lrs) - 1}
            ends |= {"low" for b in best if b == 0}
        todo = None
        if "high" in ends and extensions[1] < MAX_EXTENSIONS:
            extensions[1] += 1
            hi += size
            todo = range(hi - size + 1, hi + 1)
        elif "low" in ends and extensions[0] < MAX_EXTENSIONS:
            extensions[0] += 1
            lo -= size
            todo = range(lo, lo + size)
    return runs


def _assemble(blocks, setup, records, every, family, extensions) -> Runs:
    blocks = [b for _, b in sorted(blocks, key=lambda b: b[0])]

    def cat(key):
        return np.concatenate([np.asarray(b[key]) for b in blocks])

    return Runs(
        lrs=cat("lrs"),
        schedules=setup.schedules,
        loss=cat("loss"),
        metrics={name: cat(name) for name, _ in setup.metrics},
        step_size=cat("step_size"),
        trajectory=cat("params") if setup.record_params else None,
        steps=np.arange(records + 1) * every,
        seeds=family.seeds,
        extensions=list(extensions),
    )
