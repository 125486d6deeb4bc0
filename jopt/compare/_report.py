"""report.md and the terminal summary (rich)."""

from __future__ import annotations

import numpy as np

from jopt.compare import _claims as C
from jopt.compare._optimizers import OPTIMIZERS, SCHEDULE_LABELS, SCHEDULES


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def surface_intro(problem) -> list[str]:
    p = problem.surface
    return [
        f"Start {p.start}, minimum near {p.minimum}"
        + (f", {p.seeds} seeds with random starts" if p.seeds > 1 else "")
        + f". Best lr: {problem.selection}.",
        "",
    ]


def problem_rows(problem, runs: dict) -> tuple[list[str], list[list[str]]]:
    header = ["optimizer", "learning rates tried", "best lr", "final loss"]
    header += [c.header for c in problem.columns]
    rows = []
    for o, r in runs.items():
        i = problem.select(problem, r)
        row = [
            OPTIMIZERS[o].label,
            ", ".join(C.fmt(a, 2) for a in r.lrs),
            C.fmt(r.lrs[i]),
            C.fmt(C.final_losses(r)[i]),
        ]
        rows.append(row + [c.cell(problem, r, i) for c in problem.columns])
    return header, rows


def valley_per_lr(runs: dict) -> list[str]:
    names = [o for o in ("gd", "momentum", "nesterov") if o in runs]
    if "gd" not in runs or len(names) < 2:
        return []
    rows = []
    for i, lr in enumerate(runs["gd"].lrs):
        row = [C.fmt(lr)]
        for o in names:
            rev, zz = C.oscillation(runs[o], i)
            row.append("diverged" if not np.isfinite(zz) else f"{rev:.0%} / {C.fmt(zz)}")
        rows.append(row)
    header = ["lr"] + [f"{OPTIMIZERS[o].label}: reversals / zig-zag" for o in names]
    return ["", "Across-valley oscillation at every learning rate (seed 0):", ""] + _table(
        header, rows
    )


def digits_intro(problem) -> list[str]:
    del problem
    return [
        "64-32-10 ReLU MLP, softmax cross-entropy; splits: train / validation / test "
        "(stratified). `gd` takes full-batch steps, the others mini-batch steps. The best lr "
        "of each optimizer × schedule is chosen on the validation split; StepLR multiplies "
        "the lr by 0.1 every third of the run, cosine anneals it to 0.",
        "",
    ]


def digits_rows(problem, digits: dict) -> tuple[list[str], list[list[str]]]:
    del problem
    header = [
        "optimizer",
        "schedule",
        "best lr (validation)",
        "validation acc.",
        "test acc.",
        "final train loss",
    ]
    rows = []
    for o, r in digits.items():
        for k, s in enumerate(SCHEDULES):
            i = C.digits_best(r, k)
            rows.append(
                [
                    OPTIMIZERS[o].label,
                    SCHEDULE_LABELS[s],
                    C.fmt(r.lrs[i]),
                    f"{r.val_acc[i, k, -1]:.3f}",
                    f"{r.test_acc[i, k, -1]:.3f}",
                    C.fmt(r.train_loss[i, k, -1]),
                ]
            )
    return header, rows


def summary_rows(study: C.Study) -> tuple[list[str], list[list[str]]]:
    """optimizer × problem: each problem's summary cell at its best lr."""
    rows = []
    for o in study.optimizers:
        row = [o]
        for result in study.results.values():
            r = result.runs[o]
            row.append(result.problem.summary(result.problem, r, result.best(o)))
        rows.append(row)
    return ["optimizer"] + list(study.results), rows


def _summary_notes(study: C.Study, quote: str = "`") -> str:
    """What the summary cells show where it is not the final loss."""
    notes = [(n, r.problem.summary_note) for n, r in study.results.items()]
    return "; ".join(f"{quote}{n}{quote}: {note}" for n, note in notes if note)


def markdown(
    study: C.Study,
    claims: list[C.Claim],
    inline: dict[str, dict[str, str]],
    curves: dict[str, str],
) -> str:
    """The report; ``inline``: each problem's figures (key -> file), ``curves``: the rest."""
    budgets = "".join(f"; {r.budget}" for r in study.results.values() if r.budget)
    notes = _summary_notes(study)
    lines = [
        "# jopt-compare: the deck's optimizers, side by side",
        "",
        f"Seed {study.seed}; {study.steps} steps per run on the 2-D problems{budgets}.",
        "Each problem is one jitted program: inside it, one `lax.scan` per optimizer family, "
        "`vmap`ped over the learning rates (and the seeds), with the jopt transform built from "
        "the traced learning rate. Full-batch optimizers see the exact gradient on the 2-D "
        "problems; `sgd` sees the gradient of a random mini-batch of size 1 "
        "(`jopt.minibatch_indices`) of a data set whose mean is the test function.",
        "",
        "## Deck claims",
        "",
    ]
    lines += _table(
        ["claim (deck)", "measured on this run", "verdict"],
        [[c.claim, c.measured, f"**{c.verdict_text}**"] for c in claims],
    )
    lines += ["", "## Summary: best learning rate per problem", ""]
    lines += [
        "Final loss at the best learning rate" + (f" ({notes})." if notes else "."),
        "",
    ]
    lines += _table(*summary_rows(study))
    for name, result in study.results.items():
        p = result.problem
        lines += ["", f"## {name}: {p.title}", ""]
        lines += p.intro(p)
        lines += _table(*p.table(p, result.runs))
        if p.notes is not None:
            lines += p.notes(result.runs)
        for key, file in inline.get(name, {}).items():
            lines += ["", f"![{key}]({file})"]
    if curves:
        lines += ["", "## Loss curves and effective step sizes", ""]
        lines += [f"![{k}]({f})" for k, f in curves.items()]
    lines += [""]
    return "\n".join(lines)


def print_terminal(study: C.Study, claims: list[C.Claim], console) -> None:
    from rich.table import Table

    header, rows = summary_rows(study)
    notes = _summary_notes(study, quote="")
    table = Table(title="jopt-compare: best final loss @ lr" + (f" ({notes})" if notes else ""))
    for h in header:
        table.add_column(h)
    for r in rows:
        table.add_row(*r)
    console.print(table)
    ct = Table(title="Deck claims")
    ct.add_column("claim")
    ct.add_column("verdict")
    for c in claims:
        colour = {True: "green", False: "red", None: "yellow"}[c.verdict]
        ct.add_row(c.claim, f"[{colour}]{c.verdict_text}[/{colour}]")
    console.print(ct)
