"""jopt-compare's study rules: learning-rate grids that bracket the optimum, the verdict rule,
the schedule claim where its premise holds (a noise floor), and ``--problem``.

Every expected value comes from outside the study: the best rate of GD on a quadratic is
1/curvature (one step lands on the minimum), the least-squares minimum is solved here with
NumPy, the verdicts of synthetic effects follow from the rule's arithmetic.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from jopt.compare import Task, main
from jopt.compare import _verdict as V
from jopt.compare._optimizers import OPTIMIZERS
from jopt.compare._problems import PROBLEMS, run, task_problem
from jopt.compare._run import MAX_EXTENSIONS

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "diabetes_problem.py"
LOG2 = float(np.log10(2.0))


class Quadratic:
    """½·c·‖θ‖²; the data (zeros) make every mini-batch gradient the full gradient."""

    def __init__(self, curvature: float):
        self.c = curvature

    def __call__(self, theta, batch):
        return 0.5 * self.c * jnp.sum(theta * theta) + 0.0 * jnp.mean(batch)


def quadratic_task(curvature: float) -> Task:
    return Task(
        params=jnp.ones(2, jnp.float32),
        loss=Quadratic(curvature),
        data=jnp.zeros((8, 1), jnp.float32),
        batch_size=4,
    )


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


@pytest.mark.parametrize(
    ("effects", "verdict"),
    [
        ([0.9, 1.0, 1.1, 0.95, 1.05], V.BORNE_OUT),  # ×10 in every seed
        ([0.01, -0.02, 0.0, 0.02, -0.01], V.NOT_BORNE_OUT),  # no effect
        ([-0.5, -0.4, -0.6, -0.45, -0.55], V.NOT_BORNE_OUT),  # the opposite effect
        ([0.1, 0.6, 0.3, 0.5, 0.0], V.INCONCLUSIVE),  # mean 0.3, sd 0.25: overlaps ×2
        ([0.7, 0.8], V.BORNE_OUT),  # mean 0.75, sd 0.071: 0.75 − 0.14 > 0.30
        ([0.4, 0.9], V.INCONCLUSIVE),  # mean 0.65, sd 0.35: 0.65 − 0.71 < 0.30
        ([1.0], V.INCONCLUSIVE),  # one seed of a stochastic run: no spread measured
        ([1.0, np.inf, 1.0], V.INCONCLUSIVE),  # a diverged run
    ],
)
def test_verdict_rule_on_synthetic_effects(effects, verdict):
    assert V.decide(effects, LOG2) == verdict


def test_verdict_rule_deterministic_parts_blockers_and_combination():
    assert V.decide([0.31], LOG2, deterministic=True) == V.BORNE_OUT
    assert V.decide([0.29], LOG2, deterministic=True) == V.NOT_BORNE_OUT
    blocked = V.Part("x", np.array([5.0, 5.0]), LOG2, blocker="at the grid limit")
    assert blocked.verdict == V.INCONCLUSIVE
    yes, no, open_ = V.BORNE_OUT, V.NOT_BORNE_OUT, V.INCONCLUSIVE
    assert V.combine([yes, yes]) == yes
    assert V.combine([yes, open_]) == open_
    assert V.combine([open_, no, yes]) == no
    assert V.combine([yes, V.NOT_MEASURED]) == V.NOT_MEASURED


def test_noise_floor_constant_sgd_stalls_and_a_decaying_schedule_gets_closer():
    result = run(PROBLEMS["floor"], {"sgd": OPTIMIZERS["sgd"]}, 600, 3, 0)
    task, runs = result.task, result.runs["sgd"]
    x, y = (np.asarray(a, np.float64) for a in task.data)
    w = np.linalg.lstsq(x, y, rcond=None)[0]  # the known minimum, solved here
    f_star = 0.5 * np.mean((x @ w - y) ** 2)
    assert task.min_loss == pytest.approx(f_star, rel=1e-12)
    np.testing.assert_allclose(np.asarray(task.minimizer, np.float64), w, rtol=1e-5, atol=1e-6)

    def excess(schedule):
        k = runs.schedules.index(schedule)
        return runs.loss[result.best("sgd", k), k].astype(np.float64) - f_star  # [seed, record]

    const, cosine = excess("constant"), excess("cosine")
    half = const.shape[1] // 2
    # a constant rate: measurably above the minimum at the end (float32 resolves 1e-7 here),
    # and the second half of the run gained less than ×2: it bounces at a floor
    assert np.all(const[:, -1] > 1e-3)
    assert np.all(const[:, half] / const[:, -1] < 2.0)
    # cosine's decaying step settles: more than ×4 in the second half, and at the end more
    # than ×2 closer to the minimum than the constant rate, seed by seed
    assert np.all(cosine[:, half] / cosine[:, -1] > 4.0)
    assert np.all(cosine[:, -1] < const[:, -1] / 2.0)


def test_no_verdict_rests_on_a_single_seed():
    from jopt.compare import _claims as C

    opts = {o: OPTIMIZERS[o] for o in ("gd", "sgd")}
    study = C.Study(0, 1, tuple(opts), {"floor": run(PROBLEMS["floor"], opts, 200, 1, 0)})
    claim = C.schedule_claim(study, "floor")
    assert [p.what for p in claim.parts] == ["sgd StepLR", "sgd cosine"]
    assert all(len(p.effects) == 1 and p.verdict == V.INCONCLUSIVE for p in claim.parts)
    assert claim.verdict == V.INCONCLUSIVE


def _main_fails(args, capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("jopt-compare: ") and err.count("\n") == 1, err  # one clear line
    return err


def test_problem_runs_the_shipped_example(tmp_path, capsys):
    out = tmp_path / "diabetes"
    optimizers = "gd,sgd,adam,optax.sgd(momentum=0.9)"  # optax.adam fails strict promotion
    args = ["--problem", f"{EXAMPLE}:diabetes", "--optimizers", optimizers, "--steps", "60"]
    assert main([*args, "--seeds", "2", "--out", str(out)]) == 0
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "## diabetes: Linear regression on scikit-learn's diabetes data" in report
    assert "| optax.sgd(momentum=0.9) | cosine |" in report
    assert "test R²" in report and "− minimum" in report
    assert (out / "diabetes.png").stat().st_size > 10_000
    assert "## valley" not in report  # --problem alone runs only the user's problem
    assert "diabetes" in capsys.readouterr().out


def test_problem_as_module_on_the_path(tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(EXAMPLE.parent))
    args = ["--problem", "diabetes_problem:diabetes", "--optimizers", "sgd", "--steps", "20"]
    assert main([*args, "--seeds", "2", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "diabetes.png").exists()
    capsys.readouterr()


BAD_PROBLEMS = {  # float32 throughout: the tests run with x64 and strict promotion
    "non_scalar": "loss=lambda p, b: p * jnp.mean(b), data=zeros(8, 1)",
    "wrong_shape": "loss=lambda p, b: jnp.sum(b[0] @ p), data=(zeros(8, 3), zeros(8))",
    "ragged": "loss=lambda p, b: jnp.sum(p), data=(zeros(8, 2), zeros(7))",
}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_module_xyz:f", "no module named 'no_such_module_xyz'"),
        (f"{EXAMPLE}:nope", "has no function 'nope'"),
        ("BAD:non_scalar", "loss(params, batch) must return a scalar; it returned shape (2,)"),
        ("BAD:wrong_shape", "loss(params, batch) failed on a batch of Task.data"),
        ("BAD:ragged", "Task.data arrays must share their leading axis"),
        ("missing-colon", "--problem must be module:function"),
    ],
)
def test_problem_bad_input_is_one_line_and_exit_2(spec, message, tmp_path, capsys):
    bad = tmp_path / "bad_problems.py"
    lines = [
        "import jax.numpy as jnp",
        "from jopt.compare import Task",
        "def zeros(*shape):\n    return jnp.zeros(shape, jnp.float32)",
    ]
    for name, fields in BAD_PROBLEMS.items():
        params = "jnp.ones(2, jnp.float32)"
        lines.append(f"def {name}():\n    return Task(params={params}, batch_size=4, {fields})")
    bad.write_text("\n".join(lines) + "\n")
    err = _main_fails(["--problem", spec.replace("BAD", str(bad)), "--out", str(tmp_path)], capsys)
    assert message in err
    assert not (tmp_path / "report.md").exists()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("optax.no_such_transform", "optax.no_such_transform does not exist"),
        ("optax.sgd(0.9)", "arguments of 'optax.sgd(0.9)' must be keyword=literal"),
        ("optax.sgd(momentum=x)", "must be keyword=literal"),
    ],
)
def test_named_optimizer_errors(name, message, capsys):
    assert message in _main_fails(["--optimizers", f"sgd,{name}"], capsys)
