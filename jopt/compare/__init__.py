"""``jopt-compare``: the deck's optimizer study in one command.

Every optimizer × learning rate × schedule × seed of a problem runs as one jit-compiled
program per optimizer family (vmapped ``lax.scan`` loops); the command writes
``DIR/report.md`` and PNG figures and prints a summary table. ``--problem module:function``
runs the same study on a ``Task`` of your own. The core ``jopt`` package never imports this
module (its extra dependencies: ``pip install "jopt[examples]"``).
"""

from jopt.compare._cli import main as main
from jopt.compare._task import Task as Task

__all__ = ["Task", "main"]
