"""Measurements on the runs, the deck's claims and their verdicts.

Every number in a claim's text is measured on the run's arrays. Each verdict compares those
numbers with fixed thresholds, stated at each claim below with the reason for its value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


def fmt(x: float, digits: int = 3) -> str:
    """Fixed significant digits; non-finite values (a diverged run) print as ``diverged``."""
    x = float(x)
    if not np.isfinite(x):
        return "diverged"
    return f"{x:.{digits}g}"


def _finite(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, np.float64)
    return np.where(np.isfinite(a), a, np.inf)


def final_losses(runs) -> np.ndarray:
    """Mean over seeds of the last full-batch loss, per learning rate (inf if diverged)."""
    return _finite(runs.loss[:, :, -1]).mean(axis=1)


def global_fraction(runs, barrier: float) -> np.ndarray:
    """Per learning rate, the fraction of seeds that end left of ``barrier`` (the global basin)."""
    x = runs.trajectory[:, :, -1, 0]
    return np.mean(np.isfinite(x) & (x < barrier), axis=1)


def lowest_final_loss(problem, runs) -> int:
    """The default best learning rate: the lowest final loss."""
    del problem
    return int(np.argmin(final_losses(runs)))


def oscillation(runs, i: int) -> tuple[float, float]:
    """Across-valley oscillation of run ``i`` (seed 0), coordinate y.

    Returns (reversals, zig-zag): the fraction of steps that reverse the direction of
    motion across the valley, and Σ_t |y_{t+1} − 2y_t + y_{t−1}| / (4|y_0|), the total
    zig-zag in units of the starting offset (a step-to-step flip between ±c adds c/|y_0|).
    """
    y = np.asarray(runs.trajectory[i, 0, :, 1], np.float64)
    if not np.all(np.isfinite(y)):
        return float("inf"), float("inf")
    dy = np.diff(y)
    reversals = float(np.mean(dy[1:] * dy[:-1] < 0)) if dy.size > 1 else 0.0
    zigzag = float(np.sum(np.abs(np.diff(y, 2))) / (4.0 * abs(y[0])))
    return reversals, zigzag


def step_recovery(runs, i: int) -> tuple[float, float]:
    """Effective step ‖Δθ‖/‖g‖ of run ``i`` (seed 0): (last / smallest, last / first)."""
    s = np.asarray(runs.step_size[i, 0], np.float64)
    if not np.all(np.isfinite(s)) or s.min() <= 0:
        return float("nan"), float("nan")
    return float(s[-1] / s.min()), float(s[-1] / s[0])


@dataclass
class Claim:
    claim: str
    measured: str
    verdict: bool | None  # None: not measured (a problem or optimizer was left out)

    @property
    def verdict_text(self) -> str:
        return {True: "borne out", False: "not borne out", None: "not measured"}[self.verdict]


@dataclass
class Result:
    """One problem's runs: ``runs`` maps optimizer -> its runs; ``budget`` is a sentence
    fragment for the report's header when the problem's step budget differs from ``--steps``."""

    problem: Any  # the Problem entry (jopt.compare._problems)
    runs: dict
    budget: str | None = None

    def best(self, optimizer: str) -> int:
        return self.problem.select(self.problem, self.runs[optimizer])


@dataclass
class Study:
    """Everything the report, the figures and the terminal table are made from."""

    steps: int
    seed: int
    optimizers: tuple[str, ...]
    results: dict[str, Result] = field(default_factory=dict)  # in the registry's order


def digits_best(runs, k: int = 0) -> int:
    """Best lr of one schedule: highest final validation accuracy, then lowest training loss."""
    val = np.nan_to_num(runs.val_acc[:, k, -1], nan=-1.0)
    return int(np.lexsort((_finite(runs.train_loss[:, k, -1]), -val))[0])


def _has(study: Study, problem: str, *optimizers: str) -> bool:
    result = study.results.get(problem)
    return result is not None and all(o in result.runs for o in optimizers)


def _missing(problem: str, *optimizers: str) -> str:
    return f"needs problem `{problem}` and optimizers {', '.join(f'`{o}`' for o in optimizers)}"


def valley_claim(study: Study) -> Claim:
    text = "GD oscillates across a deep narrow valley; Momentum and NAG damp the oscillation."
    need = ("gd", "momentum", "nesterov")
    if not _has(study, "valley", *need):
        return Claim(text, _missing("valley", *need), None)
    runs = study.results["valley"].runs
    i = study.results["valley"].best("gd")
    lr = runs["gd"].lrs[i]
    osc = {o: oscillation(runs[o], i) for o in need}
    measured = (
        f"at GD's best lr {fmt(lr)}: GD reverses direction across the valley on "
        f"{osc['gd'][0]:.0%} of steps, zig-zag {fmt(osc['gd'][1])}; at the same lr Momentum "
        f"{osc['momentum'][0]:.0%}, zig-zag {fmt(osc['momentum'][1])}; NAG "
        f"{osc['nesterov'][0]:.0%}, zig-zag {fmt(osc['nesterov'][1])}"
    )
    gd_diverged = [float(x) for x in runs["gd"].lrs[~np.isfinite(final_losses(runs["gd"]))]]
    if gd_diverged:
        lo = min(gd_diverged)
        j = int(np.flatnonzero(np.isclose(runs["gd"].lrs, lo))[0])
        mom_ok = np.isfinite(final_losses(runs["momentum"])[j])
        mom = "converges to " + fmt(final_losses(runs["momentum"])[j]) if mom_ok else "diverges too"
        measured += f"; at lr {fmt(lo)} GD diverges, Momentum {mom}"
    # GD oscillates: it reverses direction on at least half of its steps (a monotone approach
    # reverses on none); damped: Momentum's and NAG's total zig-zag is below GD's.
    verdict = (
        osc["gd"][0] >= 0.5
        and osc["momentum"][1] < osc["gd"][1]
        and osc["nesterov"][1] < osc["gd"][1]
    )
    return Claim(text, measured, bool(verdict))


def minima_claim(study: Study) -> Claim:
    text = (
        "Full-batch GD stays in the local minimum it reaches first; the noise of random "
        "mini-batches lets SGD escape to the global one."
    )
    if not _has(study, "minima", "gd", "sgd"):
        return Claim(text, _missing("minima", "gd", "sgd"), None)
    result = study.results["minima"]
    runs, barrier = result.runs, result.problem.surface.barrier
    seeds = runs["gd"].trajectory.shape[1]
    i = result.best("sgd")
    lr = runs["sgd"].lrs[i]
    f_gd, f_sgd = global_fraction(runs["gd"], barrier), global_fraction(runs["sgd"], barrier)
    per_lr = ", ".join(
        f"{fmt(a)}: {g:.0%} vs {s:.0%}" for a, g, s in zip(runs["gd"].lrs, f_gd, f_sgd, strict=True)
    )
    measured = (
        f"{seeds} random starts in the local basin; at SGD's best lr {fmt(lr)}, "
        f"{f_gd[i]:.0%} of GD runs and {f_sgd[i]:.0%} of SGD runs (batch size 1) end in the "
        f"global basin (GD vs SGD at every lr: {per_lr})"
    )
    # GD stays: under 10% of its runs reach the global basin; SGD escapes: at least 20 points
    # more of its runs do (with 64 starts, 20 points is 13 runs: not a fluke of a few seeds).
    return Claim(text, measured, bool(f_gd[i] < 0.1 and f_sgd[i] >= f_gd[i] + 0.2))


def plateau_claim(study: Study) -> Claim:
    text = (
        "AdaGrad's step size only shrinks, so early large gradients stall it; RMSprop's "
        "moving average lets the step grow again."
    )
    if not _has(study, "plateau", "adagrad", "rmsprop"):
        return Claim(text, _missing("plateau", "adagrad", "rmsprop"), None)
    runs = study.results["plateau"].runs
    i = study.results["plateau"].best("adagrad")
    lr = runs["adagrad"].lrs[i]
    (ra, sa), (rr, _) = step_recovery(runs["adagrad"], i), step_recovery(runs["rmsprop"], i)
    la, lr_ = final_losses(runs["adagrad"])[i], final_losses(runs["rmsprop"])[i]
    measured = (
        f"cliff then plateau, both at AdaGrad's best lr {fmt(lr)}: AdaGrad's effective step "
        f"‖Δθ‖/‖g‖ ends at {fmt(sa)}× its first value and {fmt(ra)}× its smallest, final "
        f"loss {fmt(la)}; RMSprop's ends at {fmt(rr)}× its smallest, final loss {fmt(lr_)}"
    )
    # "only shrinks": AdaGrad's last step is within 5% of its smallest (float32 rounding, not
    # growth); "grows again": RMSprop's last step is at least twice its smallest; and RMSprop
    # ends lower.
    return Claim(text, measured, bool(ra <= 1.05 and rr >= 2.0 and lr_ < la))


def adam_claim(study: Study) -> Claim:
    text = "Adam combines both: Momentum's damping in the valley and RMSprop's recovering step."
    if not (_has(study, "valley", "gd", "adam") and _has(study, "plateau", "adagrad", "adam")):
        return Claim(
            text, "needs problems `valley`, `plateau` and optimizers `gd`, `adagrad`, `adam`", None
        )
    valley, plateau = study.results["valley"].runs, study.results["plateau"].runs
    i_gd, i_adam = study.results["valley"].best("gd"), study.results["valley"].best("adam")
    z_gd, z_adam = oscillation(valley["gd"], i_gd)[1], oscillation(valley["adam"], i_adam)[1]
    j = study.results["plateau"].best("adagrad")
    rec = step_recovery(plateau["adam"], j)[0]
    measured = (
        f"valley, each at its best lr: zig-zag Adam {fmt(z_adam)} vs GD {fmt(z_gd)}; plateau at "
        f"lr {fmt(plateau['adam'].lrs[j])}: Adam's effective step ends at {fmt(rec)}× its smallest"
    )
    # the valley and plateau criteria above: less zig-zag than GD, a step that at least doubles
    return Claim(text, measured, bool(z_adam < z_gd and rec >= 2.0))


def schedule_claim(study: Study) -> Claim:
    text = (
        "A constant step size keeps the iterate from settling; a decaying schedule "
        "(StepLR, cosine) gets closer to the minimum."
    )
    if "digits" not in study.results:
        return Claim(text, "needs problem `digits`", None)
    digits = study.results["digits"].runs
    parts, wins = [], {}
    for k, name in ((1, "StepLR"), (2, "cosine")):
        better = [
            o
            for o, r in digits.items()
            if _finite(r.train_loss[:, k, -1]).min() < _finite(r.train_loss[:, 0, -1]).min()
        ]
        acc = [
            (r.test_acc[digits_best(r, k), k, -1], r.test_acc[digits_best(r, 0), 0, -1])
            for r in digits.values()
        ]
        wins[name] = len(better)
        parts.append(
            f"{name} lowers the best final training loss for {len(better)} of "
            f"{len(digits)} optimizers (test accuracy at the validation-chosen lr: higher "
            f"for {sum(a > b for a, b in acc)}, lower for {sum(a < b for a, b in acc)})"
        )
    measured = "digits MLP, best lr of each: " + "; ".join(parts)
    # borne out when a decaying schedule lowers the training loss for most optimizers
    return Claim(text, measured, bool(max(wins.values()) * 2 > len(digits)))
