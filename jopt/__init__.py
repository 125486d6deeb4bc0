"""jopt: functional, optax-compatible optimizer transforms for JAX.

Every optimizer is an ``optax.GradientTransformationExtraArgs``: compose it with
``optax.chain``, apply it with ``optax.apply_updates``, hand it to Flax.
"""

from importlib.metadata import PackageNotFoundError, version

from jopt import compat as compat
from jopt import schedules as schedules
from jopt import sharding as sharding
from jopt import testing as testing
from jopt._algorithms.adam.adam import ScaleByAdamState as ScaleByAdamState
from jopt._algorithms.adam.adam import ScaleByAmsgradState as ScaleByAmsgradState
from jopt._algorithms.adam.adam import adam as adam
from jopt._algorithms.adam.adam import adamw as adamw
from jopt._algorithms.adam.adam import scale_by_adam as scale_by_adam
from jopt._algorithms.adam.adam import scale_by_amsgrad as scale_by_amsgrad
from jopt._algorithms.adam.adamax import ScaleByAdamaxState as ScaleByAdamaxState
from jopt._algorithms.adam.adamax import adamax as adamax
from jopt._algorithms.adam.adamax import scale_by_adamax as scale_by_adamax
from jopt._algorithms.adam.nadam import ScaleByNadamState as ScaleByNadamState
from jopt._algorithms.adam.nadam import nadam as nadam
from jopt._algorithms.adam.nadam import scale_by_nadam as scale_by_nadam
from jopt._algorithms.adam.radam import radam as radam
from jopt._algorithms.adam.radam import scale_by_radam as scale_by_radam
from jopt._algorithms.adaptive.adadelta import ScaleByAdadeltaState as ScaleByAdadeltaState
from jopt._algorithms.adaptive.adadelta import adadelta as adadelta
from jopt._algorithms.adaptive.adadelta import scale_by_adadelta as scale_by_adadelta
from jopt._algorithms.adaptive.adagrad import ScaleByAdagradState as ScaleByAdagradState
from jopt._algorithms.adaptive.adagrad import adagrad as adagrad
from jopt._algorithms.adaptive.adagrad import scale_by_adagrad as scale_by_adagrad
from jopt._algorithms.adaptive.rmsprop import ScaleByRmsState as ScaleByRmsState
from jopt._algorithms.adaptive.rmsprop import ScaleByStddevState as ScaleByStddevState
from jopt._algorithms.adaptive.rmsprop import rmsprop as rmsprop
from jopt._algorithms.adaptive.rmsprop import scale_by_rms as scale_by_rms
from jopt._algorithms.adaptive.rmsprop import scale_by_stddev as scale_by_stddev
from jopt._algorithms.averaging.asgd import asgd as asgd
from jopt._algorithms.averaging.average import AsgdAverageState as AsgdAverageState
from jopt._algorithms.averaging.average import AveragedParamsState as AveragedParamsState
from jopt._algorithms.averaging.average import averaged_params as averaged_params
from jopt._algorithms.averaging.average import swa as swa
from jopt._algorithms.control.plateau import ReduceLROnPlateauState as ReduceLROnPlateauState
from jopt._algorithms.control.plateau import reduce_lr_on_plateau as reduce_lr_on_plateau
from jopt._algorithms.layerwise.lamb import lamb as lamb
from jopt._algorithms.layerwise.lamb import scale_by_trust_ratio as scale_by_trust_ratio
from jopt._algorithms.matrix.adafactor import FactoredSecondMoment as FactoredSecondMoment
from jopt._algorithms.matrix.adafactor import ScaleByAdafactorState as ScaleByAdafactorState
from jopt._algorithms.matrix.adafactor import adafactor as adafactor
from jopt._algorithms.matrix.adafactor import scale_by_adafactor as scale_by_adafactor
from jopt._algorithms.matrix.galore import GaLoreDimensionNumbers as GaLoreDimensionNumbers
from jopt._algorithms.matrix.galore import GaLoreState as GaLoreState
from jopt._algorithms.matrix.galore import galore as galore
from jopt._algorithms.matrix.galore import scale_by_galore as scale_by_galore
from jopt._algorithms.matrix.muon import muon as muon
from jopt._algorithms.matrix.muon import scale_by_muon as scale_by_muon
from jopt._algorithms.precision.kahan import KahanSummationState as KahanSummationState
from jopt._algorithms.precision.kahan import kahan_summation as kahan_summation
from jopt._algorithms.precision.stochastic_rounding import (
    StochasticRoundingState as StochasticRoundingState,
)
from jopt._algorithms.precision.stochastic_rounding import (
    stochastic_rounding as stochastic_rounding,
)
from jopt._algorithms.proximal.ftrl import ScaleByFtrlState as ScaleByFtrlState
from jopt._algorithms.proximal.ftrl import scale_by_ftrl as scale_by_ftrl
from jopt._algorithms.regularization.weight_decay import (
    AddDecayedWeightsState as AddDecayedWeightsState,
)
from jopt._algorithms.regularization.weight_decay import add_decayed_weights as add_decayed_weights
from jopt._algorithms.regularization.weight_decay import (
    decoupled_weight_decay as decoupled_weight_decay,
)
from jopt._algorithms.second_order.lbfgs import ScaleByLBFGSState as ScaleByLBFGSState
from jopt._algorithms.second_order.lbfgs import lbfgs as lbfgs
from jopt._algorithms.second_order.lbfgs import scale_by_lbfgs as scale_by_lbfgs
from jopt._algorithms.second_order.linesearch import (
    ScaleByZoomLinesearchState as ScaleByZoomLinesearchState,
)
from jopt._algorithms.second_order.linesearch import ZoomLinesearchInfo as ZoomLinesearchInfo
from jopt._algorithms.second_order.linesearch import (
    scale_by_zoom_linesearch as scale_by_zoom_linesearch,
)
from jopt._algorithms.second_order.sophia import HutchinsonState as HutchinsonState
from jopt._algorithms.second_order.sophia import SophiaState as SophiaState
from jopt._algorithms.second_order.sophia import (
    hutchinson_estimator_diag_hessian as hutchinson_estimator_diag_hessian,
)
from jopt._algorithms.second_order.sophia import scale_by_sophia as scale_by_sophia
from jopt._algorithms.second_order.sophia import sophia as sophia
from jopt._algorithms.sgd.momentum import ScaleByMomentumState as ScaleByMomentumState
from jopt._algorithms.sgd.momentum import gd as gd
from jopt._algorithms.sgd.momentum import momentum as momentum
from jopt._algorithms.sgd.momentum import nesterov as nesterov
from jopt._algorithms.sgd.momentum import scale_by_momentum as scale_by_momentum
from jopt._algorithms.sgd.momentum import scale_by_nesterov as scale_by_nesterov
from jopt._algorithms.sgd.sgd import ScaleByCountedTraceState as ScaleByCountedTraceState
from jopt._algorithms.sgd.sgd import ScaleByTraceState as ScaleByTraceState
from jopt._algorithms.sgd.sgd import scale_by_trace as scale_by_trace
from jopt._algorithms.sgd.sgd import sgd as sgd
from jopt._algorithms.sharpness.sam import SAMState as SAMState
from jopt._algorithms.sharpness.sam import normalize as normalize
from jopt._algorithms.sharpness.sam import sam as sam
from jopt._algorithms.sign.lion import ScaleByLionState as ScaleByLionState
from jopt._algorithms.sign.lion import lion as lion
from jopt._algorithms.sign.lion import scale_by_lion as scale_by_lion
from jopt._algorithms.sign.rprop import ScaleByRpropState as ScaleByRpropState
from jopt._algorithms.sign.rprop import rprop as rprop
from jopt._algorithms.sign.rprop import scale_by_rprop as scale_by_rprop
from jopt._core.chain import chain as chain
from jopt._core.hyperparams import Schedule as Schedule
from jopt._core.learning_rate import ScaleByLearningRateState as ScaleByLearningRateState
from jopt._core.learning_rate import ScaleByScheduleState as ScaleByScheduleState
from jopt._core.learning_rate import get_learning_rate as get_learning_rate
from jopt._core.learning_rate import scale_by_learning_rate as scale_by_learning_rate
from jopt._core.moments import QuantizedFormat as QuantizedFormat
from jopt._core.moments import QuantizedMoment as QuantizedMoment
from jopt._core.moments import quantized as quantized
from jopt._minibatch import minibatch_indices as minibatch_indices

try:
    __version__ = version("jopt")
except PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0.0.0"

__all__ = [
    "AddDecayedWeightsState",
    "AsgdAverageState",
    "AveragedParamsState",
    "FactoredSecondMoment",
    "GaLoreDimensionNumbers",
    "GaLoreState",
    "HutchinsonState",
    "KahanSummationState",
    "QuantizedFormat",
    "QuantizedMoment",
    "ReduceLROnPlateauState",
    "SAMState",
    "ScaleByAdadeltaState",
    "ScaleByAdafactorState",
    "ScaleByAdagradState",
    "ScaleByAdamState",
    "ScaleByAdamaxState",
    "ScaleByAmsgradState",
    "ScaleByCountedTraceState",
    "ScaleByFtrlState",
    "ScaleByLBFGSState",
    "ScaleByLearningRateState",
    "ScaleByLionState",
    "ScaleByMomentumState",
    "ScaleByNadamState",
    "ScaleByRmsState",
    "ScaleByRpropState",
    "ScaleByScheduleState",
    "ScaleByStddevState",
    "ScaleByTraceState",
    "ScaleByZoomLinesearchState",
    "Schedule",
    "SophiaState",
    "StochasticRoundingState",
    "ZoomLinesearchInfo",
    "adadelta",
    "adafactor",
    "adagrad",
    "adam",
    "adamax",
    "adamw",
    "add_decayed_weights",
    "asgd",
    "averaged_params",
    "chain",
    "compat",
    "decoupled_weight_decay",
    "galore",
    "gd",
    "get_learning_rate",
    "hutchinson_estimator_diag_hessian",
    "kahan_summation",
    "lamb",
    "lbfgs",
    "lion",
    "minibatch_indices",
    "momentum",
    "muon",
    "nadam",
    "nesterov",
    "normalize",
    "quantized",
    "radam",
    "reduce_lr_on_plateau",
    "rmsprop",
    "rprop",
    "sam",
    "scale_by_adadelta",
    "scale_by_adafactor",
    "scale_by_adagrad",
    "scale_by_adam",
    "scale_by_adamax",
    "scale_by_amsgrad",
    "scale_by_ftrl",
    "scale_by_galore",
    "scale_by_lbfgs",
    "scale_by_learning_rate",
    "scale_by_lion",
    "scale_by_momentum",
    "scale_by_muon",
    "scale_by_nadam",
    "scale_by_nesterov",
    "scale_by_radam",
    "scale_by_rms",
    "scale_by_rprop",
    "scale_by_sophia",
    "scale_by_stddev",
    "scale_by_trace",
    "scale_by_trust_ratio",
    "scale_by_zoom_linesearch",
    "schedules",
    "sgd",
    "sophia",
    "stochastic_rounding",
    "swa",
    "sharding",
    "testing",
]
