"""The PNG figures (matplotlib's object API on the Agg canvas; no pyplot state)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jopt.compare import _claims as C
from jopt.compare._optimizers import OPTIMIZERS, SCHEDULES

DPI = 110


def _figure(w: float, h: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(w, h), layout="constrained")


def _save(fig, out: Path, name: str) -> str:
    fig.savefig(out / f"{name}.png", dpi=DPI, metadata={"Software": None})
    return f"{name}.png"


def contour(out: Path, result: C.Result) -> dict[str, str]:
    """The test function's contours with each optimizer's path at its best lr (seed 0)."""
    import jax
    import jax.numpy as jnp
    from matplotlib.colors import LogNorm

    name, runs, p = result.problem.name, result.runs, result.problem.surface
    x0, x1, y0, y1 = p.extent
    xs, ys = np.linspace(x0, x1, 300), np.linspace(y0, y1, 240)
    grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2).astype(np.float32)
    z = np.asarray(jax.vmap(p.f)(jnp.asarray(grid))).reshape(len(ys), len(xs))
    fig = _figure(8.0, 5.5)
    ax = fig.add_subplot()
    if p.log_contours:
        z = z - z.min() + 1e-3
        levels = np.geomspace(z.min(), z.max(), 25)
        ax.contour(xs, ys, z, levels=levels, norm=LogNorm(), cmap="Greys", linewidths=0.6)
    else:
        ax.contour(xs, ys, z, levels=25, cmap="Greys", linewidths=0.6)
    for o, r in runs.items():
        i = result.best(o)
        t = r.trajectory[i, 0]
        t = t[np.all(np.isfinite(t), axis=1)]
        noisy = OPTIMIZERS[o].stochastic
        ax.plot(
            t[:, 0],
            t[:, 1],
            "-",
            lw=0.6 if noisy else 1.4,
            color=OPTIMIZERS[o].colour,
            alpha=0.45 if noisy else 0.9,
            zorder=1 if noisy else 2,
            label=f"{o} (lr {C.fmt(r.lrs[i], 2)})",
        )
        if p.seeds > 1:
            ends = r.trajectory[i, :, -1]
            ax.plot(ends[:, 0], ends[:, 1], ".", ms=3, color=OPTIMIZERS[o].colour, alpha=0.5)
    ax.plot(*p.start, "o", color="tab:gray", ms=7, label="start")
    ax.plot(*p.minimum, "*", color="gold", mec="k", ms=14, label="global minimum")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("θ₁")
    ax.set_ylabel("θ₂")
    title = f"{name}: {result.problem.title}, best lr per optimizer"
    if p.seeds > 1:
        title += " (dots: where each seed ends)"
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="best")
    return {name: _save(fig, out, name)}


def valley_oscillation(out: Path, result: C.Result) -> dict[str, str]:
    """GD's across-valley coordinate at its best lr, with Momentum's and NAG's at that lr."""
    runs = result.runs
    names = [o for o in ("gd", "momentum", "nesterov") if o in runs]
    if "gd" not in runs:
        return {}
    i = result.best("gd")
    fig = _figure(8.0, 3.5)
    ax = fig.add_subplot()
    n = min(80, runs["gd"].trajectory.shape[2])
    for o in names:
        y = runs[o].trajectory[i, 0, :n, 1]
        ax.plot(y, "-o", ms=2.5, lw=1, color=OPTIMIZERS[o].colour, label=o)
    ax.axhline(0.0, color="k", lw=0.5)
    ax.set_xlabel("step")
    ax.set_ylabel("θ₂ (across the valley)")
    ax.set_title(
        f"valley: across-valley coordinate at GD's best lr {C.fmt(runs['gd'].lrs[i])}", fontsize=10
    )
    ax.legend(fontsize=8)
    return {"valley_oscillation": _save(fig, out, "valley_oscillation")}


def losses(out: Path, results: list[C.Result]) -> str:
    """One panel per problem with a ``loss_panel`` scale: the loss curves at the best lrs."""
    n = len(results)
    cols = min(3, n)
    rows = -(-n // cols)
    fig = _figure(4.2 * cols, 3.3 * rows)
    for k, result in enumerate(results):
        name, scale = result.problem.name, result.problem.loss_panel
        ax = fig.add_subplot(rows, cols, k + 1)
        for o, r in result.runs.items():
            i = result.best(o)
            loss = np.asarray(r.loss[i], np.float64).mean(axis=0)
            if scale == "log":
                loss = np.maximum(loss, 1e-12)
            ax.plot(loss, lw=1, color=OPTIMIZERS[o].colour, label=o)
        ax.set_yscale(scale)
        ax.set_title(f"{name} (best lr each)", fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        if k == 0:
            ax.legend(fontsize=7)
    return _save(fig, out, "losses")


def step_sizes(out: Path, result: C.Result) -> dict[str, str]:
    """The effective step ‖Δθ‖/‖g‖ over time: best lr each, and all adaptive at AdaGrad's."""
    name, runs = result.problem.name, result.runs
    fig = _figure(10.0, 3.8)
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for o, r in runs.items():
        i = result.best(o)
        label = f"{o} (lr {C.fmt(r.lrs[i], 2)})"
        ax1.plot(r.step_size[i, 0], lw=1, color=OPTIMIZERS[o].colour, label=label)
    ax1.set_title(f"{name}: effective step ‖Δθ‖/‖g‖, best lr each", fontsize=9)
    adaptive = {o: r for o, r in runs.items() if OPTIMIZERS[o].adaptive}
    if "adagrad" in adaptive:
        j = result.best("adagrad")
        for o, r in adaptive.items():
            ax2.plot(r.step_size[j, 0], lw=1.2, color=OPTIMIZERS[o].colour, label=o)
        ax2.set_title(f"same lr {C.fmt(adaptive['adagrad'].lrs[j])} (AdaGrad's best)", fontsize=9)
    for ax in (ax1, ax2):
        ax.set_yscale("log")
        ax.set_xlabel("step", fontsize=8)
        ax.legend(fontsize=7)
    return {"step_sizes": _save(fig, out, "step_sizes")}


def digits(out: Path, result: C.Result) -> dict[str, str]:
    """Training loss at the best constant lr, and test accuracy per schedule."""
    runs, best = result.runs, C.digits_best
    fig = _figure(11.0, 4.0)
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for o, r in runs.items():
        i = best(r, 0)
        ax1.plot(
            np.arange(1, r.train_loss.shape[2] + 1),
            r.train_loss[i, 0],
            lw=1,
            color=OPTIMIZERS[o].colour,
            label=f"{o} (lr {C.fmt(r.lrs[i], 2)})",
        )
    ax1.set_yscale("log")
    ax1.set_xlabel("epoch")
    ax1.set_title("digits: training loss, constant lr (best on validation)", fontsize=9)
    ax1.legend(fontsize=7)
    names = list(runs)
    width = 0.8 / len(SCHEDULES)
    for k, s in enumerate(SCHEDULES):
        acc = [runs[o].test_acc[best(runs[o], k), k, -1] for o in names]
        ax2.bar(np.arange(len(names)) + (k - 1) * width, acc, width, label=s)
    ax2.set_xticks(np.arange(len(names)), names, fontsize=8)
    lo = min(float(np.nanmin([runs[o].test_acc[:, :, -1].max() for o in names])), 0.9)
    ax2.set_ylim(max(0.0, lo - 0.05), 1.0)
    ax2.set_title("digits: test accuracy (best lr on validation)", fontsize=9)
    ax2.legend(fontsize=7)
    return {"digits": _save(fig, out, "digits")}
