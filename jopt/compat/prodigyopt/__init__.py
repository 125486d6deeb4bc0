"""prodigyopt 1.1.2's ``Prodigy``: the same arguments, defaults, checks and steps.

``jopt.compat.prodigyopt.Prodigy()`` follows ``prodigyopt.Prodigy`` step for step,
including the evolution of its global estimate d (tests/compat/prodigyopt, in lockstep).
It is :func:`jopt.prodigy` with prodigyopt's argument names; neither torch nor prodigyopt
is imported. Notation: γ the learning rate, d the estimate, g the gradient, θ the
parameters, k = 0, 1, … the steps taken.
"""

from jopt._algorithms.dadapt.prodigy import ProdigyState as ProdigyState
from jopt.compat.prodigyopt._prodigy import Prodigy as Prodigy

__all__ = ["Prodigy"]
