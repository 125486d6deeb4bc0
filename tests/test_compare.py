"""jopt-compare: a fast smoke run of the CLI, its determinism, its errors, robust deck claims.

The study's own rules (grid extension, the verdict rule, the noise floor, ``--problem``) are
tested in test_compare_study.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from jopt.compare import main

FAST = ["--steps", "40", "--seed", "3", "--seeds", "2"]
VERDICTS = ("**borne out**", "**not borne out**", "**inconclusive**")


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    assert main([*FAST, "--out", str(out)]) == 0
    return out


def test_outputs(fast_run):
    report = (fast_run / "report.md").read_text(encoding="utf-8")
    assert "## Deck claims" in report and "How a verdict is reached" in report
    for name in ("valley", "rosenbrock", "beale", "minima", "plateau", "floor", "digits"):
        assert f"## {name}" in report
        png = fast_run / f"{name}.png"
        assert png.stat().st_size > 10_000
        assert f"]({name}.png)" in report
    for name in ("losses", "step_sizes", "valley_oscillation"):
        assert (fast_run / f"{name}.png").exists()
    claims = report.split("## Deck claims")[1].split("How a verdict")[0]
    rows = [r for r in claims.splitlines() if r.startswith("| ") and "claim (deck)" not in r]
    assert len(rows) == 6  # five deck claims, the schedule claim on two problems
    for row in rows:  # each claim is measured and judged
        assert sum(v in row for v in VERDICTS) == 1, row


def test_same_seed_same_report(fast_run, tmp_path):
    assert main([*FAST, "--out", str(tmp_path)]) == 0
    assert (tmp_path / "report.md").read_text() == (fast_run / "report.md").read_text()


def test_subset_and_not_measured_claims(tmp_path, capsys):
    assert (
        main(
            [
                "--steps",
                "5",
                "--problems",
                "valley",
                "--optimizers",
                "gd,adam",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
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
            "adam,lbfgs",
            "unknown optimizer 'lbfgs'; valid optimizers: gd, sgd, momentum, nesterov, adagrad, rmsprop, adam",
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


def _run(problem, optimizers, steps):
    from jopt.compare._optimizers import OPTIMIZERS
    from jopt.compare._problems import PROBLEMS, run

    return run(PROBLEMS[problem], {o: OPTIMIZERS[o] for o in optimizers}, steps, 1, 3).runs


def test_valley_claim_momentum_damps_gd_oscillation():
    # At the same learning rate, where GD zig-zags across the valley (α·curvature = 1.78),
    # Momentum and NAG zig-zag far less.
    from jopt.compare._claims import oscillation

    runs = _run("valley", ("gd", "momentum", "nesterov"), 40)
    i = int(np.flatnonzero(np.isclose(runs["gd"].lrs, 0.178, rtol=1e-2))[0])
    rev_gd, zz_gd = oscillation(runs["gd"], i)
    assert rev_gd > 0.9
    for name in ("momentum", "nesterov"):
        rev, zz = oscillation(runs[name], i)
        assert rev < rev_gd and zz < zz_gd / 2


def test_plateau_claim_adagrad_step_only_shrinks():
    from jopt.compare._claims import step_recovery

    runs = _run("plateau", ("adagrad", "rmsprop"), 40)
    for i in range(len(runs["adagrad"].lrs)):
        s = runs["adagrad"].step_size[i, 0, 0]
        assert np.all(np.diff(s) <= 1e-6 * s[:-1])  # never grows
        assert s[-1] < s[0]
    j = int(np.flatnonzero(np.isclose(runs["rmsprop"].lrs, 0.316, rtol=1e-2))[0])
    assert step_recovery(runs["rmsprop"], j)[0] > 1.05  # RMSprop's step grows again


def test_sweep_benchmark_smoke(tmp_path):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "benchmarks" / "sweep.py"
    spec = importlib.util.spec_from_file_location("sweep_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(["--points", "2", "--epochs", "1", "--out", str(tmp_path / "sweep.md")])
    assert result["vmapped_s"] > 0 and result["sequential_s"] > 0
    assert "ratio" in (tmp_path / "sweep.md").read_text()


def test_core_package_does_not_import_compare():
    import subprocess
    import sys

    code = (
        "import sys, jopt; assert 'jopt.compare' not in sys.modules and 'flax' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
