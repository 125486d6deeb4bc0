"""The benchmarks run (tiny sizes, once) as the docs say, and every moment honours
mu_dtype / nu_dtype.

No timings are asserted: the benchmark is not a test, this only keeps it working. The
benchmarks are the modules of the ``benchmarks`` package (``python -m benchmarks.<name>``
from the repository root), imported here as such: no path edits.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import jopt

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"


def load(name):
    return importlib.import_module(f"benchmarks.{name}")


@pytest.mark.slow
def test_update_step_benchmark_runs_and_writes_its_table(tmp_path):
    # The smallest run that takes every code path: one case (its leaves scaled to 5 k
    # elements), Adam (donated and not, torch foreach and fused) and Adam-bf16 (no torch
    # contender, a note), two trials (fresh buffers), a second compile round.
    out = tmp_path / "benchmarks.md"
    out.write_text(
        "# Benchmarks\n\n<!-- begin low_precision -->\nkept\n<!-- end low_precision -->\n"
    )
    bench = load("update_step")
    # optax.adam itself is not clean under the suite's strict promotion (REFERENCE §5).
    with jax.numpy_dtype_promotion("standard"):
        body = bench.main(
            [
                "--scale",
                "0.0002",
                "--repeats",
                "2",
                "--trials",
                "2",
                "--compile-repeats",
                "2",
                "--compile-budget",
                "0",
                "--cases",
                "2x25M",
                "--optimizers",
                "adam,adam-bf16",
                "--out",
                str(out),
            ]
        )
    text = out.read_text()
    assert "kept" in text  # other sections survive
    assert "| case | optimizer | contender | step ms | compile s |" in text
    for who in ("| jopt |", "| optax |", "| jopt, not donated |", "| torch fused |"):
        assert who in body
    assert "| 2x25M | adam-bf16 | jopt |" in body and "| 2x25M | adam-bf16 | torch" not in body
    assert "- adam-bf16: jopt: mu and nu bfloat16" in body
    assert "in 2 trials" in body and "step jopt/optax" in body


@pytest.mark.slow
def test_donation_benchmark_runs_and_writes_its_table(tmp_path):
    out = tmp_path / "benchmarks.md"
    body = load("donation").main(["--scale", "0.0001", "--repeats", "1", "--out", str(out)])
    for label in ("jax.jit, donated", "jax.jit, not donated", "nnx.jit, donated"):
        assert f"| {label} |" in body
    assert "<!-- begin donation -->" in out.read_text()


def test_donated_nnx_step_reuses_the_buffers():
    # What the benchmark times: nnx.jit with donate_argnums really updates in place.
    module = load("donation")
    model = module.TwoLeaves(16)
    optimizer = nnx.Optimizer(model, jopt.adam(1e-3), wrt=nnx.Param)
    old = [model.w0[...], optimizer.opt_state[0].mu["w0"][...]]
    grads = {"w0": jnp.full((16,), 0.01, jnp.float32), "w1": jnp.full((16,), -0.01, jnp.float32)}
    nnx.jit(module.nnx_step, donate_argnums=(0, 1))(model, optimizer, grads)
    assert all(x.is_deleted() for x in old)  # the donated buffers were handed to XLA
    # Adam's first step is −α·sign(g), on the gradients given (not on the params)
    np.testing.assert_allclose(np.asarray(model.w0[...]), 0.5 - 1e-3, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(model.w1[...]), 0.5 + 1e-3, rtol=1e-6)


FAKE_PYTHON = """#!{python}
# Stands in for python in benchmarks/gpu.sh: records each call, answers its checks.
import json, os, sys
with open(os.environ["FAKE_LOG"], "a") as log:
    env = os.environ.get("XLA_PYTHON_CLIENT_MEM_FRACTION")
    log.write(json.dumps({{"argv": sys.argv[1:], "mem_fraction": env}}) + "\\n")
if sys.argv[1:2] == ["-c"] and "jax.devices" in sys.argv[2]:
    sys.exit(0 if os.environ["FAKE_JAX_GPU"] == "1" else 1)
"""


def _run_gpu_script(tmp_path, *, nvidia_smi: bool, jax_gpu: bool):
    """benchmarks/gpu.sh with nvidia-smi and python replaced by recording stand-ins."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    smi = bin_dir / "nvidia-smi"
    smi.write_text(f"#!/bin/sh\n{'echo GPU 0: stand-in' if nvidia_smi else 'exit 9'}\n")
    python = bin_dir / "python"
    python.write_text(FAKE_PYTHON.format(python=sys.executable))
    for f in (smi, python):
        f.chmod(0o755)
    log = tmp_path / "calls.jsonl"
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", PYTHON=str(python))
    env.update(FAKE_LOG=str(log), FAKE_JAX_GPU="1" if jax_gpu else "0")
    env.pop("XLA_PYTHON_CLIENT_MEM_FRACTION", None)
    done = subprocess.run(
        ["bash", str(BENCH / "gpu.sh"), "--scale", "0.01"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return done, calls


def test_gpu_script_runs_the_benchmark_on_the_gpu(tmp_path):
    done, calls = _run_gpu_script(tmp_path, nvidia_smi=True, jax_gpu=True)
    assert done.returncode == 0, done.stderr
    assert "GPU 0: stand-in" in done.stdout
    assert 'jax.devices("gpu")' in calls[0]["argv"][1]  # it asks jax for a GPU first
    assert calls[-1]["argv"] == ["-m", "benchmarks.memory", "--only", "speed", "--device", "gpu"]
    last = calls[-2]
    assert last["argv"] == [
        "-m",
        "benchmarks.update_step",
        "--device",
        "gpu",
        "--repeats",
        "20",
        "--scale",
        "0.01",
    ]
    assert last["mem_fraction"] == "0.5"  # jax and torch share the card
    args = load("update_step").parse_args(last["argv"][2:])  # the benchmark accepts them
    assert args.device == "gpu" and args.repeats == 20 and args.scale == 0.01


@pytest.mark.parametrize(
    "nvidia_smi, jax_gpu, message",
    [(False, False, "no NVIDIA GPU found"), (True, False, 'install it with: pip install -U "jax')],
)
def test_gpu_script_stops_without_a_gpu(tmp_path, nvidia_smi, jax_gpu, message):
    done, calls = _run_gpu_script(tmp_path, nvidia_smi=nvidia_smi, jax_gpu=jax_gpu)
    assert done.returncode == 1 and message in done.stderr
    assert not any("benchmarks.update_step" in c["argv"] for c in calls)


@pytest.mark.slow
def test_sharded_state_benchmark_runs_and_meets_its_targets(tmp_path):
    # 8 virtual devices (conftest.py); byte counts, collectives and compiles, no timings
    out = tmp_path / "benchmarks.md"
    with jax.numpy_dtype_promotion("standard"):  # optax.adam mixes dtypes
        args = ["--scale", "0.002", "--layers", "1", "--steps", "2", "--out", str(out)]
        body = load("sharded_state").main(args)
    for row in ("| replicated | jopt |", "| sharded params | optax |", "| ZeRO-1 | jopt |"):
        assert row in body
    assert "Targets met: yes" in body
    assert "<!-- begin sharded_state -->" in out.read_text()


# Every optimizer with moments, built with bfloat16 state.
LOW = {
    "adam": lambda **kw: jopt.adam(1e-2, **kw),
    "adam-amsgrad": lambda **kw: jopt.adam(1e-2, amsgrad=True, **kw),
    "adamw": lambda **kw: jopt.adamw(1e-2, **kw),
    "scale_by_adam": lambda **kw: optax.chain(
        jopt.scale_by_adam(**kw), jopt.scale_by_learning_rate(1e-2)
    ),
    "scale_by_amsgrad": lambda **kw: optax.chain(
        jopt.scale_by_amsgrad(**kw), jopt.scale_by_learning_rate(1e-2)
    ),
    "rmsprop": lambda **kw: jopt.rmsprop(1e-2, **kw),
    "rmsprop-centered-momentum": lambda **kw: jopt.rmsprop(1e-2, centered=True, momentum=0.9, **kw),
    "adagrad": lambda nu_dtype=None, **_: jopt.adagrad(1e-1, nu_dtype=nu_dtype),
    "sgd-momentum": lambda mu_dtype=None, **_: jopt.sgd(1e-2, momentum=0.9, mu_dtype=mu_dtype),
    "sgd-nesterov": lambda mu_dtype=None, **_: jopt.sgd(
        1e-2, momentum=0.9, nesterov=True, mu_dtype=mu_dtype
    ),
    "sgd-dampened": lambda mu_dtype=None, **_: jopt.sgd(
        1e-2, momentum=0.9, dampening=0.1, mu_dtype=mu_dtype
    ),
    "momentum": lambda mu_dtype=None, **_: jopt.momentum(1e-2, 0.9, mu_dtype=mu_dtype),
    "nesterov": lambda mu_dtype=None, **_: jopt.nesterov(1e-2, 0.9, mu_dtype=mu_dtype),
}


def _run(tx, params, steps=8):
    state = tx.init(params)
    for t in range(steps):
        grads = jax.tree.map(
            lambda p, t=t: (jnp.cos(p * (t + 1)) + 0.1 * p).astype(p.dtype), params
        )
        updates, state = tx.update(grads, state, params)
        assert all(u.dtype == jnp.float32 for u in jax.tree.leaves(updates))
        params = optax.apply_updates(params, updates)
    return params, state


@pytest.mark.parametrize("name", list(LOW))
def test_low_precision_state_is_stored_bf16_and_stays_close(name):
    params = {
        "w": jnp.linspace(-1.0, 1.0, 12, dtype=jnp.float32).reshape(3, 4),
        "b": jnp.linspace(0.5, 1.5, 4, dtype=jnp.float32),
    }
    make = LOW[name]
    low_p, low_s = _run(make(mu_dtype=jnp.bfloat16, nu_dtype=jnp.bfloat16), params)
    ref_p, ref_s = _run(make(), params)
    # every per-parameter array in the state is bfloat16; the fp32 run keeps float32
    moments = [x for x in jax.tree.leaves(low_s) if jnp.ndim(x) > 0]
    assert moments and all(x.dtype == jnp.bfloat16 for x in moments)
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(ref_s) if jnp.ndim(x) > 0)
    assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(low_p))
    # same trajectory within bfloat16's resolution (8 bits of mantissa: ~0.4 % per value)
    for lo, ref, p0 in zip(
        jax.tree.leaves(low_p), jax.tree.leaves(ref_p), jax.tree.leaves(params), strict=True
    ):
        moved = np.asarray(ref - p0)
        np.testing.assert_allclose(
            np.asarray(lo - p0), moved, rtol=5e-2, atol=5e-2 * np.abs(moved).max()
        )


def test_low_precision_state_survives_jit_with_donation():
    tx = jopt.adam(1e-3, mu_dtype=jnp.bfloat16, nu_dtype=jnp.bfloat16)
    params = {"w": jnp.ones((8,), jnp.float32)}
    state = tx.init(params)

    def step(p, s, g):
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s

    step = jax.jit(step, donate_argnums=(0, 1))
    params, state = step(params, state, {"w": jnp.full((8,), 0.5, jnp.float32)})
    assert state[0].mu["w"].dtype == jnp.bfloat16 and params["w"].dtype == jnp.float32


@pytest.mark.slow
def test_low_precision_accuracy_script_runs(tmp_path):
    body = load("low_precision").main(["--seeds", "1", "--epochs", "1", "--out", ""])
    assert "| bfloat16 m, v |" in body and "| float32 m, v |" in body


@pytest.mark.slow
def test_float16_benchmark_runs_and_writes_its_table(tmp_path):
    out = tmp_path / "benchmarks.md"
    body = load("float16").main(["--steps", "3", "--adagrad-steps", "3", "--out", str(out)])
    assert "| 0.001 |" in body and "AdaGrad" in body
    assert "<!-- begin float16 -->" in out.read_text()


@pytest.mark.slow
def test_sweep_benchmark_runs_and_writes_its_table(tmp_path):
    args = ["--points", "2", "--epochs", "1", "--out", str(tmp_path / "sweep.md")]
    result = load("sweep").main(args)
    assert result["vmapped_s"] > 0 and result["sequential_s"] > 0
    assert "ratio" in (tmp_path / "sweep.md").read_text()


DOCUMENTED = [ROOT / "README.md", ROOT / "BUILD.md", BENCH / "gpu.sh"]
DOCUMENTED += sorted((ROOT / "docs").glob("*.md")) + sorted(BENCH.glob("*.py"))


def test_every_documented_benchmark_command_names_a_module():
    commands = {}
    for path in DOCUMENTED:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"python3? benchmarks/", text), f"{path.name}: a path, not -m"
        for name in re.findall(r"python3? -m benchmarks\.(\w+)", text):
            commands.setdefault(name, path.name)
        if path.name == "gpu.sh":
            commands.update(dict.fromkeys(re.findall(r"-m benchmarks\.(\w+)", text), "gpu.sh"))
    scripts = {p.stem for p in BENCH.glob("*.py") if not p.stem.startswith("_")}
    assert set(commands) == scripts, commands  # every script documented, each one exists
    # `python -m benchmarks.<name>` from the root: a package, each module a script
    assert (BENCH / "__init__.py").is_file()
    for name in scripts:
        assert 'if __name__ == "__main__":' in (BENCH / f"{name}.py").read_text(), name


def test_no_path_edits_in_the_benchmarks_and_the_docs_scripts():
    files = sorted(BENCH.glob("*.py")) + sorted((ROOT / "docs" / "site").glob("*.py"))
    edits = [
        p.name for p in files if re.search(r"sys\.path\.(insert|append)|PYTHONPATH", p.read_text())
    ]
    assert edits == []
