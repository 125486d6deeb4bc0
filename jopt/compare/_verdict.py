"""The verdict rule: when a measured effect bears a claim out, and when it does not.

A claim is split into parts, each an effect measured per seed in the direction the claim
states (positive: as claimed) and the smallest effect that counts (``threshold``). With m
the mean of the per-seed effects and s their standard deviation (0 for a deterministic run):

* borne out:      m − MARGIN·s > threshold (the effect clears the threshold by MARGIN seed
                  standard deviations);
* not borne out:  m + MARGIN·s < threshold (it falls short of it by as much);
* inconclusive:   otherwise, and whenever a part rests on a learning rate at the limit of its
                  grid, on fewer than two seeds of a stochastic run, or on a diverged run.

A claim is borne out when all of its parts are, not borne out when any part is not, and
inconclusive otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MARGIN = 2.0  # seed standard deviations between the mean effect and the threshold

BORNE_OUT = "borne out"
NOT_BORNE_OUT = "not borne out"
INCONCLUSIVE = "inconclusive"
NOT_MEASURED = "not measured"

RULE = (
    "Each claim is split into parts; each part is an effect measured per seed in the direction "
    "the claim states, and a threshold, the smallest effect that counts. With m the mean effect "
    "over seeds and s its standard deviation (0 for a deterministic run: full batch from a fixed "
    f"start): **borne out** when m − {MARGIN:g}·s exceeds the threshold, **not borne out** when "
    f"m + {MARGIN:g}·s falls below it, **inconclusive** otherwise, and whenever a part rests on "
    "a learning rate at the limit of its grid, on a single seed of a stochastic run, or on a "
    "diverged run. A claim is borne out when all its parts are, not borne out when any part is "
    "not. Ratios are compared on a log10 scale, so a threshold of ×2 is 0.301."
)


@dataclass
class Part:
    """One part of a claim: per-seed effects and the threshold they are judged against."""

    what: str
    effects: np.ndarray  # [seeds]
    threshold: float
    deterministic: bool = False
    blocker: str | None = None  # why no verdict can rest on it (an edge optimum, …)

    @property
    def verdict(self) -> str:
        if self.blocker is not None:
            return INCONCLUSIVE
        return decide(self.effects, self.threshold, deterministic=self.deterministic)


def decide(effects, threshold: float, *, deterministic: bool = False) -> str:
    """The rule above for one part."""
    e = np.asarray(effects, np.float64).ravel()
    if e.size == 0 or not np.all(np.isfinite(e)):
        return INCONCLUSIVE
    if deterministic:
        spread = 0.0
    elif e.size < 2:
        return INCONCLUSIVE
    else:
        spread = float(np.std(e, ddof=1))
    mean = float(np.mean(e))
    if mean - MARGIN * spread > threshold:
        return BORNE_OUT
    if mean + MARGIN * spread < threshold:
        return NOT_BORNE_OUT
    return INCONCLUSIVE


def combine(verdicts: list[str]) -> str:
    """A claim from its parts: all borne out, any not borne out, else inconclusive."""
    if not verdicts or NOT_MEASURED in verdicts:
        return NOT_MEASURED
    if all(v == BORNE_OUT for v in verdicts):
        return BORNE_OUT
    if NOT_BORNE_OUT in verdicts:
        return NOT_BORNE_OUT
    return INCONCLUSIVE
