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
