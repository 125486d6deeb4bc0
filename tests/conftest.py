"""Suite-wide settings: float64 available, strict dtype promotion, warnings are errors.

x64 is on so the float64 oracles (NumPy, torch) can be met to 1e-10; every test that
means float32 builds float32 arrays explicitly. Strict promotion makes any silent
mixing of dtypes inside jopt an error (optax.adam fails here; jopt must not).
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

# 8 virtual CPU devices for the mesh tests and doctests (jopt.sharding), set before jax
# is imported: XLA reads the flag when it creates the CPU backend.
if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    flags = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
    os.environ["XLA_FLAGS"] = flags.strip()

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")
