#!/usr/bin/env bash
# The update-step benchmark on an NVIDIA GPU: jopt and optax against torch's fused CUDA
# Adam/AdamW/SGD/Adagrad (foreach too), roofline from a device-to-device copy.
#
# Setup, once, on the GPU machine (nothing else is downloaded by this script):
#   pip install -U "jax[cuda12]"           # or "jax[cuda13]"; then, from the checkout:
#   pip install -e ".[test]"               # optax, flax, ...
#   pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cu126  # CUDA torch
# Run (about 2-4 minutes on an H100; --scale 1 is the CPU run's sizes):
#   bash benchmarks/gpu.sh [extra arguments of python -m benchmarks.update_step]
# It writes the "Update step (gpu)" and "Memory-lean state: step time (gpu)" sections of
# docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu.sh: no NVIDIA GPU found (nvidia-smi)." >&2
  exit 1
fi
nvidia-smi -L
if ! "$PY" -c 'import jax, sys; sys.exit(0 if jax.devices("gpu") else 1)' 2>/dev/null; then
  echo "gpu.sh: jax sees no GPU; install it with: pip install -U \"jax[cuda12]\"" >&2
  exit 1
fi
"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())' \
  || echo "gpu.sh: torch not importable; the run leaves it out" >&2

# Leave XLA's default preallocation alone except that both frameworks share the card.
export XLA_PYTHON_CLIENT_MEM_FRACTION=${XLA_PYTHON_CLIENT_MEM_FRACTION:-0.5}
timeout 290 "$PY" -m benchmarks.update_step --device gpu --repeats 20 "$@"
# The memory-lean state's step (float32, bfloat16, int8, fp8, int4 moments; optax; torch).
exec timeout 200 "$PY" -m benchmarks.memory --only speed --device gpu
