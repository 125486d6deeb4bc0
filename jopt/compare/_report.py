"""report.md and the terminal summary (rich)."""

from __future__ import annotations

import re

import numpy as np

from jopt.compare import _claims as C
from jopt.compare import _run
from jopt.compare import _verdict as V
from jopt.compare._optimizers import SCHEDULE_LABELS


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def lr_text(result: C.Result, optimizer: str, i: int) -> str:
    """The best learning rate; at a grid limit: "≥ 3.2 (grid limit)"."""
    runs = result.runs[optimizer]
    lr = C.fmt(runs.lrs[i], 2)
    side = runs.at_limit(i)
    if side is None:
        return lr
    return f"{'≤' if side == 'low' else '≥'} {lr} (grid limit)"


def tried(runs) -> str:
    """The learning rates tried: range, count and the blocks added below and above."""
    text = f"{C.fmt(runs.lrs[0], 2)} … {C.fmt(runs.lrs[-1], 2)} ({len(runs.lrs)})"
    low, high = runs.extensions
    ext = [f"+{n} below" for n in [low] if n] + [f"+{n} above" for n in [high] if n]
    return text + (f", {', '.join(ext)}" if ext else "")


def _final(runs, i: int, k: int = 0) -> np.ndarray:
    return C.per_seed(runs, runs.loss[i, k, :, -1])


# Table and summary cells: ``cell(result, optimizer, i)`` at lr index ``i``.


def loss_cell(result: C.Result, o: str, i: int) -> str:
    return f"{C.fmt_spread(_final(result.runs[o], i), 3)} @ {lr_text(result, o, i)}"


def global_cell(result: C.Result, o: str, i: int) -> str:
    frac = C.global_fraction(result.runs[o], result.problem.surface.barrier)[i]
    return C.fmt_spread(frac, 2)


def global_summary_cell(result: C.Result, o: str, i: int) -> str:
    return f"{global_cell(result, o, i)} @ {lr_text(result, o, i)}"


def reversals_cell(result: C.Result, o: str, i: int) -> str:
    rev = C.oscillation(result.runs[o], i)[0]
    return f"{rev:.0%}" if np.isfinite(rev) else "diverged"


def zigzag_cell(result: C.Result, o: str, i: int) -> str:
    return C.fmt(C.oscillation(result.runs[o], i)[1])


def recovery_cell(result: C.Result, o: str, i: int) -> str:
    return C.fmt(C.step_recovery(result.runs[o], i)[0])


def task_cell(result: C.Result, o: str, i: int) -> str:
    """Summary cell of a data problem (constant lr): its metric, else the distance to the
    known minimum, else the final loss."""
    runs, task = result.runs[o], result.task
    if task.metric is not None:
        value = C.per_seed(runs, runs.metrics["test"][i, 0, :, -1])
    else:
        value = C.distance_to_minimum(result, runs, i, 0)
    return f"{C.fmt_spread(value, 3)} @ {lr_text(result, o, i)}"


def _seeds_text(result: C.Result) -> str:
    det = [C.label(o) for o, r in result.runs.items() if r.loss.shape[2] == 1]
    sto = [C.label(o) for o, r in result.runs.items() if r.loss.shape[2] > 1]
    parts = []
    if sto:
        parts.append(f"{', '.join(sto)}: {result.seeds} seeds")
    if det:
        parts.append(f"{', '.join(det)}: full batch from a fixed start, one deterministic run")
    return "; ".join(parts)


def _about(problem) -> list[str]:
    return [line for paragraph in problem.about for line in (paragraph, "")]


def surface_intro(result: C.Result) -> list[str]:
    problem = result.problem
    p = problem.surface
    starts = problem.starts_per_seed
    start = (
        f"{starts} random starts per seed around {p.start}" if starts > 1 else f"start {p.start}"
    )
    lines = [
        f"{start[0].upper()}{start[1:]}, minimum near {p.minimum}; {result.steps} steps. "
        f"{_seeds_text(result)}. "
        f"Best lr: {problem.selection}. Values: mean ± sd over seeds.",
        "",
    ]
    return lines + _about(problem)


def surface_rows(result: C.Result) -> tuple[list[str], list[list[str]]]:
    problem = result.problem
    header = ["optimizer", "learning rates tried", "best lr", "final loss"]
    header += [c.header for c in problem.columns]
    rows = []
    for o, r in result.runs.items():
        i = result.best(o)
        row = [C.label(o), tried(r), lr_text(result, o, i), C.fmt_spread(_final(r, i))]
        rows.append(row + [c.cell(result, o, i) for c in problem.columns])
    return header, rows


def valley_per_lr(result: C.Result) -> list[str]:
    runs = result.runs
    names = [o for o in ("gd", "momentum", "nesterov") if o in runs]
    if "gd" not in runs or len(names) < 2:
        return []
    rows = []
    for lr in runs["gd"].lrs:
        row = [C.fmt(lr, 2)]
        for o in names:
            j = C.index_of(runs[o], lr)
            if j is None:
                row.append("not tried")
                continue
            rev, zz = C.oscillation(runs[o], j)
            row.append("diverged" if not np.isfinite(zz) else f"{rev:.0%} / {C.fmt(zz)}")
        rows.append(row)
    header = ["lr"] + [f"{C.label(o)}: reversals / zig-zag" for o in names]
    return ["", "Across-valley oscillation at each of GD's learning rates:", ""] + _table(
        header, rows
    )


def task_intro(result: C.Result) -> list[str]:
    problem, task = result.problem, result.task
    n = task.num_examples
    epochs = result.steps * task.batch_size / n
    lines = [
        f"{n} training examples, mini-batches of {task.batch_size}, {result.steps} steps "
        f"(≈ {epochs:.3g} epochs); every run starts from the same parameters and the seeds "
        f"draw different mini-batches. {_seeds_text(result)}. Schedules at equal step budgets: "
        f"constant, StepLR (×{_run.STEP_GAMMA:g} after every 1/{_run.STEP_PARTS} of the run) and "
        f"cosine (to 0 at the last step). Best lr of each optimizer × schedule: "
        f"{problem.selection}. Values: mean ± sd over seeds at the best lr.",
        "",
    ]
    if task.min_loss is not None:
        lines += [
            f"The minimum of the full-data loss is known: {task.min_loss:.6g}; "
            '"− minimum" is each run\'s distance to it'
            + (", ‖θ − θ*‖ its distance to the minimizer." if task.minimizer is not None else "."),
            "",
        ]
    return lines + _about(problem)


def task_rows(result: C.Result) -> tuple[list[str], list[list[str]]]:
    task = result.task
    header = ["optimizer", "schedule", "learning rates tried", "best lr", "final loss"]
    if task.min_loss is not None:
        header.append("− minimum")
    if task.minimizer is not None:
        header.append("‖θ − θ*‖")
    if task.metric is not None:
        header.append(task.metric_name)
    rows = []
    for o, r in result.runs.items():
        for k, s in enumerate(r.schedules):
            i = result.best(o, k)
            row = [C.label(o), SCHEDULE_LABELS[s], tried(r), lr_text(result, o, i)]
            row.append(C.fmt_spread(_final(r, i, k)))
            if task.min_loss is not None:
                row.append(C.fmt_spread(C.distance_to_minimum(result, r, i, k)))
            if task.minimizer is not None:
                row.append(C.fmt_spread(C.per_seed(r, r.metrics["distance"][i, k, :, -1])))
            if task.metric is not None:
                row.append(C.fmt_spread(C.per_seed(r, r.metrics["test"][i, k, :, -1])))
            rows.append(row)
    return header, rows


def summary_rows(study: C.Study) -> tuple[list[str], list[list[str]]]:
    """optimizer × problem: each problem's summary cell at its best lr."""
    names = [o for o in study.optimizers if any(o in r.runs for r in study.results.values())]
    rows = []
    for o in names:
        row = [o]
        for result in study.results.values():
            r = result.runs.get(o)
            row.append("" if r is None else result.problem.summary(result, o, result.best(o)))
        rows.append(row)
    return ["optimizer"] + list(study.results), rows


def _summary_notes(study: C.Study, quote: str = "`") -> str:
    """What the summary cells show where it is not the final loss."""
    notes = [(n, r.problem.summary_note) for n, r in study.results.items()]
    return "; ".join(f"{quote}{n}{quote}: {note}" for n, note in notes if note)


def grid_rule() -> str:
    return (
        f"Learning rates lie on one log grid, {_run.GRID_PER_DECADE} per decade. Each "
        "optimizer starts from a block of rates; while its best rate is the lowest or the "
        "highest tried (for any schedule), one more block of the same size is run beyond that "
        f"end, at most {_run.MAX_EXTENSIONS} blocks per side (each block one more vmapped "
        'program). A best rate still at an end after that is marked "≥ x (grid limit)" or '
        '"≤ x (grid limit)", and no verdict rests on it.'
    )


def markdown(
    study: C.Study,
    claims: list[C.Claim],
    inline: dict[str, dict[str, str]],
    curves: dict[str, str],
) -> str:
    """The report; ``inline``: each problem's figures (key -> file), ``curves``: the rest."""
    notes = _summary_notes(study)
    lines = [
        "# jopt-compare: the deck's optimizers, side by side",
        "",
        f"Seed {study.seed}; {study.seeds} seeds for every stochastic run (the mini-batch "
        "order, and the random starts on `minima`). Each optimizer family runs as a `lax.scan` "
        "over the steps, `vmap`ped over learning rate × schedule × seed, with the jopt "
        "transform built from the traced learning rate: on a data problem one jitted program "
        "per family, on a 2-D problem one jitted program for all families (their runs take "
        "milliseconds; compiling is what costs). "
        "Full-batch optimizers see the exact gradient; mini-batch ones draw batches with "
        "`jopt.minibatch_indices`. On the 2-D problems only `sgd` takes mini-batch steps "
        "(batch size 1 of a data set whose mean is the test function).",
        "",
        grid_rule(),
        "",
        "## Deck claims",
        "",
    ]
    lines += _table(
        ["claim (deck)", "problem", "measured on this run", "verdict"],
        [[c.claim, f"`{c.problem}`", c.measured, f"**{c.verdict}**"] for c in claims],
    )
    lines += ["", "How a verdict is reached: " + V.RULE, "", "Thresholds: " + C.THRESHOLDS]
    lines += ["", "## Summary: best learning rate per problem", ""]
    lines += [
        "Final loss at the best learning rate, mean ± sd over seeds"
        + (f" ({notes})." if notes else "."),
        "",
    ]
    lines += _table(*summary_rows(study))
    for name, result in study.results.items():
        p = result.problem
        lines += ["", f"## {name}: {p.title}", ""]
        lines += p.intro(result)
        lines += _table(*p.table(result))
        if p.notes is not None:
            lines += p.notes(result)
        for key, file in inline.get(name, {}).items():
            lines += ["", f"![{key}]({file})"]
    if curves:
        lines += ["", "## Loss curves and effective step sizes", ""]
        lines += [f"![{k}]({f})" for k, f in curves.items()]
    lines += [""]
    return "\n".join(lines)


COLOURS = {
    V.BORNE_OUT: "green",
    V.NOT_BORNE_OUT: "red",
    V.INCONCLUSIVE: "yellow",
    V.NOT_MEASURED: "yellow",
}


def print_terminal(study: C.Study, claims: list[C.Claim], console) -> None:
    from rich.table import Table

    header, rows = summary_rows(study)
    notes = _summary_notes(study, quote="")
    title = "jopt-compare: best final loss @ lr, mean over seeds"
    table = Table(title=title + (f" ({notes})" if notes else ""))
    for h in header:
        table.add_column(h)
    for r in rows:
        table.add_row(*(re.sub(r" ± \S+", "", cell) for cell in r))  # the report has the sd
    console.print(table)
    ct = Table(title="Deck claims")
    ct.add_column("claim")
    ct.add_column("problem")
    ct.add_column("verdict")
    for c in claims:
        colour = COLOURS[c.verdict]
        ct.add_row(c.claim, c.problem, f"[{colour}]{c.verdict}[/{colour}]")
    console.print(ct)
