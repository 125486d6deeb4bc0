"""report.md and the terminal summary (rich)."""

from __future__ import annotations

import numpy as np

from jopt.compare import _claims as C
from jopt.compare._digits import BATCH_SIZE, SCHEDULES
from jopt.compare._optimizers import OPTIMIZERS
from jopt.compare._problems import PROBLEMS

SCHEDULE_LABELS = {"constant": "constant", "step": "StepLR", "cosine": "cosine"}


digits_best = C.digits_best


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def problem_rows(name: str, runs: dict) -> tuple[list[str], list[list[str]]]:
    header = ["optimizer", "learning rates tried", "best lr", "final loss"]
    if name == "valley":
        header += ["reversals across", "zig-zag"]
    elif name == "minima":
        header += ["runs in global basin"]
    elif name == "plateau":
        header += ["effective step: last / smallest"]
    rows = []
    for o, r in runs.items():
        i = C.best_index(name, r)
        row = [
            OPTIMIZERS[o].label,
            ", ".join(C.fmt(a, 2) for a in r.lrs),
            C.fmt(r.lrs[i]),
            C.fmt(C.final_losses(r)[i]),
        ]
        if name == "valley":
            rev, zz = C.oscillation(r, i)
            row += [f"{rev:.0%}" if np.isfinite(rev) else "diverged", C.fmt(zz)]
        elif name == "minima":
            row += [f"{C.global_fraction(r)[i]:.0%}"]
        elif name == "plateau":
            row += [C.fmt(C.step_recovery(r, i)[0])]
        rows.append(row)
    return header, rows


def _valley_per_lr(runs: dict) -> list[str]:
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


def _digits_rows(digits: dict) -> tuple[list[str], list[list[str]]]:
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
            i = digits_best(r, k)
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
    """optimizer × problem: best final loss (digits: test accuracy, constant lr) and its lr."""
    cols = list(study.problems) + (["digits"] if study.digits else [])
    rows = []
    for o in study.optimizers:
        row = [o]
        for p in study.problems:
            r = study.problems[p][o]
            i = C.best_index(p, r)
            if p == "minima":
                row.append(f"{C.global_fraction(r)[i]:.0%} global @ {C.fmt(r.lrs[i], 2)}")
            else:
                row.append(f"{C.fmt(C.final_losses(r)[i])} @ {C.fmt(r.lrs[i], 2)}")
        if study.digits:
            r = study.digits[o]
            i = digits_best(r, 0)
            row.append(f"{r.test_acc[i, 0, -1]:.3f} @ {C.fmt(r.lrs[i], 2)}")
        rows.append(row)
    return ["optimizer"] + cols, rows


def markdown(study: C.Study, claims: list[C.Claim], figures: dict[str, str]) -> str:
    lines = [
        "# jopt-compare: the deck's optimizers, side by side",
        "",
        f"Seed {study.seed}; {study.steps} steps per run on the 2-D problems"
        + (
            f"; the digits MLP runs {study.digits_epochs} epochs of mini-batches of {BATCH_SIZE} "
            f"({study.digits_steps} steps)."
            if study.digits
            else "."
        ),
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
        "Final loss at the best learning rate (`minima`: share of runs in the global basin; "
        "digits: test accuracy at the best constant lr).",
        "",
    ]
    lines += _table(*summary_rows(study))
    for name, runs in study.problems.items():
        p = PROBLEMS[name]
        lines += ["", f"## {name}: {p.title}", ""]
        lines += [
            f"Start {p.start}, minimum near {p.minimum}"
            + (f", {p.seeds} seeds with random starts" if p.seeds > 1 else "")
            + ". Best lr: lowest final loss"
            + (" after the most runs in the global basin" if name == "minima" else "")
            + ".",
            "",
        ]
        lines += _table(*problem_rows(name, runs))
        if name == "valley":
            lines += _valley_per_lr(runs)
        for key in (name, f"{name}_oscillation"):
            if key in figures:
                lines += ["", f"![{key}]({figures[key]})"]
    if study.digits:
        lines += ["", "## digits: an MLP on scikit-learn's digits (Flax NNX)", ""]
        lines += [
            "64-64-10 ReLU MLP, softmax cross-entropy; splits: train / validation / test "
            "(stratified). `gd` takes full-batch steps, the others mini-batch steps. The best lr "
            "of each optimizer × schedule is chosen on the validation split; StepLR multiplies "
            "the lr by 0.1 every third of the run, cosine anneals it to 0.",
            "",
        ]
        lines += _table(*_digits_rows(study.digits))
        if "digits" in figures:
            lines += ["", f"![digits]({figures['digits']})"]
    others = [k for k in ("losses", "step_sizes") if k in figures]
    if others:
        lines += ["", "## Loss curves and effective step sizes", ""]
        lines += [f"![{k}]({figures[k]})" for k in others]
    lines += [""]
    return "\n".join(lines)


def print_terminal(study: C.Study, claims: list[C.Claim], console) -> None:
    from rich.table import Table

    header, rows = summary_rows(study)
    table = Table(
        title="jopt-compare: best final loss @ lr (minima: runs in global basin; digits: test acc.)"
    )
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
