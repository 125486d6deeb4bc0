"""The deck claims' measurements: the valley's oscillation at one rate, AdaGrad's step that
only shrinks against RMSprop's that grows again, and no verdict on a single seed."""

from __future__ import annotations

import numpy as np
import pytest

from jopt.compare import _claims as C
from jopt.compare import _verdict as V
from jopt.compare._optimizers import OPTIMIZERS
from jopt.compare._problems import PROBLEMS, run, task_problem
from tests.support.study import quadratic_task


@pytest.mark.slow
def test_valley_claim_momentum_damps_gd_oscillation(valley):
    # At the same learning rate, where GD zig-zags across the valley (α·curvature = 1.78),
    # Momentum and NAG zig-zag far less.
    runs = valley.runs
    i = int(np.flatnonzero(np.isclose(runs["gd"].lrs, 0.178, rtol=1e-2))[0])
    rev_gd, zz_gd = C.oscillation(runs["gd"], i)
    assert rev_gd > 0.9
    for name in ("momentum", "nesterov"):
        j = C.index_of(runs[name], runs["gd"].lrs[i])
        rev, zz = C.oscillation(runs[name], j)
        assert rev < rev_gd and zz < zz_gd / 2


def test_plateau_claim_adagrad_step_only_shrinks():
    opts = {o: OPTIMIZERS[o] for o in ("adagrad", "rmsprop")}
    runs = run(PROBLEMS["plateau"], opts, 40, 1, 3).runs
    for i in range(len(runs["adagrad"].lrs)):
        s = runs["adagrad"].step_size[i, 0, 0]
        assert np.all(np.diff(s) <= 1e-6 * s[:-1])  # never grows
        assert s[-1] < s[0]
    j = int(np.flatnonzero(np.isclose(runs["rmsprop"].lrs, 0.316, rtol=1e-2))[0])
    assert C.step_recovery(runs["rmsprop"], j)[0] > 1.05  # RMSprop's step grows again


def test_no_verdict_rests_on_a_single_seed():
    # one seed of a stochastic run: no spread measured, whatever the effect (a quadratic,
    # 20 steps, do)
    opts = {o: OPTIMIZERS[o] for o in ("gd", "sgd")}
    result = run(task_problem("q", quadratic_task(1.0)), opts, 20, 1, 0)
    claim = C.schedule_claim(C.Study(0, 1, tuple(opts), {"q": result}), "q")
    assert [p.what for p in claim.parts] == ["sgd StepLR", "sgd cosine"]
    assert all(len(p.effects) == 1 and p.verdict == V.INCONCLUSIVE for p in claim.parts)
    assert claim.verdict == V.INCONCLUSIVE
