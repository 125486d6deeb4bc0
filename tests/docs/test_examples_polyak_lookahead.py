"""examples/extra_args_polyak_lookahead.py: Polyak SGD (the loss as ``value=``) and
Lookahead (fast and slow weights, evaluation at the slow ones) in Flax NNX loops."""

from __future__ import annotations

import importlib.util
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "extra_args_polyak_lookahead.py"


def test_polyak_and_lookahead_train_in_nnx(capsys):
    spec = importlib.util.spec_from_file_location("extra_args_polyak_lookahead", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    runs = module.main(["--steps", "20"])
    polyak, lookahead = runs["polyak_sgd"], runs["lookahead"]
    assert len(polyak) == len(lookahead) == 20
    assert polyak[-1] < 0.5 * polyak[0]  # 2.35 -> 0.71 at seed 0
    assert lookahead[-1] < 0.75 * lookahead[0]  # 2.35 -> 1.44
    out = capsys.readouterr().out
    accuracy = float(out.split("accuracy at the slow weights ")[1].split()[0])
    assert accuracy > 0.5  # 0.69: the slow weights, ten classes
