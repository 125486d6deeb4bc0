"""``--problem module:function``: the user's ``Task`` (the shipped example, a module on the
path), and bad input as one line on stderr and exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from jopt.compare import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "diabetes_problem.py"


@pytest.mark.slow
def test_problem_runs_the_shipped_example(tmp_path, capsys):
    out = tmp_path / "diabetes"
    optimizer = "optax.sgd(momentum=0.9)"  # optax.adam fails strict promotion
    args = ["--problem", f"{EXAMPLE}:diabetes", "--optimizers", optimizer, "--steps", "30"]
    assert main([*args, "--seeds", "2", "--out", str(out)]) == 0
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "## diabetes: Linear regression on scikit-learn's diabetes data" in report
    assert "| optax.sgd(momentum=0.9) | cosine |" in report
    assert "test R²" in report and "− minimum" in report
    assert (out / "diabetes.png").stat().st_size > 10_000
    assert "## valley" not in report  # --problem alone runs only the user's problem
    assert "diabetes" in capsys.readouterr().out


@pytest.mark.slow
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
def test_problem_bad_input_is_one_line_and_exit_2(spec, message, tmp_path, main_fails):
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
    err = main_fails(["--problem", spec.replace("BAD", str(bad)), "--out", str(tmp_path)])
    assert message in err
    assert not (tmp_path / "report.md").exists()
