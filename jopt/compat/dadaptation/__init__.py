"""dadaptation 3.2's optimizers: the same names, arguments, defaults, checks and steps.

``jopt.compat.dadaptation.DAdaptAdam()`` (and ``DAdaptSGD``, ``DAdaptAdaGrad``,
``DAdaptLion``, ``DAdaptAdan``) follows the class of that name step for step, including
the evolution of its global estimate d (tests/compat/dadaptation, in lockstep). Neither
torch nor dadaptation is imported. Notation: γ the learning rate, d the estimate, g the
gradient, θ the parameters, k = 0, 1, … the steps taken.
"""

from jopt._algorithms.dadapt.dadapt_adagrad import DAdaptAdaGradState as DAdaptAdaGradState
from jopt._algorithms.dadapt.dadapt_adam import DAdaptAdamWState as DAdaptAdamWState
from jopt._algorithms.dadapt.dadapt_adan import DAdaptAdanState as DAdaptAdanState
from jopt._algorithms.dadapt.dadapt_lion import DAdaptLionState as DAdaptLionState
from jopt._algorithms.dadapt.dadapt_sgd import DAdaptSGDState as DAdaptSGDState
from jopt.compat.dadaptation._presets import DAdaptAdaGrad as DAdaptAdaGrad
from jopt.compat.dadaptation._presets import DAdaptAdam as DAdaptAdam
from jopt.compat.dadaptation._presets import DAdaptAdan as DAdaptAdan
from jopt.compat.dadaptation._presets import DAdaptLion as DAdaptLion
from jopt.compat.dadaptation._presets import DAdaptSGD as DAdaptSGD

__all__ = [
    "DAdaptAdaGrad",
    "DAdaptAdaGradState",
    "DAdaptAdam",
    "DAdaptAdan",
    "DAdaptAdanState",
    "DAdaptLion",
    "DAdaptLionState",
    "DAdaptSGD",
    "DAdaptSGDState",
]
