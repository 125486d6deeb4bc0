"""Mutation testing: how many seeded bugs the test suite kills.

Usage, from anywhere, with the project's virtual environment active::

    python tests/mutation/run.py --tree DIR --mutants FILE [--only ID,ID] [--jobs 2]
        [--report OUT.md] [--resume LOG.jsonl] [--timeout 1500] [--outputs DIR]
        [--select coverage|all] [--coverage-map MAP.json] [--coverage-only] [--plan]
        [--no-baseline] [--list] [--check-import]

``FILE`` is a Python module defining ``MUTANTS``, a list of ``mutants.Mutant`` (see
``mutants.py`` beside this file). ``DIR`` is the root of a checkout of the library (the
folder holding ``pyproject.toml``, ``jopt/`` and ``tests/``).

Requirements: the project's test environment, plus coverage.py for the default
``--select coverage`` (``pip install coverage``; a dev tool of this script only, not a
dependency of jopt; ``--select all`` needs nothing more). The script itself uses only the
standard library; ``mutation_plugin.py`` beside it is its pytest plugin.

What it does:

1. Checks every mutant of the file against ``DIR``: its ``old`` text must occur exactly
   once in ``DIR/file``, differ from ``new``, and a mutated Python file must still
   compile. It refuses to run at all otherwise, naming the stale mutants.
2. Checks, in a copy of ``DIR``, that ``python -c "import jopt"`` imports the copy's
   package (not an editable install elsewhere).
3. ``--select coverage`` (the default): makes the tree's coverage map once (below); that
   run of the whole suite is also the baseline. ``--select all``: runs the suite once on
   an unmutated copy (the baseline; ``--no-baseline`` skips it, and a resumed run skips
   it when the log holds a passing baseline of the same tree). The baseline must pass,
   else the harness is broken and the run stops.
4. For each mutant: copies ``DIR`` to a fresh temporary folder (without ``.git``,
   ``__pycache__`` and ``*.egg-info``), applies the replacement, and runs
   ``python -m pytest -x -q -p no:cacheprovider -n JOBS -p no:randomly`` from the
   copy's root, with ``PYTHONPATH`` set to the copy so that the copy's ``jopt`` is the
   one imported by pytest, its xdist workers and any subprocess a test starts. With
   ``--select all`` that is the whole suite; with ``--select coverage`` only the tests
   selected for the mutant (the same command, given the selected tests' files and
   ``-p _jopt_mutation_plugin``, which deselects every other test of those files).

Test selection (``--select coverage``), the coverage-based selection of mutation tools
such as mutmut and cosmic-ray, done the same way on every tree:

- The coverage map: the tree's whole suite runs once, in a copy, under coverage.py with
  one context per test (``mutation_plugin.py``: every Python process of the run measures
  ``jopt/``, xdist workers and subprocesses of tests included; a subprocess is credited
  to the test that started it; a fixture wider than a function is credited to every test
  that requests it; JAX's caches and jopt's ``functools`` caches are emptied before each
  test, so that each test traces again the jitted code it runs). The map, (file, line)
  to the contexts that ran it, is written as JSON to ``--coverage-map`` (default:
  ``mutation_cov_<tree hash>.json`` beside ``--resume``, else ``--report``, else in the
  temp folder) and reused by later runs on the same tree (same hash of its files). It
  costs about twice the suite's CPU time (coverage's tracing about a quarter more, the
  emptied caches the rest), once per tree.
- A mutant's lines: those of its ``old`` text in the unmutated file, plus the first line
  of the innermost statement holding each (coverage may credit a statement spread over
  lines to its first line).
- The whole suite runs when one of those lines is import-time code (module level, a
  class body, a ``def`` line, a decorator, a default value or annotation: found from
  the syntax tree, however the map credits it), or when the map shows it also ran
  outside any test (at import or collection, e.g. a test module building optimizers at
  module level: the effect may reach tests that never run the line), or when the file
  is not under ``jopt/`` or not Python.
- Otherwise the tests that ran any of the lines are run. None: the mutant survives
  without a run, as ``survived (not covered)``.

Known limits of the selection: a test that sees a mutation only through a value cached
outside the caches emptied (a module-level memo in a test, a value a test stored in a
global) may not be selected; a test that fails in the coverage run may not have run all
its lines (the map lists such tests; the run warns); a selected subset can order tests
differently from the whole suite (tests that depend on order would show as kills). For
a mutant whose lines every test runs the selection is the whole suite anyway.

Results: ``killed`` (pytest exit code 1, or 2/3 with failing or erroring tests in its
output: a collection error caused by the mutation counts), ``survived`` (exit code 0),
``survived (timeout)`` (still running after ``--timeout`` seconds; counted as
survived), ``survived (not covered)`` (no test runs its lines: not run), or ``error``
(anything else: not counted as killed; rerun on resume).

Output: a progress line per mutant on stdout; the markdown table ``--report`` (rewritten
after every mutant, so it shows a run in progress; it says how many tests ran and why)
ending with the line ``killed K of N``; the JSON lines log ``--resume`` (one record per
finished mutant, read back on the next run with the same option: finished mutants whose
definition and tree have not changed are not run again; a result found with the other
``--select`` mode stands too, since the whole suite holds every selected test and a test
that runs no mutated line cannot see the mutation, except a timeout and except a
whole-suite kill by a test that the selection leaves out, which are run again); with
``--outputs DIR``, each pytest output in ``DIR/<id>.txt`` (``coverage.txt`` for the
coverage run). ``--plan`` prints each mutant's selection and runs nothing;
``--coverage-only`` makes the map and stops.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

HERE = Path(__file__).resolve().parent
# the pytest plugin and process hook (mutation_plugin.py), loaded under this name from a
# scratch folder, beside a sitecustomize.py that imports it
PLUGIN = "_jopt_mutation_plugin"
SITECUSTOMIZE = f"import {PLUGIN}\n\n{PLUGIN}.start()\n"
ENV_COVERAGE = "JOPT_MUTATION_COVERAGE"
ENV_SOURCE = "JOPT_MUTATION_SOURCE"
ENV_CONTEXT = "JOPT_MUTATION_CONTEXT"
ENV_KEEP = "JOPT_MUTATION_KEEP"
MAP_VERSION = 1
PACKAGE = "jopt"  # the folder measured by the coverage run
IGNORED = (".git", "__pycache__", "*.egg-info", ".pytest_cache", ".ruff_cache")
BASELINE = "(baseline)"
FINAL = ("killed", "survived", "survived (timeout)", "survived (not covered)")
ID_PATTERN = re.compile(r"^[A-Z][0-9]{2}-[a-z0-9][a-z0-9-]*$")
# lines of pytest's output that show a test failed or errored (collection included)
FAILURE_LINE = re.compile(r"^(FAILED|ERROR) (\S+)")
FAILURE_MARKS = re.compile(r"stopping after|during collection|\b\d+ (failed|errors?)\b")


class MutantLike(Protocol):
    """What the runner reads of a ``mutants.Mutant``."""

    id: str
    what: str
    file: str
    old: str
    new: str


@dataclass
class Outcome:
    result: str  # one of FINAL, or "error"
    exit_code: int | None  # None: timed out
    seconds: float
    first_failure: str
    tail: str


# ------------------------------------------------------------------------ mutants


def load_mutants(path: Path) -> list[MutantLike]:
    """``MUTANTS`` of the module at ``path`` (which imports ``Mutant`` from ``mutants``)."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    spec = importlib.util.spec_from_file_location(f"_mutants_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"run.py: cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    mutants = getattr(module, "MUTANTS", None)
    if not isinstance(mutants, list):
        raise SystemExit(f"run.py: {path} defines no list MUTANTS")
    for i, m in enumerate(mutants):
        for field in ("id", "what", "file", "old", "new"):
            if not isinstance(getattr(m, field, None), str):
                raise SystemExit(f"run.py: MUTANTS[{i}] has no string field {field!r}")
    return mutants


def fingerprint(mutant: MutantLike) -> str:
    text = json.dumps([mutant.file, mutant.old, mutant.new])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def mutated_source(tree: Path, mutant: MutantLike) -> tuple[str | None, str]:
    """(the mutated text of the file, "") or (None, why the mutant is stale)."""
    path = tree / mutant.file
    if not path.is_file():
        return None, f"{mutant.file} does not exist"
    if mutant.old == mutant.new:
        return None, "old and new are the same text"
    if not mutant.old:
        return None, "old is empty"
    source = path.read_text(encoding="utf-8")
    count = source.count(mutant.old)
    if count != 1:
        return None, f"old occurs {count} times in {mutant.file} (must be exactly once)"
    return source.replace(mutant.old, mutant.new), ""


def check_mutants(tree: Path, mutants: Sequence[MutantLike]) -> list[str]:
    """The problems of the mutants against ``tree``, one line each (empty: all good)."""
    problems: list[str] = []
    seen: set[str] = set()
    for m in mutants:
        if m.id in seen:
            problems.append(f"{m.id}: the id is used twice")
        seen.add(m.id)
        if not ID_PATTERN.match(m.id):
            problems.append(f"{m.id}: the id must look like F01-some-slug")
        if not m.what.strip() or "\n" in m.what:
            problems.append(f"{m.id}: what must be one non-empty line")
        source, why = mutated_source(tree, m)
        if source is None:
            problems.append(f"{m.id}: stale: {why}")
            continue
        if m.file.endswith(".py"):
            try:
                compile(source, m.file, "exec")
            except SyntaxError as error:
                problems.append(f"{m.id}: the mutated {m.file} does not compile: {error}")
    return problems


# ------------------------------------------------------------------- copies, runs


def copy_tree(tree: Path, dest: Path) -> Path:
    shutil.copytree(tree, dest, ignore=shutil.ignore_patterns(*IGNORED), symlinks=True)
    return dest


def tree_fingerprint(tree: Path) -> str:
    """A hash of the files a copy of ``tree`` holds (paths and contents)."""
    digest = hashlib.sha256()
    ignore = shutil.ignore_patterns(*IGNORED)
    for folder, dirs, files in os.walk(tree):
        skipped = ignore(folder, dirs + files)
        dirs[:] = sorted(d for d in dirs if d not in skipped)
        for name in sorted(f for f in files if f not in skipped):
            path = Path(folder) / name
            digest.update(path.relative_to(tree).as_posix().encode() + b"\0")
            if path.is_file():
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def environment(
    copy: Path, boot: Path | None = None, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment of a run in ``copy``: its package first on ``PYTHONPATH``, then
    (if given) the folder of the plugin and its ``sitecustomize``, then the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOPT_MUTATION_")}
    before = env.get("PYTHONPATH")
    parts = [str(copy)] + ([str(boot)] if boot is not None else []) + ([before] if before else [])
    env["PYTHONPATH"] = os.pathsep.join(parts)
    env.update(extra or {})
    return env


def make_boot(folder: Path) -> Path:
    """A folder holding the plugin (as ``PLUGIN``) and a ``sitecustomize`` importing it."""
    boot = folder / "boot"
    boot.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(HERE / "mutation_plugin.py", boot / f"{PLUGIN}.py")
    (boot / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    return boot


def run_group(
    cmd: Sequence[str], cwd: Path, env: dict[str, str], timeout: float, log: Path
) -> tuple[int | None, float]:
    """Runs ``cmd`` in a new process group, output to ``log``; (exit code or None if it
    timed out, seconds). The whole group (pytest and its xdist workers) is killed on a
    timeout or an interrupt."""
    start = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            list(cmd), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        code: int | None = None
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        finally:
            # also on a timeout or an interrupt; after a normal exit it ends whatever a
            # test left running in the group
            _kill_group(proc)
    return code, time.monotonic() - start


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def check_import_path(tree: Path, workdir: Path) -> str:
    """Where ``import jopt`` lands in a copy of ``tree``; raises SystemExit if outside it."""
    copy = copy_tree(tree, workdir / "import-check")
    try:
        done = subprocess.run(
            [sys.executable, "-c", "import jopt; print(jopt.__file__)"],
            cwd=copy, env=environment(copy), capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        where = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
        if done.returncode != 0 or not where:
            raise SystemExit(f"run.py: `import jopt` fails in a copy of {tree}:\n{done.stderr}")
        if not Path(where).resolve().is_relative_to(copy.resolve()):
            raise SystemExit(
                f"run.py: in a copy of {tree} at {copy}, `import jopt` imports {where}, "
                "not the copy's package; the results would test the wrong code."
            )
        return where
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def pytest_command(jobs: int, stop_first: bool = True) -> list[str]:
    # The trees' pyproject may already hold ``-n auto -p no:cacheprovider`` in addopts:
    # the later -n wins and a plugin blocked twice stays blocked.
    return [sys.executable, "-m", "pytest", *(["-x"] if stop_first else []), "-q"] + [
        "-p",
        "no:cacheprovider",
        "-n",
        str(jobs),
        "-p",
        "no:randomly",
    ]


def first_failure(output: str) -> str:
    for line in output.splitlines():
        match = FAILURE_LINE.match(line)
        if match:
            return match.group(2)
    for line in output.splitlines():
        if line.startswith("INTERNALERROR"):
            return line[:200]
    return ""


def classify(code: int | None, output: str) -> str:
    if code is None:
        return "survived (timeout)"
    if code == 0:
        return "survived"
    if code == 1:
        return "killed"
    if code in (2, 3):
        # 2: interrupted (xdist's -x stop, a collection error); 3: internal error. The
        # baseline passed with the same command, so tests failing or erroring here are
        # the mutant's doing; without any, it is a harness problem.
        tail = output[-5000:]
        if first_failure(output) or FAILURE_MARKS.search(tail):
            return "killed"
    return "error"


def run_suite(
    tree: Path,
    mutant: MutantLike | None,
    workdir: Path,
    jobs: int,
    timeout: float,
    selection: Sequence[str] | None = None,
) -> tuple[Outcome, str, int | None]:
    """The suite on a copy of ``tree`` (mutated by ``mutant`` unless None), or only the
    tests of ``selection`` (node ids): the outcome, the whole output, and the number of
    selected ids that the run did not collect (0 for the whole suite; None: unknown, as
    when collection failed)."""
    folder = Path(tempfile.mkdtemp(prefix="run-", dir=workdir))
    missing: int | None = 0
    try:
        copy = copy_tree(tree, folder / "tree")
        if mutant is not None:
            source, why = mutated_source(copy, mutant)
            if source is None:
                raise SystemExit(f"run.py: {mutant.id} is stale in the copy: {why}")
            (copy / mutant.file).write_text(source, encoding="utf-8")
        log = folder / "pytest.log"
        if selection is None:
            cmd, env = pytest_command(jobs), environment(copy)
        else:
            # the files of the selected tests are collected, and the plugin keeps the
            # listed node ids (robust to ids that the command line cannot spell)
            keep = folder / "keep.txt"
            keep.write_text("".join(f"{i}\n" for i in selection), encoding="utf-8")
            files = sorted({i.split("::")[0] for i in selection})
            cmd = pytest_command(jobs) + ["-p", PLUGIN, *files]
            env = environment(copy, make_boot(folder), {ENV_KEEP: str(keep)})
        code, seconds = run_group(cmd, copy, env, timeout, log)
        output = log.read_text(encoding="utf-8", errors="replace")
        if selection is not None:
            missing = _missing(folder, len(selection))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result = classify(code, output)
    failure = first_failure(output) if result != "survived" else ""
    return Outcome(result, code, round(seconds, 1), failure, output[-2000:]), output, missing


def _missing(folder: Path, wanted: int) -> int | None:
    """How many kept ids the plugin's pytest processes did not find (the fewest)."""
    counts = []
    for path in folder.glob("keep.txt.*.json"):
        try:
            counts.append(len(json.loads(path.read_text(encoding="utf-8"))["missing"]))
        except (OSError, ValueError, KeyError):
            continue
    return min(counts) if counts else None


def check_imports(tree: Path, mutants: Sequence[MutantLike], workdir: Path) -> int:
    """Imports each mutant's module in a mutated copy; the number that fail."""
    failed = 0
    for m in mutants:
        module = m.file.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
        if not m.file.endswith(".py") or not module.startswith("jopt"):
            print(f"{m.id:<28} skipped (not a module of jopt)", flush=True)
            continue
        folder = Path(tempfile.mkdtemp(prefix="import-", dir=workdir))
        try:
            copy = copy_tree(tree, folder / "tree")
            source, _ = mutated_source(copy, m)
            assert source is not None
            (copy / m.file).write_text(source, encoding="utf-8")
            code = f"import importlib, jopt; importlib.import_module({module!r})"
            done = subprocess.run(
                [sys.executable, "-c", code],
                cwd=copy, env=environment(copy), capture_output=True, text=True, timeout=600,
            )  # fmt: skip
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        ok = done.returncode == 0
        failed += not ok
        last = done.stderr.strip().splitlines()[-1:] if not ok else []
        status = "imports" if ok else "FAILS TO IMPORT"
        print(f"{m.id:<28} {status} {module} {''.join(last)}", flush=True)
    return failed


# ------------------------------------------------------------ the coverage map


def coverage_map_path(args: argparse.Namespace, tree_hash: str) -> Path:
    if args.coverage_map is not None:
        return args.coverage_map.resolve()
    beside = args.resume or args.report
    folder = beside.resolve().parent if beside is not None else Path(tempfile.gettempdir())
    return folder / f"mutation_cov_{tree_hash}.json"


def load_coverage_map(path: Path, tree_hash: str) -> dict[str, Any] | None:
    """The map at ``path`` if it was made from this tree by a run that finished (passing,
    or with failing tests), else None."""
    try:
        cmap = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = isinstance(cmap, dict) and cmap.get("version") == MAP_VERSION
    if not ok or cmap.get("tree") != tree_hash or cmap.get("exit_code") not in (0, 1):
        return None
    return cmap


def build_coverage_map(
    tree: Path,
    tree_hash: str,
    workdir: Path,
    jobs: int,
    timeout: float,
    extra: Sequence[str],
    path: Path,
    outputs: Path | None,
) -> dict[str, Any]:
    """Runs the suite once on a copy of ``tree`` under coverage with per-test contexts
    (see mutation_plugin.py) and writes the map to ``path``, with the run's exit code
    and failing tests: a map whose run had failing tests (exit code 1) is used, with a
    warning (those tests may have stopped before running all their lines); one whose
    run broke otherwise (a collection error, a timeout) is not."""
    try:
        import coverage  # lazily: only this step needs it
    except ModuleNotFoundError:
        raise SystemExit(
            "run.py: the coverage map needs coverage.py (`pip install coverage` into the "
            "environment that runs the tests; a dev tool, not a dependency of jopt), or "
            "run with --select all."
        ) from None
    folder = Path(tempfile.mkdtemp(prefix="coverage-", dir=workdir))
    try:
        copy = copy_tree(tree, folder / "tree")
        data = folder / "data"
        data.mkdir()
        env = environment(
            copy, make_boot(folder), {ENV_COVERAGE: str(data), ENV_SOURCE: str(copy / PACKAGE)}
        )
        cmd = pytest_command(jobs, stop_first=False) + ["-p", PLUGIN, *extra]
        print("coverage run: " + " ".join(["python", *cmd[1:]]), flush=True)
        log = folder / "pytest.log"
        code, seconds = run_group(cmd, copy, env, timeout, log)
        output = log.read_text(encoding="utf-8", errors="replace")
        save_output(outputs, "coverage", output)
        combined = coverage.Coverage(data_file=str(folder / ".coverage"), config_file=False)
        combined.combine([str(data)], keep=True)
        measured = combined.get_data()
        root = os.path.realpath(copy)
        contexts: dict[str, int] = {}
        files: dict[str, dict[str, list[int]]] = {}
        for name in sorted(measured.measured_files()):
            real = os.path.realpath(name)
            if not real.startswith(root + os.sep):
                continue
            rel = Path(os.path.relpath(real, root)).as_posix()
            lines = files.setdefault(rel, {})
            for line, labels in sorted(measured.contexts_by_lineno(name).items()):
                ids = {contexts.setdefault(label, len(contexts)) for label in labels}
                lines[str(line)] = sorted(set(lines.get(str(line), [])) | ids)
        users: dict[str, set[str]] = {}
        for part in data.glob("fixtures.*.json"):
            for key, ids in json.loads(part.read_text(encoding="utf-8")).items():
                users.setdefault(key, set()).update(ids)
        durations: dict[str, float] = {}
        for part in data.glob("durations.*.json"):
            durations.update(json.loads(part.read_text(encoding="utf-8")))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    tail = [line for line in output.splitlines() if line.strip()][-1:]
    failed = sorted({m.group(2) for m in map(FAILURE_LINE.match, output.splitlines()) if m})
    cmap = dict(
        version=MAP_VERSION, tree=tree_hash, tree_dir=str(tree), args=list(extra),
        exit_code=code, seconds=round(seconds, 1), summary="".join(tail), failed=failed,
        command=["python", *cmd[1:]], contexts=list(contexts),
        fixtures={k: sorted(v) for k, v in sorted(users.items())}, files=files,
        durations={k: round(v, 2) for k, v in sorted(durations.items())},
    )  # fmt: skip
    scratch = path.with_name(path.name + ".part")
    scratch.write_text(json.dumps(cmap), encoding="utf-8")
    scratch.replace(path)
    return cmap


@dataclass
class Selection:
    tests: list[str] | None  # None: the whole suite
    reason: str


def _import_time_lines(module: ast.Module) -> set[int]:
    """Lines holding code that runs when the module is imported: module-level statements,
    class bodies, ``def`` lines, decorators, default values and annotations (everything
    outside the bodies of functions and lambdas)."""
    lines: set[int] = set()

    def mark(node: ast.AST) -> None:
        first = getattr(node, "lineno", 0)
        lines.update(range(first, (getattr(node, "end_lineno", None) or first) + 1))

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            if not isinstance(node, ast.Lambda):
                lines.add(node.lineno)
                for child in [*node.decorator_list, node.returns]:
                    if child is not None:
                        mark(child)
            for child in ast.walk(node.args):
                if isinstance(child, ast.expr):
                    mark(child)
            return  # the body runs when called
        if isinstance(node, ast.ClassDef):
            lines.add(node.lineno)
        elif isinstance(node, ast.expr | ast.stmt) and not _compound(node):
            if not any(isinstance(c, ast.Lambda) for c in ast.walk(node)):
                mark(node)
            else:  # keep a lambda's body out; the rest of the statement is marked below
                lines.add(node.lineno)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(module)
    return lines


def _compound(node: ast.AST) -> bool:
    return isinstance(node, ast.stmt) and any(
        isinstance(v, list) and v and isinstance(v[0], ast.stmt) for _, v in ast.iter_fields(node)
    )


def _statement_lines(module: ast.Module, line: int) -> set[int]:
    """``line`` and the first line of the innermost statement holding it (coverage may
    record a statement spread over lines at its first line only)."""
    best: ast.stmt | None = None
    for node in ast.walk(module):
        if isinstance(node, ast.stmt) and node.lineno <= line <= (node.end_lineno or 0):
            if best is None or (node.end_lineno or 0) - node.lineno < (
                (best.end_lineno or 0) - best.lineno
            ):
                best = node
    return {line} if best is None else {line, best.lineno}


def _context_tests(label: str, cmap: dict[str, Any]) -> set[str] | None:
    """The tests that a context stands for; None: it is outside any test."""
    while label.startswith("s|"):  # a subprocess: the context that started it
        label = label[2:]
    if label.startswith("t|"):
        return {label[2:]}
    if label.startswith("f|") and cmap["fixtures"].get(label):
        return set(cmap["fixtures"][label])
    return None


def select_tests(tree: Path, mutant: MutantLike, cmap: dict[str, Any]) -> Selection:
    """The tests to run against ``mutant``: those that ran a line the mutation touches
    in the coverage run; the whole suite when such a line also runs outside tests or at
    import time, or the file is not measured; none (not covered) when no test runs it."""
    if not mutant.file.endswith(".py") or not mutant.file.startswith(PACKAGE + "/"):
        return Selection(None, "not in the measured package: all")
    source = (tree / mutant.file).read_text(encoding="utf-8")
    start = source.index(mutant.old)
    first = source.count("\n", 0, start) + 1
    last = first + mutant.old.rstrip("\n").count("\n")
    span = f"line {first}" if first == last else f"lines {first}-{last}"
    lines_seen = cmap["files"].get(mutant.file)
    if lines_seen is None:
        return Selection([], f"{span}: not covered (the module is never imported)")
    module = ast.parse(source)
    at_import = sorted(_import_time_lines(module) & set(range(first, last + 1)))
    if at_import:
        return Selection(None, f"{span}: import-time code (line {at_import[0]}): all")
    lines: set[int] = set()
    for line in range(first, last + 1):
        lines |= _statement_lines(module, line)
    tests: set[str] = set()
    labels = cmap["contexts"]
    for line in sorted(lines):
        for index in lines_seen.get(str(line), []):
            found = _context_tests(labels[index], cmap)
            if found is None:
                return Selection(None, f"{span}: line {line} also runs outside tests: all")
            tests |= found
    if not tests:
        return Selection([], f"{span}: not covered (no test runs it)")
    return Selection(sorted(tests), f"{span}: covered by {len(tests)} tests")


# --------------------------------------------------------------- log and report


def read_log(path: Path | None) -> dict[str, dict[str, Any]]:
    """The last record of each id in the JSON lines log (a torn last line is skipped)."""
    records: dict[str, dict[str, Any]] = {}
    if path is None or not path.exists():
        return records
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("id"), str):
            records[record["id"]] = record
    return records


def append_log(path: Path | None, record: dict[str, Any]) -> None:
    if path is None:
        return
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _cell(text: Any) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def write_report(
    path: Path | None,
    title: str,
    mutants: Sequence[MutantLike],
    records: dict[str, dict[str, Any]],
) -> str:
    """Writes the markdown report (if ``path``); returns its summary line."""
    done = [records[m.id] for m in mutants if m.id in records]
    killed = sum(r["result"] == "killed" for r in done)
    timeouts = sum(r["result"] == "survived (timeout)" for r in done)
    uncovered = sum(r["result"] == "survived (not covered)" for r in done)
    errors = sum(r["result"] == "error" for r in done)
    summary = f"killed {killed} of {len(mutants)}"
    if len(done) < len(mutants):
        summary = f"killed {killed} of {len(done)} run so far ({len(mutants)} in all)"
    if path is None:
        return summary
    lines = [f"# {title}", ""]
    lines += [
        "| id | what | result | seconds | tests run | selection | first failing test |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in mutants:
        r = records.get(m.id)
        if r is None:
            lines.append(f"| {m.id} | {_cell(m.what)} | not run yet | | | | |")
            continue
        failure = f"`{_cell(r['first_failure'])}`" if r.get("first_failure") else ""
        selected = r.get("selected", "all")
        row = [m.id, _cell(m.what), r["result"], f"{r['seconds']:.0f}", str(selected)]
        row += [_cell(r.get("selection", "whole suite (--select all)")), failure]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    if timeouts or errors or uncovered:
        lines.append(
            f"({timeouts} timed out, counted as survived; {uncovered} not covered by any "
            f"test, survived without a run; {errors} errors, not killed)"
        )
        lines.append("")
    lines.append(summary)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return summary


# ------------------------------------------------------------------------- main


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tree", type=Path, required=True, help="root of the checkout to mutate")
    p.add_argument("--mutants", type=Path, required=True, help="module defining MUTANTS")
    p.add_argument("--only", default="", help="comma-separated ids to run (default: all)")
    p.add_argument("--jobs", type=int, default=2, help="pytest-xdist workers (-n), default 2")
    p.add_argument("--report", type=Path, help="markdown report to write")
    p.add_argument("--resume", type=Path, help="JSON lines log to append to and resume from")
    p.add_argument("--timeout", type=float, default=1500.0, help="seconds per suite run")
    p.add_argument("--no-baseline", action="store_true", help="skip the unmutated run")
    p.add_argument("--outputs", type=Path, help="folder for each run's whole pytest output")
    p.add_argument("--workdir", type=Path, help="where the copies go (default: a temp folder)")
    p.add_argument(
        "--select",
        choices=("coverage", "all"),
        default="coverage",
        help="tests run per mutant: those covering its lines (default), or the whole suite",
    )
    p.add_argument("--coverage-map", type=Path, help="the map's JSON (default: see above)")
    p.add_argument(
        "--coverage-timeout", type=float, default=4 * 3600.0, help="seconds for the coverage run"
    )
    p.add_argument(
        "--coverage-args",
        default="",
        help="extra pytest arguments of the coverage run (space-separated; to try the harness "
        "on part of the suite: a map made so selects from that part only)",
    )
    p.add_argument(
        "--coverage-only", action="store_true", help="make the coverage map if needed, run none"
    )
    p.add_argument(
        "--plan", action="store_true", help="print each mutant's selection (needs the map)"
    )
    p.add_argument(
        "--plan-show", type=int, default=5, help="node ids shown per mutant by --plan (5)"
    )
    p.add_argument("--list", action="store_true", help="check and list the mutants, run none")
    p.add_argument(
        "--check-import", action="store_true", help="import each mutated module, run no tests"
    )
    return p.parse_args(argv)


def select(mutants: Sequence[MutantLike], only: str) -> list[MutantLike]:
    if not only:
        return list(mutants)
    wanted = [s.strip() for s in only.split(",") if s.strip()]
    known = {m.id for m in mutants}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise SystemExit(f"run.py: --only names unknown ids: {', '.join(unknown)}")
    return [m for m in mutants if m.id in wanted]


def progress(name: str, outcome: Outcome, note: str = "") -> None:
    line = f"{name:<28} {outcome.result:<19} {outcome.seconds:7.0f}s  {outcome.first_failure}"
    print(line.rstrip() + (f"  {note}" if note else ""), flush=True)


def save_output(folder: Path | None, name: str, output: str) -> None:
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.txt").write_text(output, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    tree = args.tree.resolve()
    if not (tree / "jopt").is_dir():
        raise SystemExit(f"run.py: {tree} holds no jopt/ package")
    mutants = load_mutants(args.mutants.resolve())
    problems = check_mutants(tree, mutants)
    if problems:
        print(f"run.py: {len(problems)} problem(s) with {args.mutants} against {tree}:")
        print("\n".join(f"  {p}" for p in problems))
        print("Nothing was run.")
        return 2
    chosen = select(mutants, args.only)
    print(f"{len(mutants)} mutants in {args.mutants}, all apply to {tree}; {len(chosen)} chosen")
    if args.list:
        for m in chosen:
            print(f"{m.id:<28} {m.file}: {m.what}")
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="jopt-mutation-", dir=args.workdir))
    try:
        if args.check_import:
            return 1 if check_imports(tree, chosen, workdir) else 0
        return _run(args, tree, chosen, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run(args: argparse.Namespace, tree: Path, chosen: Sequence[MutantLike], workdir: Path) -> int:
    where = check_import_path(tree, workdir)
    print(f"a copy imports its own package ({Path(where).name} inside the copy): ok")
    records = read_log(args.resume)
    tree_hash = tree_fingerprint(tree)
    how = "the tests covering it" if args.select == "coverage" else "the whole suite"
    title = f"Mutation run: {args.mutants.name} against {tree} (tests run per mutant: {how})"

    plans: dict[str, Selection] = {}
    if args.select == "coverage":
        cmap = _coverage_map(args, tree, tree_hash, workdir, records)
        if cmap is None:
            return 2
        if args.coverage_only:
            return 0
        plans = {m.id: select_tests(tree, m, cmap) for m in chosen}
        if args.plan:
            for m in chosen:
                plan = plans[m.id]
                count = "all" if plan.tests is None else len(plan.tests)
                print(f"{m.id:<28} {count!s:>5} {_estimate(plan, cmap)}  {plan.reason}")
                for test in (plan.tests or [])[: args.plan_show]:
                    print(f"{'':<36}{test}")
            return 0
    elif args.plan or args.coverage_only:
        raise SystemExit("run.py: --plan and --coverage-only need --select coverage")
    elif not _baseline(args, tree, tree_hash, workdir, records):
        return 2
    print("command: " + " ".join(["python", *pytest_command(args.jobs)[1:]]), flush=True)

    for m in chosen:
        plan = plans.get(m.id)
        old = records.get(m.id)
        if old and _still_valid(old, m, tree_hash, args.select, plan):
            print(f"{m.id:<28} {old['result']:<19} (from {args.resume.name})", flush=True)
            continue
        missing: int | None = 0
        if plan is not None and plan.tests == []:
            outcome, output = Outcome("survived (not covered)", None, 0.0, "", ""), ""
        else:
            tests = plan.tests if plan is not None else None
            outcome, output, missing = run_suite(tree, m, workdir, args.jobs, args.timeout, tests)
            save_output(args.outputs, m.id, output)
        selected: int | str = "all" if plan is None or plan.tests is None else len(plan.tests)
        note = f"exit code {outcome.exit_code}" if outcome.result == "error" else ""
        note += f" [{selected} tests: {plan.reason}]" if plan is not None else ""
        if missing:
            note += f" ({missing} selected ids not collected)"
        progress(m.id, outcome, note.strip())
        record = dict(
            id=m.id, what=m.what, file=m.file, fingerprint=fingerprint(m), tree=tree_hash,
            result=outcome.result, exit_code=outcome.exit_code, seconds=outcome.seconds,
            first_failure=outcome.first_failure, tail=outcome.tail, select=args.select,
            selected=selected,
            selection=plan.reason if plan is not None else "whole suite (--select all)",
            missing=missing,
        )  # fmt: skip
        append_log(args.resume, record)
        records[m.id] = record
        write_report(args.report, title, chosen, records)

    summary = write_report(args.report, title, chosen, records)
    print(summary, flush=True)
    return 0


def _estimate(plan: Selection, cmap: dict[str, Any]) -> str:
    """The selected tests' seconds in the coverage run (one process; pytest's start-up and
    the speed-up of -x and of xdist not counted), or "" where the map has no durations."""
    durations = cmap.get("durations") or {}
    if not durations:
        return ""
    tests = durations if plan.tests is None else plan.tests
    return f"{sum(durations.get(t, 0.0) for t in tests):7.0f}s"


def _still_valid(
    old: dict[str, Any], m: MutantLike, tree_hash: str, select: str, plan: Selection | None
) -> bool:
    """Whether a logged result of ``m`` stands for this run. A result found with the
    other selection mode stands too (the whole suite holds every selected test, and a
    test that does not run a mutated line cannot see the mutation), except a timeout
    (unless both runs are of the whole suite), and except a whole-suite kill whose
    failing test this selection leaves out."""
    same = old.get("fingerprint") == fingerprint(m) and old.get("tree") == tree_hash
    if not same or old.get("result") not in FINAL:
        return False
    mode = old.get("select", "all")
    whole = plan is None or plan.tests is None  # this run would run the whole suite too
    if mode != select and old["result"] == "survived (timeout)" and not (whole and mode == "all"):
        return False
    if mode == "all" and plan is not None and plan.tests is not None:
        if old["result"] == "killed" and old.get("first_failure") not in plan.tests:
            print(f"{m.id:<28} killed before by a test not selected now: rerun", flush=True)
            return False
    return True


def _coverage_map(
    args: argparse.Namespace,
    tree: Path,
    tree_hash: str,
    workdir: Path,
    records: dict[str, dict[str, Any]],
) -> dict[str, Any] | None:
    """The tree's coverage map, made now if there is none (that run is the baseline)."""
    path = coverage_map_path(args, tree_hash)
    cmap = load_coverage_map(path, tree_hash)
    if cmap is None and args.plan:
        raise SystemExit(f"run.py: no coverage map of this tree at {path}; --coverage-only")
    if cmap is None:
        extra = args.coverage_args.split()
        cmap = build_coverage_map(
            tree, tree_hash, workdir, args.jobs, args.coverage_timeout, extra, path, args.outputs
        )
        passed = cmap["exit_code"] == 0
        outcome = Outcome("passed" if passed else "FAILED", cmap["exit_code"], cmap["seconds"],
                          "", cmap["summary"])  # fmt: skip
        progress(BASELINE + " coverage", outcome, cmap["summary"])
        if not extra:
            append_log(
                args.resume,
                dict(id=BASELINE, result=outcome.result.lower(), tree=tree_hash,
                     exit_code=outcome.exit_code, seconds=outcome.seconds, first_failure="",
                     tail=cmap["summary"], coverage_map=str(path)),
            )  # fmt: skip
        if cmap["exit_code"] != 1 and not passed:
            print(f"run.py: the unmutated tree does not pass under coverage ({path}); stopping")
            return None
    tests = {t for label in cmap["contexts"] for t in (_context_tests(label, cmap) or ())}
    print(f"coverage map {path}: {len(tests)} tests, made in {cmap['seconds']:.0f}s "
          f"({cmap['summary']})", flush=True)  # fmt: skip
    if cmap.get("failed"):
        print(f"  warning: {len(cmap['failed'])} tests failed in the coverage run (they may "
              f"not have run all their lines): {', '.join(cmap['failed'][:5])}")  # fmt: skip
    if cmap["args"]:
        print(f"  made with the extra pytest arguments {cmap['args']}: selects from those only")
    return cmap


def _baseline(
    args: argparse.Namespace,
    tree: Path,
    tree_hash: str,
    workdir: Path,
    records: dict[str, dict[str, Any]],
) -> bool:
    """Runs the unmutated suite unless skipped or logged; whether the run may go on."""
    previous = records.get(BASELINE)
    if args.no_baseline:
        print("baseline skipped (--no-baseline)")
        return True
    if previous and previous.get("result") == "passed" and previous.get("tree") == tree_hash:
        print(f"baseline passed before in {previous['seconds']:.0f}s (same tree): not rerun")
        return True
    outcome, output, _ = run_suite(tree, None, workdir, args.jobs, args.timeout)
    save_output(args.outputs, "baseline", output)
    passed = outcome.exit_code == 0
    outcome.result = "passed" if passed else "FAILED"
    progress(BASELINE, outcome)
    append_log(
        args.resume,
        dict(id=BASELINE, result=outcome.result.lower(), tree=tree_hash,
             exit_code=outcome.exit_code, seconds=outcome.seconds,
             first_failure=outcome.first_failure, tail=outcome.tail),
    )  # fmt: skip
    if not passed:
        print("run.py: the unmutated tree does not pass; stopping (output tail):")
        print(outcome.tail)
    return passed


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("run.py: interrupted", file=sys.stderr)
        sys.exit(130)
