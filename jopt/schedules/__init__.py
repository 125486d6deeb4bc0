"""Step-size schedules: pure functions ``count -> learning rate``, PyTorch's family.

``count`` is the number of updates already applied, so ``schedule(k)`` is the rate
PyTorch uses at its k-th ``optimizer.step()`` under ``opt.step(); sched.step()``.
Every schedule is jittable with a traced count, works under ``vmap`` over counts and
over its float hyperparameters, and is accepted as ``learning_rate`` by jopt's and
optax's optimizers. A real count (``k / iters_per_epoch``) evaluates a schedule between
steps (all but :func:`multiplicative_lr`, a product over steps, which jopt's optimizers
advance from their last rate in O(1) per update). The momentum halves of
``CyclicLR`` and ``OneCycleLR`` (:func:`cyclic_momentum`, :func:`one_cycle_momentum`)
are schedules for ``momentum`` or ``betas[0]``. Invalid configuration raises
``TypeError`` or ``ValueError`` at construction, naming the call and the argument.
"""

from __future__ import annotations

from jopt.schedules._compose import chained_lr as chained_lr
from jopt.schedules._compose import sequential_lr as sequential_lr
from jopt.schedules._cosine import cosine_annealing_lr as cosine_annealing_lr
from jopt.schedules._cosine import cosine_annealing_warm_restarts as cosine_annealing_warm_restarts
from jopt.schedules._cyclic import cyclic_lr as cyclic_lr
from jopt.schedules._cyclic import cyclic_momentum as cyclic_momentum
from jopt.schedules._lambda import lambda_lr as lambda_lr
from jopt.schedules._lambda import multiplicative_lr as multiplicative_lr
from jopt.schedules._one_cycle import one_cycle_lr as one_cycle_lr
from jopt.schedules._one_cycle import one_cycle_momentum as one_cycle_momentum
from jopt.schedules._step import constant_lr as constant_lr
from jopt.schedules._step import exponential_lr as exponential_lr
from jopt.schedules._step import inverse_time_decay as inverse_time_decay
from jopt.schedules._step import linear_lr as linear_lr
from jopt.schedules._step import multi_step_lr as multi_step_lr
from jopt.schedules._step import polynomial_lr as polynomial_lr
from jopt.schedules._step import step_lr as step_lr
from jopt.schedules._swa import swalr as swalr

__all__ = [
    "chained_lr",
    "constant_lr",
    "cosine_annealing_lr",
    "cosine_annealing_warm_restarts",
    "cyclic_lr",
    "cyclic_momentum",
    "exponential_lr",
    "inverse_time_decay",
    "lambda_lr",
    "linear_lr",
    "multi_step_lr",
    "multiplicative_lr",
    "one_cycle_lr",
    "one_cycle_momentum",
    "polynomial_lr",
    "sequential_lr",
    "step_lr",
    "swalr",
]
