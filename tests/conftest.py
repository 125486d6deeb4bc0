"""Suite-wide settings: float64 available, strict dtype promotion, warnings are errors.

x64 is on so the float64 oracles (NumPy, torch) can be met to 1e-10; every test that
means float32 builds float32 arrays explicitly. Strict promotion makes any silent
mixing of dtypes inside jopt an error (optax.adam fails here; jopt must not).

Hypothesis (tests/test_properties.py) runs a fixed, small set of examples: derandomized,
so CI sees the same examples every run, with no example database and its storage outside
the checkout, so nothing is written into the repository.
"""

import os
import tempfile

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault(
    "HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "jopt-hypothesis")
)


import jax  # noqa: E402
from hypothesis import Phase, settings  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")

# XLA's compiled programs are kept on disk (JAX's persistent compilation cache), so that
# the xdist workers share them, and a second run of the suite compiles only what changed.
# The cache is keyed by each program's HLO, the flags, jax's version and the devices.
_XLA_CACHE = os.environ.get(
    "JOPT_XLA_CACHE",
    os.path.join(tempfile.gettempdir(), f"jopt-xla-cache-{getattr(os, 'getuid', lambda: 0)()}"),
)
if _XLA_CACHE:  # JOPT_XLA_CACHE= (empty) turns it off
    jax.config.update("jax_compilation_cache_dir", _XLA_CACHE)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)

# No "shrink" or "explain" phase by default: each reruns a failing example many times
# (each run may compile), so a regression that fails many registry cases at once could
# take hours to report. JOPT_HYPOTHESIS_PROFILE=jopt-shrink shrinks, to debug one case.
_PROFILE = dict(max_examples=10, deadline=None, derandomize=True, database=None, print_blob=False)
settings.register_profile("jopt", phases=[Phase.explicit, Phase.generate], **_PROFILE)
settings.register_profile(
    "jopt-shrink", phases=[Phase.explicit, Phase.generate, Phase.shrink], **_PROFILE
)
settings.load_profile(os.environ.get("JOPT_HYPOTHESIS_PROFILE", "jopt"))

# Type-checked by tests/test_types.py, never run (it holds calls that must not type-check).
collect_ignore = ["typing_usage.py"]


# Worker affinity under `-n`: the tests of one file run on one worker (and the files of
# tests/compat/keras/ and tests/compat/torch/ together: conftest.py at the root), so a
# file's fixtures are built once (the lockstep runs of tests/compat/conftest.py, the
# study's default run, the docs build: tens of seconds each) and its programs compile once. (`--dist loadgroup` with per-fixture groups did this
# before; pytest 9 computes a node id from its structured id, so pytest-xdist 3.8's group
# suffix no longer takes and the groups were silently ignored.) The expensive fixtures are
# session-scoped, so a worker that interleaves files never builds one twice.
