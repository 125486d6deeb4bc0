"""The study's problems, one entry each.

A ``Problem`` carries everything that is particular to it: its data and loss, its step
budget, schedules and initial learning-rate grids, how its best learning rate is chosen, its
table, report text, figures and the deck claims it tests. The runner, the report, the
figures and the command line read these fields and never name a problem, so a new problem is
one entry in ``PROBLEMS`` (a user's ``--problem`` becomes one at run time).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jopt.compare import _claims as C
from jopt.compare import _figures, _report
from jopt.compare import _surfaces as S
from jopt.compare._optimizers import SCHEDULES, Optimizer
from jopt.compare._run import Arrays, Family, Setup, grid_index, record_plan, run_families
from jopt.compare._task import Task

F32 = jnp.float32


@dataclass(frozen=True)
class Column:
    """An extra column of a 2-D problem's table: ``cell(result, optimizer, i)`` at best lr
    index ``i``."""

    header: str
    cell: Callable[[C.Result, str, int], str]


@dataclass(frozen=True)
class DeckClaim:
    """A deck claim the problem tests; ``order`` places it in the deck's narrative."""

    order: int
    measure: Callable[[C.Study, str], C.Claim]  # (study, this problem's name) -> claim
    note: str = ""  # appended to the measured text: what is particular to this problem


@dataclass
class Prepared:
    setup: Setup
    arrays: Arrays
    task: Task | None = None


@dataclass(frozen=True)
class Problem:
    name: str
    title: str
    # (problem, seed, runs) -> the setup and arrays of ``runs`` runs
    prepare: Callable[[Problem, int, int], Prepared]
    surface: S.Surface | None = None  # the 2-D problems' test function
    task: Callable[[int], Task] | None = None  # the data problems: seed -> Task
    steps: int = 1000  # default steps per run
    max_records: int = 1000  # record points per run (the 2-D problems: every step)
    schedules: tuple[str, ...] = ("constant",)
    minibatch: bool = False  # do optimizers without a fixed batch mode take mini-batch steps?
    starts_per_seed: int = 1  # > 1: each seed runs this many random starts, every optimizer
    optimizers: tuple[str, ...] | None = None  # the deck optimizers it runs (None: all)
    grids: tuple[tuple[str, tuple[float, float]], ...] = ()  # initial lr range per optimizer
    select: Callable[[C.Result, Any, int], int] = C.lowest_final_loss  # best lr of schedule k
    selection: str = "the lowest final loss (mean over seeds)"  # for the report
    columns: tuple[Column, ...] = ()
    summary: Callable[[C.Result, str, int], str] = _report.loss_cell  # the summary cell
    summary_note: str | None = None  # what ``summary`` shows, when not the final loss
    intro: Callable[[C.Result], list[str]] = _report.surface_intro  # lines under the heading
    table: Callable[[C.Result], tuple[list[str], list[list[str]]]] = _report.surface_rows
    notes: Callable[[C.Result], list[str]] | None = None  # report lines after the table
    figures: tuple[Callable[..., dict[str, str]], ...] = (_figures.contour,)  # after the table
    curves: tuple[Callable[..., dict[str, str]], ...] = ()  # in the section on loss curves
    loss_panel: str | None = "log"  # y scale of the problem's panel in losses.png; None: none
    claims: tuple[DeckClaim, ...] = field(default=())
    # the optimizer at whose best lr every path of the contour figure is drawn: the rate the
    # problem's claim compares the optimizers at (None: each at its own best lr)
    paths_at: str | None = None
    about: tuple[str, ...] = ()  # paragraphs of the problem's report section

    def grid(self, opt: Optimizer) -> tuple[int, int]:
        """The initial block of grid indices of optimizer ``opt``."""
        if self.surface is not None:
            lo, hi = self.surface.lrs
        else:
            lo, hi = dict(self.grids).get(opt.name, opt.grid)
        return grid_index(lo), grid_index(hi)

    def runs_for(self, opt: Optimizer, seeds: int) -> tuple[int, int]:
        """(seeds, runs) of ``opt``: a deterministic run (full batch, fixed start) runs once."""
        minibatch = self.minibatch if opt.batches is None else opt.batches
        if minibatch or self.starts_per_seed > 1:
            return seeds, seeds * self.starts_per_seed
        return 1, 1

    def full_batch(self, opt: Optimizer) -> bool:
        return not (self.minibatch if opt.batches is None else opt.batches)


def run(
    problem: Problem, optimizers: dict[str, Optimizer], steps: int | None, seeds: int, seed: int
):
    """Every optimizer × learning rate × schedule × seed of ``problem``: a ``Result``."""
    records, every = record_plan(problem.steps if steps is None else steps, problem.max_records)
    steps = records * every  # whole blocks between record points
    chosen = {
        n: o
        for n, o in optimizers.items()
        if problem.optimizers is None or n in problem.optimizers or n not in _DECK
    }
    prepared = problem.prepare(problem, seed, seeds * problem.starts_per_seed)
    result = C.Result(problem, {}, steps, seeds, prepared.task, chosen)
    families = [
        Family(n, o.make, problem.full_batch(o), problem.grid(o), *problem.runs_for(o, seeds))
        for n, o in chosen.items()
    ]
    result.runs.update(
        run_families(
            prepared.setup,
            families,
            grouped=problem.surface is not None,
            steps=steps,
            max_records=problem.max_records,
            arrays=prepared.arrays,
            select=lambda r, k: problem.select(result, r, k),
            level=0 if problem.surface is not None else 1,
        )
    )
    return result


def _key(problem: Problem, seed: int) -> jax.Array:
    return jax.random.fold_in(jax.random.key(seed), zlib.crc32(problem.name.encode()) % 2**31)


@dataclass(frozen=True)
class _SurfaceLoss:
    """The mini-batch loss of a 2-D problem: f(θ) plus the batch's mean tilt ⋅ θ."""

    f: Callable[[jax.Array], jax.Array]

    def __call__(self, theta, z):
        return self.f(theta) + jnp.dot(jnp.mean(z, axis=0), theta)


@dataclass(frozen=True)
class _SurfaceValue:
    """The full-batch loss of a 2-D problem: exactly f(θ) (the tilts sum to zero)."""

    f: Callable[[jax.Array], jax.Array]

    def __call__(self, theta, data):
        del data
        return self.f(theta)


def _prepare_surface(problem: Problem, seed: int, runs: int) -> Prepared:
    surface = problem.surface
    assert surface is not None
    k_start, k_data, k_batch = jax.random.split(_key(problem, seed), 3)
    setup = Setup(
        _SurfaceLoss(surface.f), _SurfaceValue(surface.f), surface.batch_size, record_params=True
    )
    arrays = Arrays(
        data=surface.data(k_data),
        aux=(),
        params0=surface.starts(k_start, runs),
        keys=jax.random.split(k_batch, runs),
    )
    return Prepared(setup, arrays)


@dataclass(frozen=True)
class _TestMetric:
    metric: Callable

    def __call__(self, params, aux):
        return self.metric(params, aux["test"])


def _distance(params, aux):
    diff = jax.tree.map(lambda a, b: a - b, params, aux["minimizer"])
    return jnp.sqrt(sum(jnp.sum(jnp.square(d)) for d in jax.tree.leaves(diff)))


def _prepare_task(problem: Problem, seed: int, runs: int) -> Prepared:
    assert problem.task is not None
    task = problem.task(seed)
    metrics: list[tuple[str, Callable]] = []
    aux: dict[str, Any] = {}
    if task.metric is not None:
        metrics.append(("test", _TestMetric(task.metric)))
        aux["test"] = task.test_data
    if task.minimizer is not None:
        metrics.append(("distance", _distance))
        aux["minimizer"] = task.minimizer
    setup = Setup(task.loss, task.loss, task.batch_size, problem.schedules, tuple(metrics))
    params0 = jax.tree.map(lambda a: jnp.broadcast_to(a, (runs, *jnp.shape(a))), task.params)
    keys = jax.random.split(jax.random.split(_key(problem, seed), 2)[1], runs)
    return Prepared(setup, Arrays(task.data, aux, params0, keys), task)


def _minima_select(result: C.Result, runs, k: int) -> int:
    frac = C.global_fraction(runs, result.problem.surface.barrier, k).mean(axis=1)
    return int(np.lexsort((C.final_losses(runs, k), -frac))[0])


def _floor_task(seed: int) -> Task:
    from jopt.compare import _floor

    return _floor.task(seed)


def _digits_task(seed: int) -> Task:
    from jopt.compare import digits

    return digits.task(seed)


def task_problem(name: str, task: Task) -> Problem:
    """A user's ``--problem``: the study as on the built-in data problems."""
    return Problem(
        name,
        task.title or f"{name} (--problem)",
        _prepare_task,
        task=lambda seed: task,
        max_records=100,
        schedules=SCHEDULES,
        minibatch=True,
        intro=_report.task_intro,
        table=_report.task_rows,
        summary=_report.task_cell,
        figures=(_figures.task_curves,),
        loss_panel=None,
        claims=(DeckClaim(7, C.schedule_claim),),
    )


_DIGITS_PREMISE = (
    "The schedule claim's premise differs here: the MLP can fit its whole training split, so "
    "near its minimum every example's gradient, and so every mini-batch's, goes to zero: "
    "there is no noise floor for a decaying step to get under, and within a fixed budget a "
    "decay mostly gives up progress that a constant step keeps making"
)
_DECK = ("gd", "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")

PROBLEMS: dict[str, Problem] = {
    p.name: p
    for p in [
        Problem(
            "valley",
            "Deep narrow valley (ill-conditioned quadratic)",
            _prepare_surface,
            S.VALLEY,
            columns=(
                Column("reversals across", _report.reversals_cell),
                Column("zig-zag", _report.zigzag_cell),
            ),
            notes=_report.valley_per_lr,
            figures=(_figures.contour, _figures.valley_oscillation),
            claims=(DeckClaim(2, C.valley_claim),),
            paths_at="gd",  # the claim: GD, Momentum and NAG at GD's best lr
        ),
        Problem("rosenbrock", "Rosenbrock", _prepare_surface, S.ROSENBROCK),
        Problem("beale", "Beale", _prepare_surface, S.BEALE),
        Problem(
            "minima",
            "Local minima (tilted double well)",
            _prepare_surface,
            S.MINIMA,
            starts_per_seed=16,
            select=_minima_select,
            selection="the most runs in the global basin, then the lowest final loss",
            columns=(Column("runs in global basin", _report.global_cell),),
            summary=_report.global_summary_cell,
            summary_note="share of runs in the global basin",
            loss_panel="linear",  # its loss is negative in the global basin
            claims=(DeckClaim(1, C.minima_claim),),
        ),
        Problem(
            "plateau",
            "Cliff then plateau (AdaGrad vs RMSprop)",
            _prepare_surface,
            S.PLATEAU,
            columns=(Column("effective step: last / smallest", _report.recovery_cell),),
            curves=(_figures.step_sizes,),
            claims=(DeckClaim(3, C.plateau_claim), DeckClaim(4, C.adam_claim)),
            about=(
                "AdaGrad's effective step α/√(Σg²) only shrinks; whether that stalls it depends "
                "on α: at a rate large enough to leave the cliff in a step or two, the cliff's "
                'gradients never pile up in Σg². The claim\'s "stall" part therefore compares '
                "AdaGrad and RMSprop each at its own best rate.",
            ),
        ),
        Problem(
            "floor",
            "Least squares with label noise (a noise floor, minimum known)",
            _prepare_task,
            task=_floor_task,
            max_records=100,
            schedules=SCHEDULES,
            minibatch=True,
            optimizers=("gd", "sgd", "momentum", "adam"),
            grids=(
                ("gd", (0.316, 3.16)),
                ("sgd", (0.1, 1.0)),
                ("momentum", (0.1, 1.0)),
                ("adam", (0.0178, 0.178)),
            ),
            summary=_report.task_cell,
            summary_note="distance to the known minimum loss, constant lr",
            intro=_report.task_intro,
            table=_report.task_rows,
            figures=(_figures.task_curves,),
            loss_panel=None,
            claims=(DeckClaim(5, C.schedule_claim),),
            about=(
                "Why this problem: the labels carry noise that no parameters fit, so the "
                "minimum loss is positive and the examples' gradients at the minimum are not "
                "zero: a mini-batch gradient stays noisy there. With a constant step α, SGD "
                "keeps moving in a cloud around the minimum whose size grows with α (the noise "
                "floor); a step that decays lets it settle (Robbins–Monro: Σα_t = ∞, "
                "Σα_t² < ∞; StepLR and cosine do this within a fixed budget). GD's full-batch "
                "gradient has no noise: it reaches the minimum at a constant step.",
            ),
        ),
        Problem(
            "digits",
            "an MLP on scikit-learn's digits (Flax NNX)",
            _prepare_task,
            task=_digits_task,
            steps=320,
            max_records=20,
            schedules=SCHEDULES,
            minibatch=True,
            grids=(
                ("gd", (0.562, 5.62)),
                ("sgd", (0.316, 3.16)),
                ("momentum", (1.0, 10.0)),
                ("nesterov", (1.0, 10.0)),
                ("adagrad", (0.0562, 0.562)),
                ("rmsprop", (0.00316, 0.0316)),
                ("adam", (0.0178, 0.178)),
            ),
            summary=_report.task_cell,
            summary_note="test accuracy at the best constant lr",
            intro=_report.task_intro,
            table=_report.task_rows,
            figures=(_figures.task_curves,),
            loss_panel=None,
            claims=(DeckClaim(6, C.schedule_claim, _DIGITS_PREMISE),),
            about=(_DIGITS_PREMISE + ".",),
        ),
    ]
}


def deck_claims(study: C.Study) -> list[C.Claim]:
    """The claims of every problem that ran, in the deck's order."""
    specs = [(c, name) for name, r in study.results.items() for c in r.problem.claims]
    return [c.measure(study, name) for c, name in sorted(specs, key=lambda s: s[0].order)]
