"""dadaptation 3.2's optimizers: the same names, arguments, defaults, checks and steps.

``jopt.compat.dadaptation.DAdaptAdam()`` (and ``DAdaptSGD``, ``DAdaptAdaGrad``,
``DAdaptLion``, ``DAdaptAdan``) follows the class of that name step for step, including
the evolution of its global estimate d (tests/compat/dadaptation, in lockstep). Neither
torch nor dadaptation is imported. Notation: γ the learning rate, d the estimate, g the
gradient, θ the parameters, k = 0, 1, … the steps taken.
"""

from jopt._algorithms.dadapt.dadapt_adam import DAdaptAdamWState as DAdaptAdamWState
from jopt.compat.dadaptation._presets import DAdaptAdam as DAdaptAdam

__all__ = ["DAdaptAdam", "DAdaptAdamWState"]
