"""The lockstep runs against torch and Keras (tests/support/parity.py), each list computed
once per session in one compiled program: compiling costs far more than the steps, and
one program of n runs compiles in about half the time of n programs. Each test file of
tests/compat checks the runs of its presets (``parity.select``)."""

from __future__ import annotations

import pytest

from tests.support import parity


@pytest.fixture(scope="session")
def torch_quick():
    """The first case of each torch preset, in float64 (the inner loop)."""
    return parity.torch_runs(parity.TORCH_QUICK)


@pytest.fixture(scope="session")
def torch_slow():
    """Every other torch run."""
    return parity.torch_runs(parity.TORCH_SLOW)


@pytest.fixture(scope="session")
def keras_quick():
    """The first case of each Keras preset and all options on Adam, in float64 (the inner
    loop); Keras' float32 reductions kept in float64 (parity.keras_runs)."""
    return parity.keras_runs(parity.KERAS_QUICK, float64_reductions=True)


@pytest.fixture(scope="session")
def keras_slow():
    """Every other Keras run."""
    return parity.keras_runs(parity.KERAS_SLOW, float64_reductions=True)
