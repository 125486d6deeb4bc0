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
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # pyright reads all of jopt, jax's and optax's sources


def without_interpreter_folder(path: str) -> str:
    """``path`` (a PATH value) less the folder of ``sys.executable`` (a virtual environment's
    bin/, whether activated or not)."""
    own = os.path.realpath(Path(sys.executable).parent)
    return os.pathsep.join(p for p in path.split(os.pathsep) if p and os.path.realpath(p) != own)


@pytest.fixture(scope="session")
def pyright_env(tmp_path_factory) -> dict[str, str]:
    """pyright's environment: this checkout's jopt (PYTHONPATH), and every interpreter it may
    start being ``sys.executable``, whatever PATH holds.

    ``--pythonpath`` points the check at ``sys.executable``, but ``--verifytypes`` ignores it
    (pyright 1.1.414 builds a configuration of its own there) and asks the first ``python3``
    (else ``python``) on PATH for the import paths: run with ``venv/bin/python -m pytest`` and
    the venv not activated, that is another interpreter, which has no flax. So PATH starts
    with a folder whose ``python3`` and ``python`` run ``sys.executable``, and the folder of
    ``sys.executable`` itself is left out of it, so the check does not depend on whether the
    venv is activated.
    """
    shims = tmp_path_factory.mktemp("interpreter")
    for name in ("python3", "python"):
        shim = shims / name
        shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
        shim.chmod(0o755)
    path = os.pathsep.join([str(shims), without_interpreter_folder(os.environ.get("PATH", ""))])
    return dict(os.environ, PATH=path, PYTHONPATH=str(ROOT))  # this checkout's jopt


def pyright(env: dict[str, str], *args: str) -> tuple[dict, subprocess.CompletedProcess]:
    done = subprocess.run(
        [sys.executable, "-m", "pyright", "--pythonpath", sys.executable, "--outputjson", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    try:
        return json.loads(done.stdout), done
    except json.JSONDecodeError:
        raise AssertionError(f"pyright gave no report:\n{done.stdout}\n{done.stderr}") from None


def test_pyright_strict_passes(pyright_env):
    report, done = pyright(pyright_env)
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


def test_public_api_is_fully_typed(pyright_env):
    # PATH holds no folder of the test interpreter's (as with `venv/bin/python -m pytest`,
    # the venv not activated): flax, jopt.compare.digits.MLP's base, must still resolve.
    assert Path(sys.executable).parent.as_posix() not in pyright_env["PATH"].split(os.pathsep)
    report, _ = pyright(pyright_env, "--verifytypes", "jopt", "--ignoreexternal")
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
