"""Numerical-parity presets: PyTorch's and Keras' optimizers, argument for argument.

``jopt.compat.torch.Adam(lr=1e-3)`` follows ``torch.optim.Adam`` and
``jopt.compat.keras.Adam(learning_rate=1e-3)`` follows ``keras.optimizers.Adam`` to the
last digits (see docs/parity.md); ``jopt.compat.torchao.AdamW8bit`` (and ``AdamW4bit``,
``AdamWFp8``, ``_AdamW``) follow torchao's low-bit optimizers code for code. Each is a
composition of jopt's own primitives.
:mod:`jopt.compat.layout` holds the weight layouts (``Linear``, ``Conv``) that a port's
checkpoints move with. :mod:`jopt.compat.bitsandbytes` holds bitsandbytes' 8-bit Adam
(``Adam8bit``, ``AdamW8bit``), with its codes. :mod:`jopt.compat.schedulefree` holds the
schedule-free package's optimizers (``AdamWScheduleFree``, ...) and ``eval_params``.
:mod:`jopt.compat.prodigyopt` (``Prodigy``) and :mod:`jopt.compat.dadaptation`
(``DAdaptAdam``, ``DAdaptSGD``, ``DAdaptAdaGrad``, ``DAdaptLion``, ``DAdaptAdan``) follow the
authors' learning-rate-free packages, their global estimate d included.
"""

from jopt.compat import bitsandbytes as bitsandbytes
from jopt.compat import dadaptation as dadaptation
from jopt.compat import keras as keras
from jopt.compat import layout as layout
from jopt.compat import prodigyopt as prodigyopt
from jopt.compat import schedulefree as schedulefree
from jopt.compat import torch as torch
from jopt.compat import torchao as torchao

__all__ = [
    "bitsandbytes",
    "dadaptation",
    "keras",
    "layout",
    "prodigyopt",
    "schedulefree",
    "torch",
    "torchao",
]
