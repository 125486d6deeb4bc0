"""jopt: functional, optax-compatible optimizer transforms for JAX.

Every optimizer is an ``optax.GradientTransformationExtraArgs``: compose it with
``optax.chain``, apply it with ``optax.apply_updates``, hand it to Flax.
"""

from importlib.metadata import PackageNotFoundError, version

from jopt import compat as compat
from jopt import schedules as schedules
from jopt import sharding as sharding
from jopt import testing as testing
from jopt._adagrad import ScaleByAdagradState as ScaleByAdagradState
from jopt._adagrad import adagrad as adagrad
from jopt._adagrad import scale_by_adagrad as scale_by_adagrad
from jopt._adam import ScaleByAdamState as ScaleByAdamState
from jopt._adam import ScaleByAmsgradState as ScaleByAmsgradState
from jopt._adam import adam as adam
from jopt._adam import adamw as adamw
from jopt._adam import scale_by_adam as scale_by_adam
from jopt._adam import scale_by_amsgrad as scale_by_amsgrad
from jopt._base import ScaleByLearningRateState as ScaleByLearningRateState
from jopt._base import ScaleByScheduleState as ScaleByScheduleState
from jopt._base import Schedule as Schedule
from jopt._base import get_learning_rate as get_learning_rate
from jopt._base import scale_by_learning_rate as scale_by_learning_rate
from jopt._minibatch import minibatch_indices as minibatch_indices
from jopt._momentum import ScaleByMomentumState as ScaleByMomentumState
from jopt._momentum import gd as gd
from jopt._momentum import momentum as momentum
from jopt._momentum import nesterov as nesterov
from jopt._momentum import scale_by_momentum as scale_by_momentum
from jopt._momentum import scale_by_nesterov as scale_by_nesterov
from jopt._plateau import ReduceLROnPlateauState as ReduceLROnPlateauState
from jopt._plateau import reduce_lr_on_plateau as reduce_lr_on_plateau
from jopt._rmsprop import ScaleByRmsState as ScaleByRmsState
from jopt._rmsprop import ScaleByStddevState as ScaleByStddevState
from jopt._rmsprop import rmsprop as rmsprop
from jopt._rmsprop import scale_by_rms as scale_by_rms
from jopt._rmsprop import scale_by_stddev as scale_by_stddev
from jopt._sgd import ScaleByCountedTraceState as ScaleByCountedTraceState
from jopt._sgd import ScaleByTraceState as ScaleByTraceState
from jopt._sgd import scale_by_trace as scale_by_trace
from jopt._sgd import sgd as sgd
from jopt._weight_decay import AddDecayedWeightsState as AddDecayedWeightsState
from jopt._weight_decay import add_decayed_weights as add_decayed_weights
from jopt._weight_decay import decoupled_weight_decay as decoupled_weight_decay

try:
    __version__ = version("jopt")
except PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0.0.0"

__all__ = [
    "AddDecayedWeightsState",
    "ReduceLROnPlateauState",
    "ScaleByAdagradState",
    "ScaleByAdamState",
    "ScaleByAmsgradState",
    "ScaleByCountedTraceState",
    "ScaleByLearningRateState",
    "ScaleByMomentumState",
    "ScaleByRmsState",
    "ScaleByScheduleState",
    "ScaleByStddevState",
    "ScaleByTraceState",
    "Schedule",
    "adagrad",
    "adam",
    "adamw",
    "add_decayed_weights",
    "compat",
    "decoupled_weight_decay",
    "gd",
    "get_learning_rate",
    "minibatch_indices",
    "momentum",
    "nesterov",
    "reduce_lr_on_plateau",
    "rmsprop",
    "scale_by_adagrad",
    "scale_by_adam",
    "scale_by_amsgrad",
    "scale_by_learning_rate",
    "scale_by_momentum",
    "scale_by_nesterov",
    "scale_by_rms",
    "scale_by_stddev",
    "scale_by_trace",
    "schedules",
    "sgd",
    "sharding",
    "testing",
]
