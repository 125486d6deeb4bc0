"""The verdict rule: per-seed effects against a threshold, two standard deviations of margin;
deterministic parts, blockers and the combination of parts. The verdicts of synthetic effects
follow from the rule's arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from jopt.compare import _verdict as V

LOG2 = float(np.log10(2.0))


@pytest.mark.parametrize(
    ("effects", "verdict"),
    [
        ([0.9, 1.0, 1.1, 0.95, 1.05], V.BORNE_OUT),  # ×10 in every seed
        ([0.01, -0.02, 0.0, 0.02, -0.01], V.NOT_BORNE_OUT),  # no effect
        ([-0.5, -0.4, -0.6, -0.45, -0.55], V.NOT_BORNE_OUT),  # the opposite effect
        ([0.1, 0.6, 0.3, 0.5, 0.0], V.INCONCLUSIVE),  # mean 0.3, sd 0.25: overlaps ×2
        ([0.7, 0.8], V.BORNE_OUT),  # mean 0.75, sd 0.071: 0.75 − 0.14 > 0.30
        ([0.4, 0.9], V.INCONCLUSIVE),  # mean 0.65, sd 0.35: 0.65 − 0.71 < 0.30
        ([1.0], V.INCONCLUSIVE),  # one seed of a stochastic run: no spread measured
        ([1.0, np.inf, 1.0], V.INCONCLUSIVE),  # a diverged run
    ],
)
def test_verdict_rule_on_synthetic_effects(effects, verdict):
    assert V.decide(effects, LOG2) == verdict


def test_verdict_rule_deterministic_parts_blockers_and_combination():
    assert V.decide([0.31], LOG2, deterministic=True) == V.BORNE_OUT
    assert V.decide([0.29], LOG2, deterministic=True) == V.NOT_BORNE_OUT
    blocked = V.Part("x", np.array([5.0, 5.0]), LOG2, blocker="at the grid limit")
    assert blocked.verdict == V.INCONCLUSIVE
    yes, no, open_ = V.BORNE_OUT, V.NOT_BORNE_OUT, V.INCONCLUSIVE
    assert V.combine([yes, yes]) == yes
    assert V.combine([yes, open_]) == open_
    assert V.combine([open_, no, yes]) == no
    assert V.combine([yes, V.NOT_MEASURED]) == V.NOT_MEASURED
