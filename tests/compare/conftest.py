"""Fixtures of the jopt-compare tests: the valley's runs at the tests' size of the study
(tests/support/study.py), and the check that a bad command line is one line on stderr and
exit code 2."""

from __future__ import annotations

import pytest

from jopt.compare import main
from jopt.compare._optimizers import OPTIMIZERS
from jopt.compare._problems import PROBLEMS, run
from tests.support.study import SEED, SEEDS, STEPS


@pytest.fixture(scope="session")
def valley():
    """Every deck optimizer on ``valley`` (one grouped program), as the fast run has it."""
    return run(PROBLEMS["valley"], dict(OPTIMIZERS), STEPS, SEEDS, SEED)


@pytest.fixture
def main_fails(capsys):
    """``main(args)`` must exit 2 with one line on stderr, ``jopt-compare: …``; returns it."""

    def fails(args: list[str]) -> str:
        with pytest.raises(SystemExit) as exc:
            main(args)
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("jopt-compare: ") and err.count("\n") == 1, err
        return err

    return fails
