"""Multi-process training on JAX's distributed runtime: 2 processes × 4 CPU devices.

examples/train_sharded.py trains a Flax NNX MLP on the digits with jopt.adam: the batch
split over the 8 devices, params replicated, the optimizer state split over them
(ZeRO-1, jopt.sharding.state_shardings). Run as two processes that find each other
through jax.distributed.initialize on 127.0.0.1 (gloo collectives), it must end with the
params of the same script run in one process on 8 devices, and on 1 device.
"""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "train_sharded.py"
TIMEOUT_S = 60  # for the pair: both are killed when it runs out
STEPS = "20"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_example():
    spec = importlib.util.spec_from_file_location("train_sharded", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def float32():
    x64 = jax.config.jax_enable_x64  # the script runs as a user runs it: float32
    jax.config.update("jax_enable_x64", False)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", x64)


def run_pair(tmp_path: Path) -> tuple[list[Path], float]:
    env = dict(os.environ)
    flags = re.sub(r"--xla_force_host_platform_device_count=\d+", "", env.get("XLA_FLAGS", ""))
    env["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count=4".strip()
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    address = f"127.0.0.1:{free_port()}"
    saved = [tmp_path / f"process{i}.npz" for i in range(2)]
    logs = [tmp_path / f"process{i}.log" for i in range(2)]
    start = time.monotonic()
    procs = []
    for i in range(2):
        args = ["--layout", "zero1", "--steps", STEPS, "--coordinator", address]
        args += ["--num-processes", "2", "--process-id", str(i), "--save", str(saved[i])]
        with open(logs[i], "w") as log:
            procs.append(
                subprocess.Popen(
                    [sys.executable, str(SCRIPT), *args],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=tmp_path,
                )
            )
    failure = None
    try:
        for p in procs:
            p.wait(timeout=max(0.0, TIMEOUT_S - (time.monotonic() - start)))
    except subprocess.TimeoutExpired:
        failure = f"the pair did not finish within {TIMEOUT_S} s; both killed"
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    elapsed = time.monotonic() - start
    codes = [p.returncode for p in procs]
    if failure is None and any(codes):
        failure = f"exit codes {codes}"
    if failure is not None:
        outputs = "\n".join(
            f"----- process {i} (exit {codes[i]}) -----\n{logs[i].read_text()}" for i in range(2)
        )
        pytest.fail(f"{failure} after {elapsed:.1f} s\n{outputs}")
    return saved, elapsed


def assert_same(params: dict, reference: dict, what: str) -> None:
    assert params.keys() == reference.keys(), what
    for name, want in reference.items():
        got = params[name]
        assert got.dtype == want.dtype == np.float32, (what, name, got.dtype)
        scale = np.max(np.abs(want))
        err = np.max(np.abs(got.astype(np.float64) - want)) / scale
        assert err <= 1e-6, f"{what}: {name} differs by {err:.2e} of its largest entry"


@pytest.mark.slow
def test_two_processes_train_like_one_process_and_one_device(tmp_path, float32, capsys):
    saved, elapsed = run_pair(tmp_path)
    pair = [dict(np.load(f)) for f in saved]
    example = load_example()
    steps = ["--steps", STEPS]
    eight = example.main(["--layout", "zero1", "--devices", "8", *steps])
    one = example.main(["--layout", "replicated", "--devices", "1", *steps])
    assert "device 7:" in capsys.readouterr().out
    assert eight["losses"][-1] < 0.7 * eight["losses"][0]  # it learns
    assert_same(pair[1], pair[0], "process 1 vs process 0")
    assert_same(pair[0], eight["params"], "2 processes vs 1 process on 8 devices")
    assert_same(pair[0], one["params"], "2 processes vs 1 device")
    print(f"2-process run: {elapsed:.1f} s")
