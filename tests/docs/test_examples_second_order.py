"""examples/extra_args_second_order.py keeps working: a short run of SAM's two-call loop
and Sophia's obj_fn loop in Flax NNX."""

from __future__ import annotations

import importlib.util
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "extra_args_second_order.py"


def load():
    spec = importlib.util.spec_from_file_location("extra_args_second_order", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sam_and_sophia_examples_learn(capsys):
    results = load().main(["--steps", "8"])
    for name in ("sam", "sophia"):
        losses, acc = results[name]
        assert losses[-1] < 0.9 * losses[0], (name, losses)  # descending from step 1
        assert all(b < a for a, b in zip(losses, losses[1:], strict=False)), (name, losses)
        assert acc > 0.3, (name, acc)  # 10 classes: chance is 0.1
    out = capsys.readouterr().out
    assert "sam" in out and "sophia" in out
