"""The PNG figures (matplotlib's object API on the Agg canvas; no pyplot state)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jopt.compare import _claims as C
from jopt.compare._optimizers import SCHEDULE_LABELS

DPI = 110
LINESTYLES = {"constant": "-", "step": ":", "cosine": "--"}


def _figure(w: float, h: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(w, h), layout="constrained")


def _save(fig, out: Path, name: str) -> str:
    fig.savefig(out / f"{name}.png", dpi=DPI, metadata={"Software": None})
    return f"{name}.png"


def _colour(result: C.Result, o: str) -> str:
    return result.optimizers[o].colour


def drawn_rates(result: C.Result) -> dict[str, int]:
    """The learning-rate index of each optimizer's path in the contour figure.

    Each optimizer at its own best rate; on a problem whose claim compares the optimizers
    at one optimizer's best rate (``Problem.paths_at``: the valley, at GD's), every
    optimizer at that rate, or at its own best where it did not try that rate.
    """
    runs, at = result.runs, result.problem.paths_at
    best = {o: result.best(o) for o in runs}
    if at is None or at not in runs:
        return best
    lr = runs[at].lrs[best[at]]
    tried = {o: C.index_of(r, lr) for o, r in runs.items()}
    return {o: best[o] if tried[o] is None else tried[o] for o in runs}


def contour(out: Path, result: C.Result) -> dict[str, str]:
    """The test function's contours with each optimizer's path (first run), at the rates of
    :func:`drawn_rates`."""
    return {result.problem.name: _save(contour_figure(result), out, result.problem.name)}


def contour_figure(result: C.Result):
    """The figure of :func:`contour`: one line per optimizer, labelled with its rate."""
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
    many = result.problem.starts_per_seed > 1
    rates = drawn_rates(result)
    at = result.problem.paths_at if result.problem.paths_at in runs else None
    lr_at = runs[at].lrs[rates[at]] if at is not None else None
    for o, r in runs.items():
        i = rates[o]
        t = r.trajectory[i, 0, 0]
        t = t[np.all(np.isfinite(t), axis=1)]
        noisy = not result.problem.full_batch(result.optimizers[o])  # mini-batch steps
        label = f"{o} (lr {C.fmt(r.lrs[i], 2)})"
        if lr_at is not None and C.index_of(r, lr_at) is None:
            label = f"{o} (lr {C.fmt(r.lrs[i], 2)}, its best; did not try {C.fmt(lr_at, 2)})"
        ax.plot(
            t[:, 0],
            t[:, 1],
            "-",
            lw=0.6 if noisy else 1.4,
            color=_colour(result, o),
            alpha=0.45 if noisy else 0.9,
            zorder=1 if noisy else 2,
            label=label,
        )
        if many:
            ends = r.trajectory[i, 0, :, -1]
            ax.plot(ends[:, 0], ends[:, 1], ".", ms=3, color=_colour(result, o), alpha=0.5)
    ax.plot(*p.start, "o", color="tab:gray", ms=7, label="start")
    ax.plot(*p.minimum, "*", color="gold", mec="k", ms=14, label="global minimum")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("θ₁")
    ax.set_ylabel("θ₂")
    if lr_at is None:
        title = f"{name}: {result.problem.title}, best lr per optimizer (first run)"
    else:
        who = C.label(at).split(" (")[0]
        title = (
            f"{name}: {result.problem.title}\nevery optimizer at {who}'s best lr "
            f"{C.fmt(lr_at, 2)}, as the claim compares them (first run)"
        )
    if many:
        title += "; dots: where every run ends"
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="best")
    return fig


def valley_oscillation(out: Path, result: C.Result) -> dict[str, str]:
    """GD's across-valley coordinate at its best lr, with Momentum's and NAG's at that lr."""
    runs = result.runs
    if "gd" not in runs:
        return {}
    i = result.best("gd")
    lr = runs["gd"].lrs[i]
    fig = _figure(8.0, 3.5)
    ax = fig.add_subplot()
    for o in ("gd", "momentum", "nesterov"):
        j = C.index_of(runs[o], lr) if o in runs else None
        if j is None:
            continue
        y = runs[o].trajectory[j, 0, 0, :81, 1]
        ax.plot(y, "-o", ms=2.5, lw=1, color=_colour(result, o), label=o)
    ax.axhline(0.0, color="k", lw=0.5)
    ax.set_xlabel("step")
    ax.set_ylabel("θ₂ (across the valley)")
    ax.set_title(f"valley: across-valley coordinate at GD's best lr {C.fmt(lr, 2)}", fontsize=10)
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
            loss = np.asarray(r.loss[i, 0], np.float64).mean(axis=0)
            if scale == "log":
                loss = np.maximum(loss, 1e-12)
            ax.plot(r.steps, loss, lw=1, color=_colour(result, o), label=o)
        ax.set_yscale(scale)
        ax.set_title(f"{name} (best lr each, mean over runs)", fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        if k == 0:
            ax.legend(fontsize=7)
    return _save(fig, out, "losses")


def step_sizes(out: Path, result: C.Result) -> dict[str, str]:
    """The effective step ‖Δθ‖/‖g‖ over time: best lr each, and the adaptive ones at
    AdaGrad's best lr."""
    name, runs = result.problem.name, result.runs
    fig = _figure(10.0, 3.8)
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for o, r in runs.items():
        i = result.best(o)
        label = f"{o} (lr {C.fmt(r.lrs[i], 2)})"
        ax1.plot(r.step_size[i, 0, 0], lw=1, color=_colour(result, o), label=label)
    ax1.set_title(f"{name}: effective step ‖Δθ‖/‖g‖, best lr each", fontsize=9)
    if "adagrad" in runs:
        lr = runs["adagrad"].lrs[result.best("adagrad")]
        for o in ("adagrad", "rmsprop", "adam"):
            j = C.index_of(runs[o], lr) if o in runs else None
            if j is not None:
                ax2.plot(runs[o].step_size[j, 0, 0], lw=1.2, color=_colour(result, o), label=o)
        ax2.set_title(f"same lr {C.fmt(lr, 2)} (AdaGrad's best)", fontsize=9)
    for ax in (ax1, ax2):
        ax.set_yscale("log")
        ax.set_xlabel("step", fontsize=8)
        ax.legend(fontsize=7)
    return {"step_sizes": _save(fig, out, "step_sizes")}


def task_curves(out: Path, result: C.Result) -> dict[str, str]:
    """A data problem: the final loss (or distance to the known minimum) against the learning
    rate, per schedule (the grids and their extensions), and the curves at the best rates."""
    name, task = result.problem.name, result.task
    known = task.min_loss is not None
    what = "loss − minimum" if known else "training loss"
    panels = 3 if task.metric is not None else 2
    fig = _figure(4.6 * panels, 4.0)
    ax1, ax2 = fig.add_subplot(1, panels, 1), fig.add_subplot(1, panels, 2)
    floor = 1e-12
    for o, r in result.runs.items():
        c = _colour(result, o)
        for k, s in enumerate(r.schedules):
            final = np.asarray(r.loss[:, k, :, -1], np.float64).mean(axis=1)
            if known:
                final = final - task.min_loss
            ls = LINESTYLES.get(s, "-")
            lab = o if k == 0 else None
            ax1.plot(r.lrs, np.maximum(final, floor), ls, marker=".", lw=1, color=c, label=lab)
            i = result.best(o, k)
            curve = np.asarray(r.loss[i, k], np.float64).mean(axis=0)
            if known:
                curve = curve - task.min_loss
            ax2.plot(r.steps, np.maximum(curve, floor), ls, lw=1, color=c, label=lab)
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set_xlabel("learning rate")
    ax1.set_title(f"{name}: final {what} per lr (mean over seeds)", fontsize=9)
    ax2.set_yscale("log")
    ax2.set_xlabel("step")
    styles = ", ".join(f"{SCHEDULE_LABELS[s]} {LINESTYLES[s]}" for s in LINESTYLES)
    ax2.set_title(f"{what} at the best lr ({styles})", fontsize=9)
    ax1.legend(fontsize=7)
    if task.metric is not None:
        ax3 = fig.add_subplot(1, panels, 3)
        names = list(result.runs)
        schedules = result.runs[names[0]].schedules
        width = 0.8 / len(schedules)
        lows = []
        for k, s in enumerate(schedules):
            vals = []
            for o in names:
                r = result.runs[o]
                vals.append(float(np.mean(r.metrics["test"][result.best(o, k), k, :, -1])))
            lows.append(min(vals))
            x = np.arange(len(names)) + (k - (len(schedules) - 1) / 2) * width
            ax3.bar(x, vals, width, label=SCHEDULE_LABELS[s])
        ax3.set_xticks(np.arange(len(names)), names, fontsize=7, rotation=30)
        lo = min(lows)
        if np.isfinite(lo) and 0.0 < lo <= 1.0:
            ax3.set_ylim(max(0.0, lo - 0.05), 1.0)
        ax3.set_title(f"{task.metric_name} at the best lr", fontsize=9)
        ax3.legend(fontsize=7)
    return {name: _save(fig, out, name)}
