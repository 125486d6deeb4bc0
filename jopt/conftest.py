"""Doctests run in float32, as a user with jax's defaults sees them.

tests/conftest.py turns x64 on for the whole process; this fixture turns it off for
the doctests under jopt/ only, and keeps strict dtype promotion on.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

# 8 virtual CPU devices for the mesh tests and doctests (jopt.sharding), set before jax
# is imported: XLA reads the flag when it creates the CPU backend.
if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    _flags = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
    os.environ["XLA_FLAGS"] = _flags.strip()

import jax  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _float32_doctests():
    x64 = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", False)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", x64)
