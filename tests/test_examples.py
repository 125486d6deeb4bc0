"""The examples keep working (a short run of each)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("optimizer", ["adam", "nesterov"])
def test_train_digits_nnx_learns(optimizer, capsys):
    lr = "1e-2" if optimizer == "adam" else "0.3"
    args = ["--optimizer", optimizer, "--lr", lr, "--epochs", "2"]
    accuracy = load("train_digits_nnx").main(args)
    assert accuracy > 0.8
    assert "epoch  2" in capsys.readouterr().out


def test_train_sharded_prints_the_state_bytes_of_each_layout(capsys):
    example = load("train_sharded")
    args = ["--devices", "8", "--steps", "3", "--batch-size", "16"]
    runs = {layout: example.main(["--layout", layout, *args]) for layout in example.LAYOUTS}
    out = capsys.readouterr().out
    total = runs["replicated"]["total"]
    assert f"optimizer state: {total} bytes in all" in out and "device 7:" in out
    assert list(runs["replicated"]["state_bytes"].values()) == [total] * 8
    for layout in ("sharded", "zero1"):  # a 1/8 of each moment, but the 10 biases of l2
        per_device = list(runs[layout]["state_bytes"].values())
        assert per_device == [per_device[0]] * 8 and per_device[0] < total / 8 + 100, layout
    # the same numbers whichever layout
    for layout in ("sharded", "zero1"):
        for name, value in runs[layout]["params"].items():
            np.testing.assert_allclose(value, runs["replicated"]["params"][name], rtol=1e-5)
