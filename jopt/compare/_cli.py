"""The command line: argument checks, the phases with a progress bar, the outputs."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import sys
import time
from pathlib import Path

import jopt
from jopt.compare._optimizers import OPTIMIZERS, Optimizer, OptimizerError, named, split_names
from jopt.compare._problems import PROBLEMS

PROBLEM_NAMES = tuple(PROBLEMS)
OPTIMIZER_NAMES = tuple(OPTIMIZERS)
EXTRAS = {"matplotlib": "matplotlib", "rich": "rich", "flax": "flax", "sklearn": "scikit-learn"}
DEFAULT_SEEDS = 5


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    steps = ", ".join(f"{p.name} {p.steps}" for p in PROBLEMS.values())
    parser = argparse.ArgumentParser(
        prog="jopt-compare",
        description=(
            "The deck's optimizer study: every optimizer at learning-rate grids that bracket "
            "its best rate, on test functions chosen to show each claim, least squares with "
            "label noise and an MLP on scikit-learn's digits, several seeds, constant lr vs "
            "StepLR vs cosine. Writes DIR/report.md and PNG figures."
        ),
    )
    parser.add_argument(
        "--out",
        default="./jopt-report",
        metavar="DIR",
        help="output folder (default: ./jopt-report)",
    )
    parser.add_argument(
        "--steps",
        type=_positive_int,
        default=None,
        metavar="N",
        help=f"optimizer steps per run on every problem (default: per problem: {steps}; "
        "a --problem 1000)",
    )
    parser.add_argument(
        "--seeds",
        type=_positive_int,
        default=DEFAULT_SEEDS,
        metavar="N",
        help=f"seeds of every stochastic run, inside the same program (default: {DEFAULT_SEEDS})",
    )
    parser.add_argument(
        "--problems",
        default=None,
        metavar="a,b,…",
        help=f"built-in problems to run (default: all: {', '.join(PROBLEM_NAMES)}; "
        "none when --problem is given)",
    )
    parser.add_argument(
        "--problem",
        default=None,
        metavar="MODULE:FUNCTION",
        help="run the study on your own problem: FUNCTION() or FUNCTION(seed) in MODULE (or "
        "in a path/to/file.py) returns a jopt.compare.Task",
    )
    parser.add_argument(
        "--optimizers",
        default=",".join(OPTIMIZER_NAMES),
        metavar="a,b,…",
        help=f"optimizers to run (default: {', '.join(OPTIMIZER_NAMES)}); also any of "
        "jopt's optimizers by name (adopt, prodigy, schedule_free_adamw, ...) and any "
        "optax.NAME or jopt.NAME transform factory taking the learning rate first, with "
        "optional keyword arguments: optax.lion, optax.sgd(momentum=0.9)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    return parser


def _fail(message: str) -> SystemExit:
    print(f"jopt-compare: {message}", file=sys.stderr)
    return SystemExit(2)


def _problem_names(text: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    """The valid names in ``text`` in the canonical order; exits 2 on an unknown one."""
    if text is None:
        return default
    given = [n.strip() for n in text.split(",") if n.strip()]
    for n in given:
        if n not in PROBLEMS:
            raise _fail(f"unknown problem {n!r}; valid problems: {', '.join(PROBLEM_NAMES)}")
    if not given:
        raise _fail(f"no problem given; valid problems: {', '.join(PROBLEM_NAMES)}")
    return tuple(n for n in PROBLEM_NAMES if n in given)


def _optimizers(text: str) -> dict[str, Optimizer]:
    """The deck's optimizers in their canonical order, then the named transforms as given."""
    given = split_names(text)
    if not given:
        raise _fail(f"no optimizer given; valid optimizers: {', '.join(OPTIMIZER_NAMES)}")
    extra: dict[str, Optimizer] = {}
    for n in given:
        if n in OPTIMIZERS or n in extra:
            continue
        bare = n.split("(", 1)[0]
        if "." not in bare and bare not in jopt.__all__:
            raise _fail(
                f"unknown optimizer {n!r}; valid optimizers: {', '.join(OPTIMIZER_NAMES)}, "
                "any optimizer of jopt by its name (adopt, prodigy, ...), or optax.NAME / "
                "jopt.NAME"
            )
        try:  # a bare name beyond the deck's is jopt's optimizer of that name
            made = named(n if "." in bare else f"jopt.{n}", len(extra))
            extra[n] = dataclasses.replace(made, name=n, label=n)
        except OptimizerError as e:
            raise _fail(str(e)) from None
    deck = {n: o for n, o in OPTIMIZERS.items() if n in given}
    return {**deck, **extra}


def _check_extras() -> None:
    missing = [pip for mod, pip in EXTRAS.items() if importlib.util.find_spec(mod) is None]
    if missing:
        print(
            f'jopt-compare needs {", ".join(missing)}: pip install "jopt[examples]"',
            file=sys.stderr,
        )
        raise SystemExit(1)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    problems = {
        n: PROBLEMS[n] for n in _problem_names(args.problems, () if args.problem else PROBLEM_NAMES)
    }
    optimizers = _optimizers(args.optimizers)
    if args.problem is not None:
        from jopt.compare._problems import task_problem
        from jopt.compare._task import TaskError, load

        try:
            name, task = load(args.problem, args.seed)
        except TaskError as e:
            raise _fail(str(e)) from None
        if name in problems:
            raise _fail(f"--problem {args.problem}: the name {name!r} is a built-in problem's")
        problems[name] = task_problem(name, task)
    _check_extras()

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from jopt.compare import _claims, _figures, _problems, _report

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    console = Console()
    err = Console(stderr=True)
    study = _claims.Study(seed=args.seed, seeds=args.seeds, optimizers=tuple(optimizers))
    timings: dict[str, float] = {}
    start = time.perf_counter()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as progress:
        bar = progress.add_task("jopt-compare", total=len(problems) + 1)
        for name, problem in problems.items():
            progress.update(bar, description=f"running {name}")
            t0 = time.perf_counter()
            study.results[name] = _problems.run(
                problem, optimizers, args.steps, args.seeds, args.seed
            )
            timings[name] = time.perf_counter() - t0
            progress.advance(bar)
        progress.update(bar, description="figures and report")
        t0 = time.perf_counter()
        claims = _problems.deck_claims(study)
        inline: dict[str, dict[str, str]] = {}
        curves: dict[str, str] = {}
        for name, result in study.results.items():
            inline[name] = {}
            for draw in result.problem.figures:
                inline[name].update(draw(out, result))
        panels = [r for r in study.results.values() if r.problem.loss_panel]
        if panels:
            curves["losses"] = _figures.losses(out, panels)
        for result in study.results.values():
            for draw in result.problem.curves:
                curves.update(draw(out, result))
        report = _report.markdown(study, claims, inline, curves)
        (out / "report.md").write_text(report, encoding="utf-8")
        timings["figures and report"] = time.perf_counter() - t0
        progress.advance(bar)

    _report.print_terminal(study, claims, console)
    total = time.perf_counter() - start
    console.print(
        "time: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
        + f"; total {total:.1f} s (compiles included)"
    )
    count = len(curves) + sum(map(len, inline.values()))
    console.print(f"wrote {out / 'report.md'} and {count} figures")
    return 0
