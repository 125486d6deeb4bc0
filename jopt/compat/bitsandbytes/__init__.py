"""bitsandbytes presets: its 8-bit optimizers, argument for argument, step for step.

``jopt.compat.bitsandbytes.AdamW8bit(lr=1e-3)`` follows ``bitsandbytes.optim.AdamW8bit``
(bitsandbytes 0.50) as its CPU kernels compute it: the same 8-bit codes and block absmax
in the state (``state1``, ``state2``, ``absmax1``, ``absmax2``, as in bitsandbytes'
``optimizer.state[p]``) and the same float32 arithmetic. bitsandbytes itself is not
needed. Notation: α the learning rate, g the gradient, θ the parameters, t = 1, 2, … the
step.
"""

from jopt._algorithms.adam.adam8bit_bnb import Adam8bitState as Adam8bitState
from jopt.compat.bitsandbytes._adam import Adam8bit as Adam8bit
from jopt.compat.bitsandbytes._adam import AdamW8bit as AdamW8bit

__all__ = ["Adam8bit", "Adam8bitState", "AdamW8bit"]
