"""jopt ships py.typed: its annotations are checked by pyright (configured in pyproject.toml).

- every module of jopt/ (new ones included) and tests/typing_usage.py pass pyright's
  strict mode, less the rules listed there for unannotated internals; typing_usage.py
  (user code) passes full strict, and its deliberately wrong calls must each be
  reported (an expected error pyright does not report fails the run);
- every public name is fully typed: ``pyright --verifytypes jopt`` scores 100 %, and a
  package that is not fully typed scores less (the check can fail).

Pyright, not mypy: optax ships no py.typed, so mypy types all of optax as Any and
``tx: optax.GradientTransformation = jopt.adam(...)`` would pass whatever jopt returned;
pyright reads optax's sources.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pyright(*args: str, cwd: Path = ROOT) -> tuple[dict, subprocess.CompletedProcess]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))  # this checkout's jopt, not an installed one
    done = subprocess.run(
        [sys.executable, "-m", "pyright", "--pythonpath", sys.executable, "--outputjson", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    try:
        return json.loads(done.stdout), done
    except json.JSONDecodeError:
        raise AssertionError(f"pyright gave no report:\n{done.stdout}\n{done.stderr}") from None


def test_pyright_strict_passes():
    report, done = pyright()
    errors = [
        f"{Path(d['file']).relative_to(ROOT)}:{d['range']['start']['line'] + 1}: "
        f"[{d.get('rule', '')}] {d['message']}"
        for d in report["generalDiagnostics"]
    ]
    assert not errors, "pyright:\n" + "\n".join(errors)
    assert done.returncode == 0, done.stderr
    # It looked at every module (a wrong include would check nothing and pass).
    modules = [
        p
        for p in (ROOT / "jopt").rglob("*.py")
        if "compare" not in p.relative_to(ROOT).parts and p.name != "conftest.py"
    ]
    assert report["summary"]["filesAnalyzed"] >= len(modules) + 1


def test_public_api_is_fully_typed():
    report, _ = pyright("--verifytypes", "jopt", "--ignoreexternal")
    completeness = report["typeCompleteness"]
    assert Path(completeness["pyTypedPath"]) == ROOT / "jopt" / "py.typed"
    problems = [
        f"{s['name']}: {d['message']}"
        for s in completeness["symbols"]
        if s["isExported"]
        for d in s["diagnostics"]
        if d["severity"] == "error"
    ]
    assert not problems, "not fully typed:\n" + "\n".join(problems)
    assert completeness["completenessScore"] == 1.0
    assert completeness["exportedSymbolCounts"]["withKnownType"] > 50


def test_verifytypes_fails_on_an_untyped_public_function(tmp_path):
    package = tmp_path / "halftyped"
    package.mkdir()
    (package / "py.typed").write_text("")
    (package / "__init__.py").write_text(
        "def typed(x: float) -> float:\n    return x\n\n\ndef untyped(x):\n    return x\n"
    )
    env_root = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "pyright", "--outputjson", "--verifytypes", "halftyped"],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=env_root),
        capture_output=True,
        text=True,
        timeout=300,
    )
    completeness = json.loads(done.stdout)["typeCompleteness"]
    assert completeness["completenessScore"] == 0.5
    assert done.returncode != 0
