"""The study's problems, one entry each.

A ``Problem`` carries everything that is particular to it: how it runs, how its best learning
rate is chosen, its table columns and summary cell, its report text, its figures and the deck
claims it tests. The report, the figures and the command line read these fields and never
name a problem, so a new problem is one entry in ``PROBLEMS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from jopt.compare import _claims as C
from jopt.compare import _figures, _report
from jopt.compare import _surfaces as S


@dataclass(frozen=True)
class Column:
    """An extra column of a problem's table: ``cell(problem, runs, i)`` at best lr index ``i``."""

    header: str
    cell: Callable[[Problem, Any, int], str]


@dataclass(frozen=True)
class DeckClaim:
    """A deck claim the problem tests; ``order`` places it in the deck's narrative."""

    order: int
    measure: Callable[[C.Study], C.Claim]


def _lowest_loss_cell(problem: Problem, runs, i: int) -> str:
    return f"{C.fmt(C.final_losses(runs)[i])} @ {C.fmt(runs.lrs[i], 2)}"


@dataclass(frozen=True)
class Problem:
    name: str
    title: str
    # (problem, optimizers, steps, seed) -> Result
    run: Callable[[Problem, tuple[str, ...], int, int], C.Result]
    surface: S.Surface | None = None  # the 2-D problems' test function
    select: Callable[[Problem, Any], int] = C.lowest_final_loss  # -> index of the best lr
    selection: str = "lowest final loss"  # how ``select`` chooses, for the report
    columns: tuple[Column, ...] = ()
    summary: Callable[[Problem, Any, int], str] = _lowest_loss_cell  # summary-table cell
    summary_note: str | None = None  # what ``summary`` shows, when not the final loss
    intro: Callable[[Problem], list[str]] = _report.surface_intro  # lines under the heading
    table: Callable[[Problem, dict], tuple[list[str], list[list[str]]]] = _report.problem_rows
    notes: Callable[[dict], list[str]] | None = None  # report lines after the table
    figures: tuple[Callable[..., dict[str, str]], ...] = (_figures.contour,)  # after the table
    curves: tuple[Callable[..., dict[str, str]], ...] = ()  # in the section on loss curves
    loss_panel: str | None = "log"  # y scale of the problem's panel in losses.png; None: none
    claims: tuple[DeckClaim, ...] = ()


def _run_surface(problem: Problem, optimizers, steps: int, seed: int) -> C.Result:
    from jopt.compare._sweep import run_surface

    assert problem.surface is not None
    return C.Result(problem, run_surface(problem.name, problem.surface, optimizers, steps, seed))


def _run_digits(problem: Problem, optimizers, steps: int, seed: int) -> C.Result:
    from jopt.compare import _digits, digits

    data = digits.load(seed)
    runs = _digits.run_digits(optimizers, steps, seed, data)
    epochs = _digits.epochs_for(steps, data)
    budget = (
        f"the digits MLP runs {epochs} epochs of mini-batches of {digits.BATCH_SIZE} "
        f"({epochs * (data.x_train.shape[0] // digits.BATCH_SIZE)} steps)"
    )
    return C.Result(problem, runs, budget)


def _minima_select(problem: Problem, runs) -> int:
    frac = C.global_fraction(runs, problem.surface.barrier)
    return int(np.lexsort((C.final_losses(runs), -frac))[0])


def _global_cell(problem: Problem, runs, i: int) -> str:
    return f"{C.global_fraction(runs, problem.surface.barrier)[i]:.0%}"


def _reversals_cell(problem: Problem, runs, i: int) -> str:
    rev = C.oscillation(runs, i)[0]
    return f"{rev:.0%}" if np.isfinite(rev) else "diverged"


def _digits_cell(problem: Problem, runs, i: int) -> str:
    return f"{runs.test_acc[i, 0, -1]:.3f} @ {C.fmt(runs.lrs[i], 2)}"


PROBLEMS: dict[str, Problem] = {
    p.name: p
    for p in [
        Problem(
            "valley",
            "Deep narrow valley (ill-conditioned quadratic)",
            _run_surface,
            S.VALLEY,
            columns=(
                Column("reversals across", _reversals_cell),
                Column("zig-zag", lambda p, r, i: C.fmt(C.oscillation(r, i)[1])),
            ),
            notes=_report.valley_per_lr,
            figures=(_figures.contour, _figures.valley_oscillation),
            claims=(DeckClaim(2, C.valley_claim),),
        ),
        Problem("rosenbrock", "Rosenbrock", _run_surface, S.ROSENBROCK),
        Problem("beale", "Beale", _run_surface, S.BEALE),
        Problem(
            "minima",
            "Local minima (tilted double well)",
            _run_surface,
            S.MINIMA,
            select=_minima_select,
            selection="lowest final loss after the most runs in the global basin",
            columns=(Column("runs in global basin", _global_cell),),
            summary=lambda p, r, i: f"{_global_cell(p, r, i)} global @ {C.fmt(r.lrs[i], 2)}",
            summary_note="share of runs in the global basin",
            loss_panel="linear",  # its loss is negative in the global basin
            claims=(DeckClaim(1, C.minima_claim),),
        ),
        Problem(
            "plateau",
            "Cliff then plateau (AdaGrad vs RMSprop)",
            _run_surface,
            S.PLATEAU,
            columns=(
                Column(
                    "effective step: last / smallest",
                    lambda p, r, i: C.fmt(C.step_recovery(r, i)[0]),
                ),
            ),
            curves=(_figures.step_sizes,),
            claims=(DeckClaim(3, C.plateau_claim), DeckClaim(4, C.adam_claim)),
        ),
        Problem(
            "digits",
            "an MLP on scikit-learn's digits (Flax NNX)",
            _run_digits,
            select=lambda p, r: C.digits_best(r),
            summary=_digits_cell,
            summary_note="test accuracy at the best constant lr",
            intro=_report.digits_intro,
            table=_report.digits_rows,
            figures=(_figures.digits,),
            loss_panel=None,
            claims=(DeckClaim(5, C.schedule_claim),),
        ),
    ]
}


def deck_claims() -> list[Callable[[C.Study], C.Claim]]:
    """Every problem's claims, in the deck's order (a problem not run: "not measured")."""
    specs = [c for p in PROBLEMS.values() for c in p.claims]
    return [c.measure for c in sorted(specs, key=lambda c: c.order)]
