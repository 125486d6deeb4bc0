"""jopt: functional, optax-compatible optimizer transforms for JAX.

Every optimizer is an ``optax.GradientTransformationExtraArgs``: compose it with
``optax.chain``, apply it with ``optax.apply_updates``, hand it to Flax.
"""

from importlib.metadata import PackageNotFoundError, version

from jopt import compat as compat
from jopt import schedules as schedules
from jopt import sharding as sharding
from jopt import testing as testing
from jopt._algorithms.adam.acprop import acprop as acprop
from jopt._algorithms.adam.acprop import scale_by_acprop as scale_by_acprop
from jopt._algorithms.adam.adabelief import ScaleByBeliefState as ScaleByBeliefState
from jopt._algorithms.adam.adabelief import adabelief as adabelief
from jopt._algorithms.adam.adabelief import scale_by_belief as scale_by_belief
from jopt._algorithms.adam.adam import ScaleByAdamState as ScaleByAdamState
from jopt._algorithms.adam.adam import ScaleByAmsgradState as ScaleByAmsgradState
from jopt._algorithms.adam.adam import adam as adam
from jopt._algorithms.adam.adam import adamw as adamw
from jopt._algorithms.adam.adam import scale_by_adam as scale_by_adam
from jopt._algorithms.adam.adam import scale_by_amsgrad as scale_by_amsgrad
from jopt._algorithms.adam.adamax import ScaleByAdamaxState as ScaleByAdamaxState
from jopt._algorithms.adam.adamax import adamax as adamax
from jopt._algorithms.adam.adamax import adamaxw as adamaxw
from jopt._algorithms.adam.adamax import scale_by_adamax as scale_by_adamax
from jopt._algorithms.adam.adan import ScaleByAdanState as ScaleByAdanState
from jopt._algorithms.adam.adan import adan as adan
from jopt._algorithms.adam.adan import scale_by_adan as scale_by_adan
from jopt._algorithms.adam.ademamix import ScaleByAdemamixState as ScaleByAdemamixState
from jopt._algorithms.adam.ademamix import (
    ScaleBySimplifiedAdEMAMixState as ScaleBySimplifiedAdEMAMixState,
)
from jopt._algorithms.adam.ademamix import ademamix as ademamix
from jopt._algorithms.adam.ademamix import scale_by_ademamix as scale_by_ademamix
from jopt._algorithms.adam.ademamix import (
    scale_by_simplified_ademamix as scale_by_simplified_ademamix,
)
from jopt._algorithms.adam.ademamix import simplified_ademamix as simplified_ademamix
from jopt._algorithms.adam.adopt import adopt as adopt
from jopt._algorithms.adam.adopt import scale_by_adopt as scale_by_adopt
from jopt._algorithms.adam.amsgrad import amsgrad as amsgrad
from jopt._algorithms.adam.nadam import ScaleByNadamState as ScaleByNadamState
from jopt._algorithms.adam.nadam import nadam as nadam
from jopt._algorithms.adam.nadam import nadamw as nadamw
from jopt._algorithms.adam.nadam import scale_by_nadam as scale_by_nadam
from jopt._algorithms.adam.radam import radam as radam
from jopt._algorithms.adam.radam import scale_by_radam as scale_by_radam
from jopt._algorithms.adam.yogi import scale_by_yogi as scale_by_yogi
from jopt._algorithms.adam.yogi import yogi as yogi
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
from jopt._algorithms.adaptive.sm3 import ScaleBySM3State as ScaleBySM3State
from jopt._algorithms.adaptive.sm3 import scale_by_sm3 as scale_by_sm3
from jopt._algorithms.adaptive.sm3 import sm3 as sm3
from jopt._algorithms.averaging.asgd import asgd as asgd
from jopt._algorithms.averaging.average import AsgdAverageState as AsgdAverageState
from jopt._algorithms.averaging.average import AveragedParamsState as AveragedParamsState
from jopt._algorithms.averaging.average import averaged_params as averaged_params
from jopt._algorithms.averaging.average import swa as swa
from jopt._algorithms.averaging.lookahead import LookaheadParams as LookaheadParams
from jopt._algorithms.averaging.lookahead import LookaheadState as LookaheadState
from jopt._algorithms.averaging.lookahead import lookahead as lookahead
from jopt._algorithms.averaging.lookahead import lookahead_eval_params as lookahead_eval_params
from jopt._algorithms.averaging.schedule_free import ScheduleFreeState as ScheduleFreeState
from jopt._algorithms.averaging.schedule_free import schedule_free as schedule_free
from jopt._algorithms.averaging.schedule_free import schedule_free_adamw as schedule_free_adamw
from jopt._algorithms.averaging.schedule_free import (
    schedule_free_eval_params as schedule_free_eval_params,
)
from jopt._algorithms.averaging.schedule_free import schedule_free_radam as schedule_free_radam
from jopt._algorithms.averaging.schedule_free import schedule_free_sgd as schedule_free_sgd
from jopt._algorithms.control.plateau import ReduceLROnPlateauState as ReduceLROnPlateauState
from jopt._algorithms.control.plateau import reduce_lr_on_plateau as reduce_lr_on_plateau
from jopt._algorithms.dadapt.dadapt_adam import DAdaptAdamWState as DAdaptAdamWState
from jopt._algorithms.dadapt.dadapt_adam import dadapt_adamw as dadapt_adamw
from jopt._algorithms.dadapt.prodigy import ProdigyState as ProdigyState
from jopt._algorithms.dadapt.prodigy import prodigy as prodigy
from jopt._algorithms.dadapt.prodigy import scale_by_prodigy as scale_by_prodigy
from jopt._algorithms.dual.madgrad import MadgradState as MadgradState
from jopt._algorithms.dual.madgrad import madgrad as madgrad
from jopt._algorithms.dual.madgrad import scale_by_madgrad as scale_by_madgrad
from jopt._algorithms.layerwise.fromage import FromageShrinkState as FromageShrinkState
from jopt._algorithms.layerwise.fromage import fromage as fromage
from jopt._algorithms.layerwise.fromage import scale_by_fromage as scale_by_fromage
from jopt._algorithms.layerwise.lamb import lamb as lamb
from jopt._algorithms.layerwise.lamb import scale_by_trust_ratio as scale_by_trust_ratio
from jopt._algorithms.layerwise.lars import lars as lars
from jopt._algorithms.layerwise.lars import scale_by_lars as scale_by_lars
from jopt._algorithms.layerwise.novograd import ScaleByNovogradState as ScaleByNovogradState
from jopt._algorithms.layerwise.novograd import novograd as novograd
from jopt._algorithms.layerwise.novograd import scale_by_novograd as scale_by_novograd
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
from jopt._algorithms.parameter_free.cocob import COCOBState as COCOBState
from jopt._algorithms.parameter_free.cocob import cocob as cocob
from jopt._algorithms.parameter_free.cocob import scale_by_cocob as scale_by_cocob
from jopt._algorithms.parameter_free.dog import DoGState as DoGState
from jopt._algorithms.parameter_free.dog import DoWGState as DoWGState
from jopt._algorithms.parameter_free.dog import dog as dog
from jopt._algorithms.parameter_free.dog import dowg as dowg
from jopt._algorithms.parameter_free.dog import scale_by_dog as scale_by_dog
from jopt._algorithms.parameter_free.dog import scale_by_dowg as scale_by_dowg
from jopt._algorithms.parameter_free.mechanic import MechanicState as MechanicState
from jopt._algorithms.parameter_free.mechanic import mechanize as mechanize
from jopt._algorithms.parameter_free.momo import MomoAdamState as MomoAdamState
from jopt._algorithms.parameter_free.momo import MomoState as MomoState
from jopt._algorithms.parameter_free.momo import momo as momo
from jopt._algorithms.parameter_free.momo import momo_adam as momo_adam
from jopt._algorithms.precision.kahan import KahanSummationState as KahanSummationState
from jopt._algorithms.precision.kahan import kahan_summation as kahan_summation
from jopt._algorithms.precision.stochastic_rounding import (
    StochasticRoundingState as StochasticRoundingState,
)
from jopt._algorithms.precision.stochastic_rounding import (
    stochastic_rounding as stochastic_rounding,
)
from jopt._algorithms.privacy.dpsgd import (
    DifferentiallyPrivateAggregateState as DifferentiallyPrivateAggregateState,
)
from jopt._algorithms.privacy.dpsgd import (
    differentially_private_aggregate as differentially_private_aggregate,
)
from jopt._algorithms.privacy.dpsgd import dpsgd as dpsgd
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
from jopt._algorithms.sgd.noisy import AddNoiseState as AddNoiseState
from jopt._algorithms.sgd.noisy import add_noise as add_noise
from jopt._algorithms.sgd.noisy import noisy_sgd as noisy_sgd
from jopt._algorithms.sgd.optimistic import (
    ScaleByOptimisticGradientState as ScaleByOptimisticGradientState,
)
from jopt._algorithms.sgd.optimistic import optimistic_adam as optimistic_adam
from jopt._algorithms.sgd.optimistic import (
    optimistic_gradient_descent as optimistic_gradient_descent,
)
from jopt._algorithms.sgd.optimistic import (
    scale_by_optimistic_gradient as scale_by_optimistic_gradient,
)
from jopt._algorithms.sgd.polyak import polyak_sgd as polyak_sgd
from jopt._algorithms.sgd.polyak import scale_by_polyak as scale_by_polyak
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
from jopt._algorithms.sign.sign_sgd import scale_by_sign as scale_by_sign
from jopt._algorithms.sign.sign_sgd import sign_sgd as sign_sgd
from jopt._algorithms.sign.sign_sgd import signum as signum
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
    "AddNoiseState",
    "AsgdAverageState",
    "AveragedParamsState",
    "COCOBState",
    "DAdaptAdamWState",
    "DifferentiallyPrivateAggregateState",
    "DoGState",
    "DoWGState",
    "FactoredSecondMoment",
    "FromageShrinkState",
    "GaLoreDimensionNumbers",
    "GaLoreState",
    "HutchinsonState",
    "KahanSummationState",
    "LookaheadParams",
    "LookaheadState",
    "MadgradState",
    "MechanicState",
    "MomoAdamState",
    "MomoState",
    "ProdigyState",
    "QuantizedFormat",
    "QuantizedMoment",
    "ReduceLROnPlateauState",
    "SAMState",
    "ScaleByAdadeltaState",
    "ScaleByAdafactorState",
    "ScaleByAdagradState",
    "ScaleByAdamState",
    "ScaleByAdamaxState",
    "ScaleByAdanState",
    "ScaleByAdemamixState",
    "ScaleByAmsgradState",
    "ScaleByBeliefState",
    "ScaleByCountedTraceState",
    "ScaleByFtrlState",
    "ScaleByLBFGSState",
    "ScaleByLearningRateState",
    "ScaleByLionState",
    "ScaleByMomentumState",
    "ScaleByNadamState",
    "ScaleByNovogradState",
    "ScaleByOptimisticGradientState",
    "ScaleByRmsState",
    "ScaleByRpropState",
    "ScaleBySM3State",
    "ScaleByScheduleState",
    "ScaleBySimplifiedAdEMAMixState",
    "ScheduleFreeState",
    "ScaleByStddevState",
    "ScaleByTraceState",
    "ScaleByZoomLinesearchState",
    "Schedule",
    "SophiaState",
    "StochasticRoundingState",
    "acprop",
    "adabelief",
    "ZoomLinesearchInfo",
    "adadelta",
    "adafactor",
    "adagrad",
    "adam",
    "adamax",
    "adamaxw",
    "adamw",
    "adan",
    "add_decayed_weights",
    "add_noise",
    "ademamix",
    "adopt",
    "amsgrad",
    "asgd",
    "averaged_params",
    "chain",
    "cocob",
    "compat",
    "dadapt_adamw",
    "decoupled_weight_decay",
    "differentially_private_aggregate",
    "dog",
    "dowg",
    "dpsgd",
    "fromage",
    "galore",
    "gd",
    "get_learning_rate",
    "hutchinson_estimator_diag_hessian",
    "kahan_summation",
    "lamb",
    "lars",
    "lbfgs",
    "lion",
    "lookahead",
    "lookahead_eval_params",
    "madgrad",
    "mechanize",
    "minibatch_indices",
    "momentum",
    "momo",
    "momo_adam",
    "muon",
    "nadam",
    "nadamw",
    "nesterov",
    "noisy_sgd",
    "normalize",
    "novograd",
    "optimistic_adam",
    "optimistic_gradient_descent",
    "polyak_sgd",
    "prodigy",
    "quantized",
    "radam",
    "reduce_lr_on_plateau",
    "rmsprop",
    "rprop",
    "sam",
    "scale_by_acprop",
    "scale_by_adadelta",
    "scale_by_adafactor",
    "scale_by_adagrad",
    "scale_by_adam",
    "scale_by_adamax",
    "scale_by_adan",
    "scale_by_ademamix",
    "scale_by_adopt",
    "scale_by_amsgrad",
    "scale_by_belief",
    "scale_by_cocob",
    "scale_by_dog",
    "scale_by_dowg",
    "scale_by_fromage",
    "scale_by_ftrl",
    "scale_by_galore",
    "scale_by_lars",
    "scale_by_lbfgs",
    "scale_by_learning_rate",
    "scale_by_lion",
    "scale_by_madgrad",
    "scale_by_momentum",
    "scale_by_muon",
    "scale_by_nadam",
    "scale_by_nesterov",
    "scale_by_novograd",
    "scale_by_optimistic_gradient",
    "scale_by_polyak",
    "scale_by_prodigy",
    "scale_by_radam",
    "scale_by_rms",
    "scale_by_rprop",
    "scale_by_sign",
    "scale_by_simplified_ademamix",
    "scale_by_sm3",
    "scale_by_sophia",
    "scale_by_stddev",
    "scale_by_trace",
    "scale_by_trust_ratio",
    "scale_by_yogi",
    "scale_by_zoom_linesearch",
    "schedule_free",
    "schedule_free_adamw",
    "schedule_free_eval_params",
    "schedule_free_radam",
    "schedule_free_sgd",
    "schedules",
    "sgd",
    "sharding",
    "sign_sgd",
    "signum",
    "simplified_ademamix",
    "sm3",
    "sophia",
    "stochastic_rounding",
    "swa",
    "testing",
    "yogi",
]
