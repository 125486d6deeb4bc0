"""jopt-compare's command line: the run the README's command makes (every problem, figure
and deck claim), its determinism, a subset run, argument errors, and that the core package
never imports it.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from matplotlib.figure import Figure

from jopt.compare import main
from tests.support.study import FAST

VERDICTS = ("**borne out**", "**not borne out**", "**inconclusive**")


@pytest.fixture(scope="session")
def default_run(tmp_path_factory):
    """The README's ``jopt-compare`` (every problem and optimizer) at 40 steps, 2 seeds."""
    out = tmp_path_factory.mktemp("report")
    assert main([*FAST, "--out", str(out)]) == 0
    return out


@pytest.mark.slow
def test_default_run_writes_every_problem_figure_and_claim(default_run):
    report = (default_run / "report.md").read_text(encoding="utf-8")
    assert "## Deck claims" in report and "How a verdict is reached" in report
    for name in ("valley", "rosenbrock", "beale", "minima", "plateau", "floor", "digits"):
        assert f"## {name}" in report
        png = default_run / f"{name}.png"
        assert png.stat().st_size > 10_000
        assert f"]({name}.png)" in report
    for name in ("losses", "step_sizes", "valley_oscillation"):
        assert (default_run / f"{name}.png").exists()
    claims = report.split("## Deck claims")[1].split("How a verdict")[0]
    rows = [r for r in claims.splitlines() if r.startswith("| ") and "claim (deck)" not in r]
    assert len(rows) == 6  # five deck claims, the schedule claim on two problems
    for row in rows:  # each claim is measured and judged
        assert sum(v in row for v in VERDICTS) == 1, row


@pytest.mark.slow
def test_same_seed_same_report(default_run, tmp_path, monkeypatch):
    # The second run reuses the first one's compiled programs; the figures are drawn but
    # not encoded as PNG (what is compared is report.md).
    monkeypatch.setattr(Figure, "savefig", lambda self, path, **kwargs: None)
    assert main([*FAST, "--out", str(tmp_path)]) == 0
    assert (tmp_path / "report.md").read_text() == (default_run / "report.md").read_text()


def test_subset_and_not_measured_claims(tmp_path, capsys):
    args = ["--steps", "5", "--problems", "valley", "--optimizers", "gd,adam"]
    assert main([*args, "--out", str(tmp_path)]) == 0
    report = (tmp_path / "report.md").read_text()
    assert "## valley" in report and "## rosenbrock" not in report and "## digits" not in report
    assert "not measured" in report
    assert not (tmp_path / "digits.png").exists()
    assert "valley" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("flag", "bad", "message"),
    [
        (
            "--problems",
            "valley,nope",
            "unknown problem 'nope'; valid problems: valley, rosenbrock, beale, minima, plateau, floor, digits",
        ),
        (
            "--optimizers",
            "adam,nope",
            "unknown optimizer 'nope'; valid optimizers: gd, sgd, momentum, nesterov, adagrad, rmsprop, adam",
        ),
    ],
)
def test_unknown_names(flag, bad, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main([flag, bad, "--out", str(tmp_path)])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "report.md").exists()


def test_steps_must_be_positive(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--steps", "0"])
    assert exc.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err


def test_core_package_does_not_import_compare():
    code = (
        "import sys, jopt; assert 'jopt.compare' not in sys.modules and 'flax' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
