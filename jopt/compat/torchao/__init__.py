"""torchao 0.18's low-bit optimizers (``torchao.optim``): the same names, defaults, checks,
codes and arithmetic.

:func:`AdamW8bit`, :func:`AdamW4bit` and :func:`AdamWFp8` keep Adam's moments block-wise
quantized (8-bit dynamic map, 4-bit maps, ``float8_e4m3fn``), :func:`_AdamW` in the
parameters' dtype; with ``bf16_stochastic_round=True`` bfloat16 parameters are rounded
stochastically (:func:`jopt.stochastic_rounding`). In lockstep with torchao on CPU the
stored codes and scales are identical and float32 parameters agree to float32 rounding
(tests/compat/torchao). Neither torch nor torchao is imported. Notation: α the learning
rate, λ the weight decay, g the gradient, θ the parameters, t = 1, 2, … the step.
"""

from jopt._algorithms.precision.quantized_adam import TorchaoAdamState as TorchaoAdamState
from jopt.compat.torchao._adam import AdamW4bit as AdamW4bit
from jopt.compat.torchao._adam import AdamW8bit as AdamW8bit
from jopt.compat.torchao._adam import AdamWFp8 as AdamWFp8
from jopt.compat.torchao._adam import _AdamW as _AdamW  # pyright: ignore[reportPrivateUsage]

__all__ = ["AdamW8bit", "AdamW4bit", "AdamWFp8", "_AdamW", "TorchaoAdamState"]
