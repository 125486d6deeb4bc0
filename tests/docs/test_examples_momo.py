"""examples/extra_args_momo.py: MoMo in a Flax NNX loop, the loss passed as ``value=``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "extra_args_momo.py"


def test_momo_example_trains_with_the_loss_as_value(capsys):
    spec = importlib.util.spec_from_file_location("extra_args_momo", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    losses = module.main(["--steps", "20"])
    assert len(losses) == 20 and losses[-1] < 0.6 * losses[0]  # 2.35 -> 0.97 at seed 0
    assert "momo (cap α = 1)" in capsys.readouterr().out
