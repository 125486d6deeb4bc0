"""The runner's learning-rate grids: extended until they bracket the optimum, and a best rate
still at an end after the last extension marked as the grid limit, with no verdict resting
on it. The best rate of GD on a quadratic is known: 1/curvature (one step lands on the
minimum)."""

from __future__ import annotations

import textwrap

import pytest

from jopt.compare import main
from jopt.compare._optimizers import OPTIMIZERS
from jopt.compare._problems import run, task_problem
from jopt.compare._run import MAX_EXTENSIONS
from tests.support.study import quadratic_task


def _run_gd(curvature: float):
    result = run(task_problem("q", quadratic_task(curvature)), {"gd": OPTIMIZERS["gd"]}, 20, 1, 0)
    return result, result.runs["gd"]


@pytest.mark.parametrize(
    ("curvature", "extended"),
    # GD's initial block is 0.1 … 1 (5 rates, 4 per decade); the best rate 1/c is 10, one
    # block above it, or 1e-3, two blocks below it (the first block below diverges throughout)
    [(0.1, [0, 1]), (1e3, [2, 0])],
)
def test_grid_extends_to_an_interior_optimum(curvature, extended):
    result, runs = _run_gd(curvature)
    assert runs.extensions == extended
    assert len(runs.lrs) == 5 * (1 + sum(extended))
    for k in range(len(runs.schedules)):  # one step at α = 1/c lands on the minimum
        i = result.best("gd", k)
        assert runs.lrs[i] == pytest.approx(1.0 / curvature, rel=1e-3)
        assert 0 < i < len(runs.lrs) - 1 and runs.at_limit(i) is None


@pytest.mark.slow
def test_grid_limit_is_marked_and_no_verdict_rests_on_it(tmp_path, capsys):
    # With curvature 1e-4 the best rate (1e4) lies beyond the grid's limit: every larger
    # rate tried is better, up to the last one.
    result, runs = _run_gd(1e-4)
    assert runs.extensions == [0, MAX_EXTENSIONS]
    assert result.best("gd") == len(runs.lrs) - 1 and runs.at_limit(len(runs.lrs) - 1) == "high"

    module = tmp_path / "flat_problem.py"
    module.write_text(
        textwrap.dedent(
            """
            import jax.numpy as jnp
            from jopt.compare import Task

            def loss(theta, batch):
                return 0.5e-4 * jnp.sum(theta * theta) + 0.0 * jnp.mean(batch)

            def flat():
                data = jnp.zeros((8, 1), jnp.float32)
                return Task(params=jnp.ones(2, jnp.float32), loss=loss, data=data, batch_size=4)
            """
        )
    )
    out = tmp_path / "report"
    args = ["--problem", f"{module}:flat", "--optimizers", "gd,sgd", "--steps", "20"]
    assert main([*args, "--seeds", "2", "--out", str(out)]) == 0
    report = (out / "report.md").read_text(encoding="utf-8")
    lr = f"{runs.lrs[-1]:.2g}"  # GD's grid, as above; SGD's starts 10× lower
    assert (
        f"| GD (full batch) | cosine | 0.1 … {lr} (15), +2 above | ≥ {lr} (grid limit) |" in report
    )
    assert (
        "| SGD (mini-batch) | constant | 0.01 … 32 (15), +2 above | ≥ 32 (grid limit) |" in report
    )
    claim = next(r for r in report.splitlines() if r.startswith("| A constant step size"))
    assert claim.endswith("| **inconclusive** |") and "no verdict rests on it" in claim
    assert "grid limit" in claim
    capsys.readouterr()
