"""The examples keep working (a short run of each)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # each trains a model (some beside torch or Keras)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


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


def test_port_keras_matches_keras_model_fit(capsys):
    # The same batches from the same weights: Keras' model.fit and the jopt port end on
    # the same EMA weights, up to float32 rounding.
    result = load("port_keras").main(["--epochs", "1"])
    assert result["difference"] < 1e-4
    assert abs(result["keras"][0] - result["jopt"][0]) < 1e-4
    assert result["jopt"][1] > 0.5
    assert "jopt.compat.keras.AdamW" in capsys.readouterr().out


def test_resume_from_keras_continues_the_keras_run(capsys):
    # Keras trains an epoch and saves run.keras; Keras and jopt + Flax NNX (weights and
    # optimizer state read from the file) go on on the same batches: the same losses.
    result = load("resume_from_keras").main(["--epochs", "2"])
    np.testing.assert_allclose(result["jopt"], result["keras"], rtol=1e-4)
    assert result["jopt"][1] < result["jopt"][0]
    assert "Keras (model.fit)" in capsys.readouterr().out


def test_port_pytorch_mnist_follows_torch(capsys):
    # PyTorch's recipe (Adadelta lr=1, StepLR gamma=0.7 per epoch) in real torch and in
    # jopt + Flax NNX, same weights and batches: the loss curves agree to float32 rounding.
    result = load("port_pytorch_mnist").main(["--epochs", "2"])
    np.testing.assert_allclose(result["jopt"], result["torch"], rtol=1e-4)
    assert result["jopt"][1] < result["jopt"][0]
    assert result["lr"] == pytest.approx(0.7)  # the second epoch ran at 1.0 · 0.7
    assert "PyTorch" in capsys.readouterr().out


def test_resume_from_pytorch_continues_the_torch_run(capsys):
    # model, optimizer (AdamW, two groups) and OneCycleLR saved by torch after one epoch:
    # torch and jopt + Flax NNX continue from those files on the same batches.
    result = load("resume_from_pytorch").main(["--epochs", "3"])
    np.testing.assert_allclose(result["jopt"], result["torch"], rtol=1e-4)
    np.testing.assert_allclose(*result["rates"], rtol=1e-6)
    assert result["jopt"][1] < result["jopt"][0]
    assert "jopt continues the PyTorch run" in capsys.readouterr().out


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


@pytest.mark.slow
def test_plot_schedules_writes_a_png(tmp_path):
    out = load("plot_schedules").main(["--out", str(tmp_path / "grid.png"), "--steps", "60"])
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
