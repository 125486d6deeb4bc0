"""examples/schedule_free_nnx.py: a short schedule-free run in Flax NNX learns, and the
evaluation point is the average x read from the optimizer state (the model stays at y)."""

from __future__ import annotations

import jax
import numpy as np
from flax import nnx

from tests.docs.test_examples import load


def test_schedule_free_example_learns_and_evaluates_at_x(capsys):
    module = load("schedule_free_nnx")
    result = module.main(["--steps", "20", "--eval-every", "20"])
    assert result["eval point x"] > 0.7 and result["train point y"] > 0.7
    assert "at x" in capsys.readouterr().out

    # eval_model: x = (y − (1 − β1) z)/β1 from the nnx.Optimizer's state; y untouched
    model, optimizer = result["model"], result["optimizer"]
    leaves = lambda tree: [np.asarray(v) for v in jax.tree.leaves(tree)]  # noqa: E731
    ys = leaves(nnx.state(model, nnx.Param))
    zs = leaves(optimizer.opt_state.z)
    got = leaves(nnx.state(module.eval_model(model, optimizer), nnx.Param))
    for a, yy, zz in zip(got, ys, zs, strict=True):
        np.testing.assert_allclose(a, (yy - 0.1 * zz) / 0.9, rtol=1e-5, atol=1e-6)
    for a, yy in zip(leaves(nnx.state(model, nnx.Param)), ys, strict=True):
        np.testing.assert_array_equal(a, yy)
    assert any(not np.array_equal(a, yy) for a, yy in zip(got, ys, strict=True))
