"""Measurements on the runs, the deck's claims and their verdicts.

Every number in a claim's text is measured on the run's arrays; every verdict applies the
rule of ``_verdict`` to per-seed effects and a threshold stated at each claim below:

* ``RATIO`` = 2: a claim that one thing is smaller than another ("damps", "grows again",
  "gets closer") counts when the ratio is at least 2 (0.301 on the log10 scale the rule
  uses), well clear of float32 rounding and of the spacing of the learning-rate grid;
* ``minima``: SGD reaches the global basin in at least 20 percentage points more of its runs
  than GD, and GD in at most 10% of them ("stays");
* ``valley``: GD reverses direction across the valley on at least half of its steps (a
  monotone approach reverses on none);
* ``plateau``: AdaGrad's last effective step is within 5% of its smallest (its step only
  shrinks; 5% leaves room for float32 rounding, not for growth).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from jopt.compare import _verdict as V
from jopt.compare._optimizers import OPTIMIZERS

RATIO = 2.0
LOG_RATIO = float(np.log10(RATIO))
MINIMA_GAP = 0.2  # SGD's share of runs in the global basin above GD's
MINIMA_STAY = 0.1  # GD's share of runs in the global basin, at most
VALLEY_REVERSALS = 0.5  # GD's share of steps that reverse direction across the valley
ADAGRAD_SHRINK = 1.05  # AdaGrad's last step / smallest step, at most
TINY = 1e-30  # a floor for ratios of losses that reached 0
THRESHOLDS = (
    f"a ratio (Momentum's and Adam's damping, RMSprop's and Adam's growing step, AdaGrad's "
    f"stall, a schedule's distance to the minimum) counts from ×{RATIO:g}; on `minima` SGD "
    f"must end in the global basin in {MINIMA_GAP:.0%} more of its runs than GD, and GD in at "
    f'most {MINIMA_STAY:.0%} ("stays"); on `valley` GD must reverse direction on at least '
    f"{VALLEY_REVERSALS:.0%} of its steps; on `plateau` AdaGrad's last step must stay within "
    f'{ADAGRAD_SHRINK - 1:.0%} of its smallest ("only shrinks").'
)


def fmt(x: float, digits: int = 3) -> str:
    """Fixed significant digits; non-finite values (a diverged run) print as ``diverged``."""
    x = float(x)
    if not np.isfinite(x):
        return "diverged"
    return f"{x:.{digits}g}"


def fmt_spread(values, digits: int = 3) -> str:
    """Mean ± standard deviation over seeds; a single value prints alone."""
    v = np.asarray(values, np.float64).ravel()
    if not np.all(np.isfinite(v)):
        return "diverged" if v.size == 1 else f"diverged in {int(np.sum(~np.isfinite(v)))}/{v.size}"
    if v.size == 1:
        return fmt(v[0], digits)
    return f"{fmt(v.mean(), digits)} ± {fmt(v.std(ddof=1), 2)}"


def label(name: str) -> str:
    return OPTIMIZERS[name].label if name in OPTIMIZERS else name


def _finite(a) -> np.ndarray:
    a = np.asarray(a, np.float64)
    return np.where(np.isfinite(a), a, np.inf)


@dataclass
class Result:
    """One problem's runs: ``runs`` maps optimizer -> ``Runs``."""

    problem: Any  # the Problem entry (jopt.compare._problems)
    runs: dict = field(default_factory=dict)
    steps: int = 0
    seeds: int = 1
    task: Any = None  # the Task of a data problem
    optimizers: dict = field(default_factory=dict)  # name -> Optimizer, of ``runs``

    def best(self, optimizer: str, k: int = 0) -> int:
        """Index of the best learning rate of ``optimizer`` under schedule ``k``."""
        return self.problem.select(self, self.runs[optimizer], k)

    def limit(self, optimizer: str, i: int) -> str | None:
        """Why no verdict can rest on lr index ``i`` of ``optimizer``: it is at a grid limit."""
        side = self.runs[optimizer].at_limit(i)
        if side is None:
            return None
        lr = fmt(self.runs[optimizer].lrs[i], 2)
        bound = "≤" if side == "low" else "≥"
        return (
            f"{label(optimizer)}'s best lr on `{self.problem.name}` is {bound} {lr}, the grid limit"
        )


@dataclass
class Study:
    """Everything the report, the figures and the terminal table are made from."""

    seed: int
    seeds: int
    optimizers: tuple[str, ...]
    results: dict[str, Result] = field(default_factory=dict)  # in the registry's order


def per_seed(runs, values: np.ndarray) -> np.ndarray:
    """Values over the run axis (last) averaged over each seed's starts: ``[..., seeds]``."""
    v = np.asarray(values, np.float64)
    return v.reshape(*v.shape[:-1], runs.seeds, -1).mean(axis=-1)


def final_losses(runs, k: int = 0) -> np.ndarray:
    """Per learning rate, the final full-batch loss averaged over runs (inf if any diverged)."""
    return _finite(runs.loss[:, k, :, -1]).mean(axis=1)


def lowest_final_loss(result: Result, runs, k: int) -> int:
    """The default best learning rate: the lowest final loss, ties broken by the lowest
    mean loss over the run (the faster one, when several reach the same float32 value)."""
    del result
    area = _finite(runs.loss[:, k]).mean(axis=(1, 2))
    return int(np.lexsort((area, final_losses(runs, k)))[0])


def global_fraction(runs, barrier: float, k: int = 0) -> np.ndarray:
    """``[L, seeds]``: the share of each seed's runs that end left of ``barrier``."""
    x = np.asarray(runs.trajectory[:, k, :, -1, 0], np.float64)
    return per_seed(runs, np.isfinite(x) & (x < barrier))


def oscillation(runs, i: int) -> tuple[float, float]:
    """Across-valley oscillation of run ``i`` (first run), coordinate y.

    Returns (reversals, zig-zag): the share of consecutive moves across the valley that
    reverse direction (of the moves that happen: once y reaches 0 in float32 it stops
    moving), and Σ_t |y_{t+1} − 2y_t + y_{t−1}| / (4|y_0|), the total zig-zag in units of the
    starting offset (a step-to-step flip between ±c adds c/|y_0|).
    """
    y = np.asarray(runs.trajectory[i, 0, 0, :, 1], np.float64)
    if not np.all(np.isfinite(y)):
        return float("inf"), float("inf")
    turns = np.diff(y)[1:] * np.diff(y)[:-1]
    moving = turns != 0
    reversals = float(np.mean(turns[moving] < 0)) if moving.any() else 0.0
    zigzag = float(np.sum(np.abs(np.diff(y, 2))) / (4.0 * abs(y[0])))
    return reversals, zigzag


def step_recovery(runs, i: int) -> tuple[float, float]:
    """Effective step ‖Δθ‖/‖g‖ of run ``i`` (first run): (last / smallest, last / first)."""
    s = np.asarray(runs.step_size[i, 0, 0], np.float64)
    if not np.all(np.isfinite(s)) or s.min() <= 0:
        return float("nan"), float("nan")
    return float(s[-1] / s.min()), float(s[-1] / s[0])


def index_of(runs, lr: float) -> int | None:
    hit = np.flatnonzero(np.isclose(runs.lrs, lr, rtol=1e-4))
    return int(hit[0]) if hit.size else None


def distance_to_minimum(result: Result, runs, i: int, k: int) -> np.ndarray:
    """Per seed: final loss − the known minimum (data problems with ``min_loss``; float32
    rounding can put a loss a hair below it: 0), else the final loss."""
    final = np.asarray(runs.loss[i, k, :, -1], np.float64)
    if result.task is not None and result.task.min_loss is not None:
        final = np.maximum(final - result.task.min_loss, 0.0)
    return per_seed(runs, final)


@dataclass
class Claim:
    claim: str
    problem: str  # the problem it is measured on
    measured: str
    verdict: str
    parts: list[V.Part] = field(default_factory=list)

    @classmethod
    def judged(cls, claim: str, problem: str, measured: str, parts: list[V.Part]) -> Claim:
        blockers = sorted({p.blocker for p in parts if p.blocker})
        if blockers:
            measured += "; no verdict rests on it: " + "; ".join(blockers)
        return cls(claim, problem, measured, V.combine([p.verdict for p in parts]), parts)


def _missing(study: Study, text: str, problem: str, *optimizers: str) -> Claim | None:
    result = study.results.get(problem)
    lacking = [o for o in optimizers if result is None or o not in result.runs]
    if result is not None and not lacking:
        return None
    need = f"problem `{problem}` and " if result is None else ""
    what = need + "optimizers " + ", ".join(f"`{o}`" for o in optimizers)
    return Claim(text, problem, f"needs {what}", V.NOT_MEASURED)


def _at(result: Result, optimizer: str, lr: float, name: str) -> tuple[int, str | None]:
    """The index of ``lr`` in ``optimizer``'s grid, or a blocker when it was not tried."""
    j = index_of(result.runs[optimizer], lr)
    if j is None:
        return 0, f"{label(optimizer)} did not try {name}'s best lr {fmt(lr, 2)}"
    return j, None


def _log_ratio(a, b) -> np.ndarray:
    """log10(a / b), each floored at ``TINY``; non-finite where either diverged."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log10(np.maximum(a, TINY)) - np.log10(np.maximum(b, TINY))


def minima_claim(study: Study, name: str) -> Claim:
    text = (
        "Full-batch GD stays in the local minimum it reaches first; the noise of random "
        "mini-batches lets SGD escape to the global one."
    )
    if (missing := _missing(study, text, name, "gd", "sgd")) is not None:
        return missing
    result = study.results[name]
    runs, barrier = result.runs, result.problem.surface.barrier
    i = result.best("sgd")
    lr = runs["sgd"].lrs[i]
    j, absent = _at(result, "gd", lr, "SGD")
    f_gd, f_sgd = global_fraction(runs["gd"], barrier)[j], global_fraction(runs["sgd"], barrier)[i]
    starts = runs["sgd"].loss.shape[2]
    blocker = result.limit("sgd", i) or absent
    measured = (
        f"{starts} random starts in the local basin ({runs['sgd'].seeds} seeds × "
        f"{starts // runs['sgd'].seeds} starts); at SGD's best lr {fmt(lr, 2)} the share of runs "
        f"ending in the global basin is {fmt_spread(f_gd, 2)} for GD and {fmt_spread(f_sgd, 2)} "
        "for SGD (batch size 1), mean ± sd over seeds"
    )
    parts = [
        V.Part("GD stays", 1.0 - f_gd, 1.0 - MINIMA_STAY, blocker=blocker),
        V.Part("SGD escapes", f_sgd - f_gd, MINIMA_GAP, blocker=blocker),
    ]
    return Claim.judged(text, name, measured, parts)


def valley_claim(study: Study, name: str) -> Claim:
    text = "GD oscillates across a deep narrow valley; Momentum and NAG damp the oscillation."
    need = ("gd", "momentum", "nesterov")
    if (missing := _missing(study, text, name, *need)) is not None:
        return missing
    result = study.results[name]
    runs = result.runs
    i = result.best("gd")
    lr = runs["gd"].lrs[i]
    rev_gd, zz_gd = oscillation(runs["gd"], i)
    parts = [
        V.Part("GD reverses", np.array([rev_gd]), VALLEY_REVERSALS, True, result.limit("gd", i))
    ]
    measured = (
        f"full batch, one deterministic run each; at GD's best lr {fmt(lr, 2)} GD reverses "
        f"direction across the valley on {rev_gd:.0%} of its steps, zig-zag {fmt(zz_gd)}"
    )
    for o in ("momentum", "nesterov"):
        j, absent = _at(result, o, lr, "GD")
        rev, zz = oscillation(runs[o], j)
        effect = _log_ratio(zz_gd, zz).reshape(1)
        blocker = result.limit("gd", i) or absent
        parts.append(V.Part(f"{o} damps", effect, LOG_RATIO, True, blocker))
        if absent is None:
            ratio = fmt(10 ** float(effect[0]), 2)
            measured += f"; {label(o)} at the same lr: {rev:.0%}, zig-zag {fmt(zz)} (÷{ratio})"
    return Claim.judged(text, name, measured, parts)


def plateau_claim(study: Study, name: str) -> Claim:
    text = (
        "AdaGrad's step size only shrinks, so early large gradients stall it; RMSprop's "
        "moving average lets the step grow again."
    )
    if (missing := _missing(study, text, name, "adagrad", "rmsprop")) is not None:
        return missing
    result = study.results[name]
    runs = result.runs
    i, i_rms = result.best("adagrad"), result.best("rmsprop")
    lr = runs["adagrad"].lrs[i]
    j, absent = _at(result, "rmsprop", lr, "AdaGrad")
    blocker = result.limit("adagrad", i)
    (ra, sa), (rr, _) = step_recovery(runs["adagrad"], i), step_recovery(runs["rmsprop"], j)
    la, l_rms = final_losses(runs["adagrad"])[i], final_losses(runs["rmsprop"])[i_rms]
    measured = (
        f"cliff then plateau, full batch, one deterministic run each; at AdaGrad's best lr "
        f"{fmt(lr, 2)} its effective step ‖Δθ‖/‖g‖ ends at {fmt(sa)}× its first value and "
        f"{fmt(ra)}× its smallest"
    )
    if absent is None:
        measured += f"; RMSprop's at the same lr ends at {fmt(rr)}× its smallest"
    measured += (
        f"; final loss at each one's best lr: AdaGrad {fmt(la)} (lr {fmt(lr, 2)}), RMSprop "
        f"{fmt(l_rms)} (lr {fmt(runs['rmsprop'].lrs[i_rms], 2)})"
    )
    stall = _log_ratio(la, l_rms).reshape(1)
    parts = [
        V.Part("AdaGrad shrinks", -np.log10([ra]), -np.log10(ADAGRAD_SHRINK), True, blocker),
        V.Part("RMSprop grows", np.log10([rr]), LOG_RATIO, True, blocker or absent),
        V.Part("AdaGrad stalls", stall, LOG_RATIO, True, blocker or result.limit("rmsprop", i_rms)),
    ]
    return Claim.judged(text, name, measured, parts)


def adam_claim(study: Study, name: str) -> Claim:
    text = "Adam combines both: Momentum's damping in the valley and RMSprop's recovering step."
    for problem, need in (("valley", ("gd", "adam")), (name, ("adagrad", "adam"))):
        if (missing := _missing(study, text, problem, *need)) is not None:
            return Claim(text, f"valley, {name}", missing.measured, V.NOT_MEASURED)
    valley, plateau = study.results["valley"], study.results[name]
    i_gd, i_adam = valley.best("gd"), valley.best("adam")
    z_gd = oscillation(valley.runs["gd"], i_gd)[1]
    z_adam = oscillation(valley.runs["adam"], i_adam)[1]
    j = plateau.best("adagrad")
    lr = plateau.runs["adagrad"].lrs[j]
    jj, absent = _at(plateau, "adam", lr, "AdaGrad")
    rec = step_recovery(plateau.runs["adam"], jj)[0]
    damp = _log_ratio(z_gd, z_adam)
    measured = (
        f"valley, each at its best lr: zig-zag Adam {fmt(z_adam)} vs GD {fmt(z_gd)} "
        f"(÷{fmt(10 ** float(damp), 2)})"
    )
    if absent is None:
        measured += (
            f"; {name} at AdaGrad's best lr {fmt(lr, 2)}: Adam's effective step ends at "
            f"{fmt(rec)}× its smallest"
        )
    parts = [
        V.Part(
            "Adam damps",
            damp.reshape(1),
            LOG_RATIO,
            True,
            valley.limit("gd", i_gd) or valley.limit("adam", i_adam),
        ),
        V.Part(
            "Adam grows",
            np.log10([rec]),
            LOG_RATIO,
            True,
            plateau.limit("adagrad", j) or absent,
        ),
    ]
    return Claim.judged(text, f"valley, {name}", measured, parts)


def schedule_claim(study: Study, name: str) -> Claim:
    """Constant lr vs StepLR and cosine for mini-batch SGD, the claim's subject, each schedule
    at its own best lr, paired by seed; the other optimizers are measured alongside."""
    text = (
        "A constant step size keeps the iterate from settling; a decaying schedule "
        "(StepLR, cosine) gets closer to the minimum."
    )
    if (missing := _missing(study, text, name, "sgd")) is not None:
        return missing
    result = study.results[name]
    runs, problem = result.runs, result.problem
    known = result.task is not None and result.task.min_loss is not None
    what = "final loss − the known minimum" if known else "final training loss"
    k = {s: runs["sgd"].schedules.index(s) for s in ("constant", "step", "cosine")}
    tags = {"constant": "constant", "step": "StepLR", "cosine": "cosine"}
    parts: list[V.Part] = []
    texts = []
    for o, r in runs.items():
        noisy = not problem.full_batch(result.optimizers[o])
        best = {s: result.best(o, k[s]) for s in k}
        value = {s: distance_to_minimum(result, r, best[s], k[s]) for s in k}
        cells, verdicts = [], []
        for s in k:
            cell = f"{tags[s]} {fmt_spread(value[s], 2)} (lr {fmt(r.lrs[best[s]], 2)})"
            if s != "constant" and noisy:
                effect = _log_ratio(value["constant"], value[s])
                ratio = 10 ** float(np.mean(effect))
                cell += (
                    f", ×{fmt(ratio, 2)} closer"
                    if ratio >= 1
                    else f", ×{fmt(1 / ratio, 2)} farther"
                )
                blocker = result.limit(o, best["constant"]) or result.limit(o, best[s])
                part = V.Part(f"{o} {tags[s]}", effect, LOG_RATIO, blocker=blocker)
                verdicts.append(f"{tags[s]} {part.verdict}")
                if o == "sgd":
                    parts.append(part)
            cells.append(cell)
        if not noisy:
            note = "no gradient noise, not judged"
        else:
            note = "the claim's subject" if o == "sgd" else "; ".join(verdicts)
        texts.append(f"{label(o)} ({note}): " + ", ".join(cells))
    measured = (
        f"{what}, mean ± sd over {runs['sgd'].seeds} seeds, each schedule at its own best lr, "
        f"{result.steps} steps: " + "; ".join(texts)
    )
    if not known:
        lowest = min(float(np.min(_finite(r.loss[:, :, :, -1]))) for r in runs.values())
        measured += f". The lowest final training loss of any run is {fmt(lowest, 2)}"
    notes = [c.note for c in problem.claims if c.measure is schedule_claim and c.note]
    measured += "".join(". " + n for n in notes)
    return Claim.judged(text, name, measured, parts)
