"""Settings for the whole suite, the doctests under jopt/ included (this file is outside
the package, so nothing of it ships in the wheel).

- 8 virtual CPU devices for the mesh tests and doctests (jopt.sharding), and XLA's CPU
  code generation without LLVM's optimization passes (a faster suite), set before jax is
  imported: XLA reads its flags when it creates the CPU backend.
- Doctests under jopt/ run in float32, as a user with jax's defaults sees them
  (tests/conftest.py turns x64 on for the tests); strict dtype promotion stays on.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")
_FLAGS = {
    "xla_force_host_platform_device_count": "8",
    # The suite compiles thousands of small programs and runs each a few times: LLVM's
    # optimization passes and XLA's newer fusion emitters cost more compile time than
    # they save run time (about 40 % of the suite). Neither changes a result: XLA's CPU
    # backend compiles without fast-math either way; only the speed of the code does.
    "xla_backend_optimization_level": "0",
    "xla_cpu_use_fusion_emitters": "false",  # XLA's older CPU emitters compile faster
}
for _flag, _value in _FLAGS.items():
    if _flag not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --{_flag}={_value}".strip()

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


# The xdist workers' share of the suite (pyproject's `-n auto --dist loadfile`): the tests of
# one file run on one worker, so its fixtures are built and its programs compiled once; the
# files of a folder whose tests share session fixtures (the lockstep runs against Keras and
# torch of tests/compat/conftest.py, ~15 s each) run on one worker too, or each worker would
# build them. (pytest-xdist's loadgroup marks no longer take under pytest 9.)
SHARED_FOLDERS = ("tests/compat/keras/", "tests/compat/torch/")


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class FileScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return next((f for f in SHARED_FOLDERS if path.startswith(f)), path)

    return FileScheduling(config, log)
