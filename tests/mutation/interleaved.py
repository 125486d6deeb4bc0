"""A mutants file's MUTANTS reordered F, C, S round robin, so that any prefix of a run holds
formula, check and state mutants alike (the order of the runs in results/)::

    JOPT_MUTANTS=tests/mutation/mutants_after.py \
        python tests/mutation/run.py --tree . --mutants tests/mutation/interleaved.py
"""

import importlib.util
import os

MUTANTS: list = []
_source: list = []
if os.environ.get("JOPT_MUTANTS"):  # (pytest's doctest collection imports this file bare)
    _spec = importlib.util.spec_from_file_location("_interleaved", os.environ["JOPT_MUTANTS"])
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_module)
    _source = _module.MUTANTS
_by_kind = {k: [m for m in _source if m.id[0] == k] for k in "FCS"}
while any(_by_kind.values()):
    for _kind in "FCS":
        if _by_kind[_kind]:
            MUTANTS.append(_by_kind[_kind].pop(0))
