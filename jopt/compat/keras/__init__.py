"""``keras.optimizers`` presets: Keras 3's argument names, defaults and arithmetic.

Each factory returns an ``optax.GradientTransformationExtraArgs`` composed of jopt
primitives that reproduces ``keras.optimizers.<Name>`` step for step (Keras 3.15; see
docs/parity.md). ``learning_rate`` may be a number, a JAX scalar, a schedule
``count -> lr`` evaluated at the updates already applied (Keras' 0-based
``iterations``), or a function of no arguments. ``weight_decay`` is Keras' decoupled
decay, θ ← θ − θλα_t before the step. Keras keeps the learning rate inside its momentum
buffers: a past gradient stays at the rate it was taken with (PyTorch rescales the whole
buffer). Every optimizer also takes Keras' base options (:class:`KerasOptions`: clipping,
``exclude_from_weight_decay``, the parameter EMA read by :func:`ema_params`,
``loss_scale_factor``, gradient accumulation). :mod:`jopt.compat.keras.schedules` holds
``keras.optimizers.schedules``. Notation: α the learning rate, g the gradient, θ the
parameters, t = 1, 2, ….
"""

from jopt.compat.keras import schedules as schedules
from jopt.compat.keras._adam import Adam as Adam
from jopt.compat.keras._adam import Adamax as Adamax
from jopt.compat.keras._adam import AdamW as AdamW
from jopt.compat.keras._adam import Nadam as Nadam
from jopt.compat.keras._adaptive import Adadelta as Adadelta
from jopt.compat.keras._adaptive import Adagrad as Adagrad
from jopt.compat.keras._adaptive import RMSprop as RMSprop
from jopt.compat.keras._checkpoint import KerasFile as KerasFile
from jopt.compat.keras._checkpoint import load_own_variables as load_own_variables
from jopt.compat.keras._checkpoint import read_keras_file as read_keras_file
from jopt.compat.keras._checkpoint import save_own_variables as save_own_variables
from jopt.compat.keras._common import KerasOptions as KerasOptions
from jopt.compat.keras._ftrl import Ftrl as Ftrl
from jopt.compat.keras._layerwise import Lamb as Lamb
from jopt.compat.keras._loss_scale import LossScaleOptimizer as LossScaleOptimizer
from jopt.compat.keras._loss_scale import scale_loss as scale_loss
from jopt.compat.keras._matrix import Adafactor as Adafactor
from jopt.compat.keras._matrix import Muon as Muon
from jopt.compat.keras._multi import MultiOptimizer as MultiOptimizer
from jopt.compat.keras._multi import OptimizerMap as OptimizerMap
from jopt.compat.keras._options import ema_params as ema_params
from jopt.compat.keras._schedule_free import ScheduleFreeAdamW as ScheduleFreeAdamW
from jopt.compat.keras._schedule_free import (
    schedule_free_eval_params as schedule_free_eval_params,
)
from jopt.compat.keras._sgd import SGD as SGD
from jopt.compat.keras._sign import Lion as Lion

__all__ = [
    "SGD",
    "Adagrad",
    "RMSprop",
    "Adam",
    "AdamW",
    "KerasOptions",
    "Adadelta",
    "Adamax",
    "Nadam",
    "Adafactor",
    "Lamb",
    "Lion",
    "Muon",
    "schedules",
    "Ftrl",
    "ScheduleFreeAdamW",
    "LossScaleOptimizer",
    "MultiOptimizer",
    "OptimizerMap",
    "ema_params",
    "schedule_free_eval_params",
    "scale_loss",
    "load_own_variables",
    "save_own_variables",
    "read_keras_file",
    "KerasFile",
]
