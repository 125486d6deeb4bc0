"""The benchmarks: scripts that write docs/benchmarks.md and docs/sweep.md.

Run each from the repository root as a module, e.g. ``python -m benchmarks.update_step``
(``--help`` lists its options); ``bash benchmarks/gpu.sh`` runs the update-step benchmark
on an NVIDIA GPU. They are not tests; tests/docs/test_benchmarks.py runs each at a tiny size.
"""
