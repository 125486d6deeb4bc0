"""The shape of a seeded mutation, shared by every mutants file in this folder.

A mutants file (``mutants_<commit>.py``) is a plain Python module defining ``MUTANTS``,
a list of :class:`Mutant`; ``run.py`` reads it (see its docstring for the command line).
Each mutant is one plausible bug planted in the library by a text replacement:

- ``id``: short and unique, a letter for the kind and a number, then a slug, e.g.
  ``F01-adam-bias1`` (F: a formula, C: a check of the arguments, S: state handling).
- ``what``: one line saying what the bug does, in terms of the behaviour (the rule that
  is broken), not of the code, so that the same bug can be planted again in a
  restructured tree whose files and names differ. Two mutants files of two trees are
  compared id by id, so the same bug keeps its id.
- ``file``: the path, relative to the tree's root, of the file to change.
- ``old``: text that occurs exactly once in that file (``run.py`` refuses to run a
  file with a mutant whose ``old`` is missing or repeated: a stale mutant).
- ``new``: what replaces it. The result must still import and must behave differently
  from the original for some input (no equivalent mutants).

How a mutant is judged (the same on every tree, so that two trees' counts compare):
``run.py`` plants it in a copy of the tree and runs, by default, the tests that cover
the lines of ``old`` in that tree: each tree's whole suite runs once under coverage.py
with one context per test, and a mutant runs the tests that ran one of its lines (the
whole suite when a line is import-time code or also runs outside tests; none, and the
mutant survives, when no test runs it). ``--select all`` runs the whole suite for every
mutant instead. ``run.py``'s docstring has the details and the known limits.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    """One seeded bug: replace ``old`` (exactly once in ``file``) by ``new``."""

    id: str
    what: str
    file: str
    old: str
    new: str
