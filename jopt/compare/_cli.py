"""The command line: argument checks, the phases with a progress bar, the outputs."""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

from jopt.compare._optimizers import OPTIMIZERS
from jopt.compare._problems import PROBLEMS

PROBLEM_NAMES = tuple(PROBLEMS)
OPTIMIZER_NAMES = tuple(OPTIMIZERS)
EXTRAS = {"matplotlib": "matplotlib", "rich": "rich", "flax": "flax", "sklearn": "scikit-learn"}
DEFAULT_STEPS = 1000


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jopt-compare",
        description=(
            "The deck's optimizer study: every optimizer at a grid of learning rates on "
            "test functions chosen to show each claim, and an MLP on scikit-learn's digits. "
            "Writes DIR/report.md and PNG figures."
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
        default=DEFAULT_STEPS,
        metavar="N",
        help=f"optimizer steps per run (default: {DEFAULT_STEPS}); the digits "
        "MLP rounds them up to whole epochs",
    )
    parser.add_argument(
        "--problems",
        default=",".join(PROBLEM_NAMES),
        metavar="a,b,…",
        help=f"problems to run (default: all: {', '.join(PROBLEM_NAMES)})",
    )
    parser.add_argument(
        "--optimizers",
        default=",".join(OPTIMIZER_NAMES),
        metavar="a,b,…",
        help=f"optimizers to run (default: all: {', '.join(OPTIMIZER_NAMES)})",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    return parser


def _names(text: str, valid: tuple[str, ...], what: str) -> tuple[str, ...]:
    """The valid names in ``text`` in the canonical order; exits 2 on an unknown one."""
    given = [n.strip() for n in text.split(",") if n.strip()]
    for n in given:
        if n not in valid:
            print(
                f"jopt-compare: unknown {what} {n!r}; valid {what}s: {', '.join(valid)}",
                file=sys.stderr,
            )
            raise SystemExit(2)
    if not given:
        print(f"jopt-compare: no {what} given; valid {what}s: {', '.join(valid)}", file=sys.stderr)
        raise SystemExit(2)
    return tuple(n for n in valid if n in given)


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
    problems = _names(args.problems, PROBLEM_NAMES, "problem")
    optimizers = _names(args.optimizers, OPTIMIZER_NAMES, "optimizer")
    _check_extras()

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from jopt.compare import _claims, _figures, _problems, _report

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    console = Console()
    err = Console(stderr=True)
    study = _claims.Study(steps=args.steps, seed=args.seed, optimizers=optimizers)
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
        task = progress.add_task("jopt-compare", total=len(problems) + 1)
        for name in problems:
            progress.update(task, description=f"running {name}")
            t0 = time.perf_counter()
            problem = PROBLEMS[name]
            study.results[name] = problem.run(problem, optimizers, args.steps, args.seed)
            timings[name] = time.perf_counter() - t0
            progress.advance(task)
        progress.update(task, description="figures and report")
        t0 = time.perf_counter()
        claims = [measure(study) for measure in _problems.deck_claims()]
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
        progress.advance(task)

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
