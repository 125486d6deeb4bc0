"""What every transformation is built on: argument rules, dtypes, state, the learning rate.

- :mod:`jopt._core.checks`: the argument rules a public factory declares (``@checked``);
- :mod:`jopt._core.dtypes`: the dtype policy (compute dtype, state dtype, casts);
- :mod:`jopt._core.state`: state allocation, the feature rule, tree checks, declarations
  of which state fields mirror a parameter;
- :mod:`jopt._core.elementwise`: the elementwise math the primitives share;
- :mod:`jopt._core.chain`: the compute-dtype chain;
- :mod:`jopt._core.learning_rate`: the learning-rate step and :func:`jopt.get_learning_rate`.
"""
