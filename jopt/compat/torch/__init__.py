"""``torch.optim`` presets: PyTorch's argument names, defaults, checks and arithmetic.

Each factory returns an ``optax.GradientTransformationExtraArgs`` composed of jopt
primitives that reproduces ``torch.optim.<Name>`` step for step (PyTorch 2.13; see
docs/parity.md for the measured differences). ``lr`` may be a number, a JAX scalar or
a schedule ``count -> lr`` evaluated at the number of updates already applied, which
is the learning rate PyTorch uses under ``opt.step(); scheduler.step()``.
``foreach``, ``fused``, ``capturable`` and ``differentiable`` are accepted and ignored:
in PyTorch they choose a kernel, not the numbers. Complex parameters are updated through
their real view, as PyTorch does.
Every preset but ``LBFGS`` also takes ``param_groups=`` and ``lr_scheduler=`` (a function
``base_lr -> schedule``, a list with one per group, or :func:`ReduceLROnPlateau`).
:func:`load_state_dict` and :func:`state_dict` move an optimizer's checkpoint in and out
of PyTorch (``optimizer.state_dict()``), :func:`scheduler_state_dict` and
``load_state_dict(..., scheduler_state_dict=)`` its scheduler's.
Notation: α the learning rate, g the gradient, θ the parameters, t = 1, 2, … the step.
"""

from jopt.compat.torch._adam import Adam as Adam
from jopt.compat.torch._adam import Adamax as Adamax
from jopt.compat.torch._adam import AdamW as AdamW
from jopt.compat.torch._adam import NAdam as NAdam
from jopt.compat.torch._adam import RAdam as RAdam
from jopt.compat.torch._adaptive import Adadelta as Adadelta
from jopt.compat.torch._adaptive import Adagrad as Adagrad
from jopt.compat.torch._adaptive import RMSprop as RMSprop
from jopt.compat.torch._amp import GradScaler as GradScaler
from jopt.compat.torch._amp import GradScalerState as GradScalerState
from jopt.compat.torch._averaging import ASGD as ASGD
from jopt.compat.torch._checkpoint import load_state_dict as load_state_dict
from jopt.compat.torch._checkpoint import state_dict as state_dict
from jopt.compat.torch._groups import PlateauScheduler as PlateauScheduler
from jopt.compat.torch._groups import ReduceLROnPlateau as ReduceLROnPlateau
from jopt.compat.torch._lbfgs import LBFGS as LBFGS
from jopt.compat.torch._lbfgs import LbfgsState as LbfgsState
from jopt.compat.torch._matrix import Adafactor as Adafactor
from jopt.compat.torch._matrix import Muon as Muon
from jopt.compat.torch._scheduler_state import scheduler_state_dict as scheduler_state_dict
from jopt.compat.torch._sgd import SGD as SGD
from jopt.compat.torch._sign import Rprop as Rprop
from jopt.compat.torch._sparse_adam import SparseAdam as SparseAdam

__all__ = [
    "SGD",
    "Adagrad",
    "RMSprop",
    "Adam",
    "AdamW",
    "Adadelta",
    "Adamax",
    "NAdam",
    "RAdam",
    "Adafactor",
    "Muon",
    "ASGD",
    "Rprop",
    "LBFGS",
    "SparseAdam",
    "LbfgsState",
    "GradScaler",
    "GradScalerState",
    "ReduceLROnPlateau",
    "PlateauScheduler",
    "load_state_dict",
    "state_dict",
    "scheduler_state_dict",
]
