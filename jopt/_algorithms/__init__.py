"""The algorithms, one folder per family, one file per algorithm (``adam/adam.py`` holds
``scale_by_adam`` and ``adam``). Each file holds a ``scale_by_*`` primitive (the math,
its state declared on a NamedTuple) and its aliases, which chain public primitives.
The public names are re-exported from :mod:`jopt`.

- ``sgd``: steepest descent, the deck's momentum and Nesterov, PyTorch's SGD trace;
- ``adaptive``: per-coordinate step sizes from accumulated squares (AdaGrad, RMSprop,
  Adadelta);
- ``adam``: Adam and its variants (AdamW, AMSGrad, Adamax, NAdam, RAdam);
- ``sign``: steps from gradient signs (Lion, Rprop);
- ``matrix``: per-matrix preconditioners (Adafactor's factored moments, Muon);
- ``layerwise``: trust ratios per leaf (LAMB);
- ``averaging``: iterate averages (SWA/EMA, ASGD, schedule-free);
- ``proximal``: FTRL;
- ``regularization``: weight decay;
- ``control``: learning-rate control from a monitored value (ReduceLROnPlateau);
- ``precision``: how an update lands on a bfloat16 parameter (stochastic rounding, Kahan
  summation), placed last in a chain; torchao's Adam step on block-quantized moments
  (``quantized_adam.py``, the :mod:`jopt.compat.torchao` presets).
"""
