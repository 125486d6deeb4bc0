"""The pytest plugin and process hook of ``run.py`` (a dev tool; no test lives here).

``run.py`` copies this file into a scratch folder as ``_jopt_mutation_plugin.py``, next to
a ``sitecustomize.py`` that imports it, puts that folder on ``PYTHONPATH`` and loads it
with ``-p _jopt_mutation_plugin``. Importing it does nothing unless run.py's environment
variables are set, so pytest's doctest collection of this folder is harmless.

Two jobs:

**Coverage map** (``JOPT_MUTATION_COVERAGE`` = a folder for data files). Every Python
process started with that variable (pytest, its xdist workers, and any Python subprocess
a test starts: they inherit ``PYTHONPATH``) starts ``coverage`` at interpreter start-up,
measuring the package folder ``JOPT_MUTATION_SOURCE``. In pytest processes the plugin
switches coverage's dynamic context:

- ``""`` outside any test: imports, collection (module-level code, class bodies,
  decorators, default values) and the gaps between tests;
- ``t|<node id>`` from the start of a test's setup to the end of its teardown;
- ``f|<scope>|<base id>|<name>`` while a fixture of a scope wider than ``function`` is
  being set up (its value is then used by every test that requests it: run.py selects
  all of those, from the users map this plugin writes beside the data);
- a subprocess started while the context was ``C`` records everything under ``s|C``.

Before each test it empties JAX's trace and compile caches and the ``functools`` caches
of jopt's modules, so that the lines a test runs are traced again in that test (without
it, a jitted function traced by an earlier test with the same shapes would not run its
Python lines again, and the later test would not be credited). It also records each
test's duration (for the estimates of run.py's ``--plan``).

**Keep list** (``JOPT_MUTATION_KEEP`` = a file of node ids, one a line). After
collection only the listed tests are kept (the others are deselected); each pytest
process writes ``<file>.<pid>.json`` with the numbers kept and the ids it did not find.

PYTEST_DONT_REWRITE: sitecustomize imports this module before pytest starts, so pytest
cannot rewrite its asserts (it has none) and must not warn that it cannot.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import warnings
from typing import Any

from pluggy import HookimplMarker  # what pytest.hookimpl is; light, no pytest import

ENV_COVERAGE = "JOPT_MUTATION_COVERAGE"
ENV_SOURCE = "JOPT_MUTATION_SOURCE"
ENV_CONTEXT = "JOPT_MUTATION_CONTEXT"
ENV_KEEP = "JOPT_MUTATION_KEEP"

_cov: Any = None  # the coverage.Coverage of this process, if measuring
_users: dict[str, set[str]] = {}  # fixture key -> node ids that request it
_durations: dict[str, float] = {}  # node id -> seconds (setup + call + teardown)
hookimpl = HookimplMarker("pytest")
QUIET = ("no-data-collected", "module-not-measured", "module-not-imported", "no-ctracer")


def start() -> None:
    """Starts coverage in this process if run.py asked for it (``sitecustomize`` calls
    this at interpreter start-up, in every process that inherits the environment)."""
    global _cov
    folder = os.environ.get(ENV_COVERAGE)
    if not folder or _cov is not None:
        return
    import coverage  # lazily: only the coverage run needs it

    parent = os.environ.get(ENV_CONTEXT)  # set: this is a subprocess started by a test
    _cov = coverage.Coverage(
        data_file=os.path.join(folder, ".coverage"),
        data_suffix=True,
        config_file=False,
        source=[os.environ[ENV_SOURCE]],
        context=f"s|{parent}" if parent is not None else None,
    )
    # a process that never imports jopt (a tool a test starts) has nothing to report;
    # coverage's warnings would be errors under the suite's filterwarnings = error
    _cov.set_option("run:disable_warnings", list(QUIET))
    _cov.start()
    atexit.register(_save)


def _save() -> None:
    global _cov
    if _cov is not None:
        cov, _cov = _cov, None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cov.stop()
            cov.save()


def _switch(context: str) -> None:
    os.environ[ENV_CONTEXT] = context
    if _cov is not None:
        _cov.switch_context(context)


def _clear_caches() -> None:
    jax = sys.modules.get("jax")
    if jax is not None:
        jax.clear_caches()
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "jopt" or name.startswith("jopt.")):
            continue
        for value in list(vars(module).values()):
            clear = getattr(value, "cache_clear", None)
            if callable(clear):
                try:
                    clear()
                except TypeError:  # not a functools cache
                    pass


def _fixture_key(fixturedef: Any) -> str:
    return f"f|{fixturedef.scope}|{fixturedef.baseid}|{fixturedef.argname}"


# ------------------------------------------------------------------- pytest hooks


@hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: Any, config: Any, items: list[Any]) -> None:
    keep_file = os.environ.get(ENV_KEEP)
    if keep_file:
        with open(keep_file, encoding="utf-8") as f:
            wanted = {line.rstrip("\n") for line in f if line.strip()}
        kept = [i for i in items if i.nodeid in wanted]
        dropped = [i for i in items if i.nodeid not in wanted]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = kept
        missing = sorted(wanted - {i.nodeid for i in kept})
        with open(f"{keep_file}.{os.getpid()}.json", "w", encoding="utf-8") as f:
            json.dump({"wanted": len(wanted), "kept": len(kept), "missing": missing}, f)
    if _cov is not None:
        for item in items:
            info = getattr(item, "_fixtureinfo", None)
            for name in getattr(item, "fixturenames", ()):
                defs = info.name2fixturedefs.get(name) if info is not None else None
                if defs and defs[-1].scope != "function":
                    _users.setdefault(_fixture_key(defs[-1]), set()).add(item.nodeid)


@hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: Any, nextitem: Any) -> None:
    if _cov is not None:
        _clear_caches()
        _switch(f"t|{item.nodeid}")


def pytest_runtest_logreport(report: Any) -> None:
    if _cov is not None:
        _durations[report.nodeid] = _durations.get(report.nodeid, 0.0) + report.duration


@hookimpl(trylast=True)
def pytest_runtest_logfinish(nodeid: str, location: Any) -> None:
    if _cov is not None:
        _switch("")


@hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: Any, request: Any) -> Any:
    if _cov is None or fixturedef.scope == "function":
        return (yield)
    previous = os.environ.get(ENV_CONTEXT, "")
    _switch(_fixture_key(fixturedef))
    try:
        return (yield)
    finally:
        _switch(previous)


def pytest_unconfigure(config: Any) -> None:
    folder = os.environ.get(ENV_COVERAGE)
    if _cov is None or not folder:
        return
    users = {key: sorted(ids) for key, ids in _users.items()}
    with open(os.path.join(folder, f"fixtures.{os.getpid()}.json"), "w", encoding="utf-8") as f:
        json.dump(users, f)
    if _durations:
        path = os.path.join(folder, f"durations.{os.getpid()}.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(_durations, f)
    _save()
