"""Settings for the whole suite, the doctests under jopt/ included (this file is outside
the package, so nothing of it ships in the wheel).

- 8 virtual CPU devices for the mesh tests and doctests (jopt.sharding), set before jax
  is imported: XLA reads the flag when it creates the CPU backend.
- Doctests under jopt/ run in float32, as a user with jax's defaults sees them
  (tests/conftest.py turns x64 on for the tests); strict dtype promotion stays on.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")
if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    _flags = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
    os.environ["XLA_FLAGS"] = _flags.strip()

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_numpy_dtype_promotion", "strict")


@pytest.fixture(autouse=True)
def _float32_doctests(request: pytest.FixtureRequest):
    if not isinstance(request.node, pytest.DoctestItem):
        yield
        return
    x64 = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", False)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", x64)
