"""``jopt-compare``: the deck's optimizer study in one command.

Every optimizer × learning rate (× seed) of a problem runs as one jit-compiled program of
vmapped ``lax.scan`` loops; the command writes ``DIR/report.md`` and PNG figures and prints
a summary table. The core ``jopt`` package never imports this module (its extra
dependencies: ``pip install "jopt[examples]"``).
"""

from jopt.compare._cli import main as main

__all__ = ["main"]
