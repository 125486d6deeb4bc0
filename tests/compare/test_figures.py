"""The figures draw what the claims compare: read from the matplotlib figure's lines (their
data and labels), not from pixels."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from jopt.compare import _claims as C
from jopt.compare import _figures


def _saved(monkeypatch) -> dict[str, Figure]:
    """Figures by file name, as the figure functions save them."""
    saved: dict[str, Figure] = {}

    def savefig(self, path, **kwargs):
        saved[Path(path).name] = self

    monkeypatch.setattr(Figure, "savefig", savefig)
    return saved


@pytest.mark.slow
def test_valley_paths_are_drawn_at_gds_best_rate_as_the_claim_compares(
    valley, tmp_path, monkeypatch
):
    # The claim: at GD's best rate GD zig-zags across the valley, Momentum and NAG damp it.
    # Each at its own best rate (Momentum's is 10× GD's here) the figure would contradict it.
    saved = _saved(monkeypatch)
    assert _figures.contour(tmp_path, valley) == {"valley": "valley.png"}
    ax = saved["valley.png"].axes[0]
    runs = valley.runs
    lr = runs["gd"].lrs[valley.best("gd")]
    assert runs["momentum"].lrs[valley.best("momentum")] != lr  # the two choices differ
    lines = {line.get_label().split(" (")[0]: line for line in ax.get_lines()}
    for o, r in runs.items():
        j = C.index_of(r, lr)
        path = r.trajectory[j, 0, 0]
        path = path[np.all(np.isfinite(path), axis=1)]
        np.testing.assert_array_equal(lines[o].get_xdata(), path[:, 0], err_msg=o)
        np.testing.assert_array_equal(lines[o].get_ydata(), path[:, 1], err_msg=o)
        assert lines[o].get_label() == f"{o} (lr {C.fmt(lr, 2)})"
    assert f"every optimizer at GD's best lr {C.fmt(lr, 2)}" in ax.get_title()


@pytest.mark.slow
def test_drawn_rates_are_each_optimizers_best_without_a_claims_rate(valley):
    assert set(_figures.drawn_rates(valley).values()) == {valley.best("gd")}
    own = dataclasses.replace(valley, problem=dataclasses.replace(valley.problem, paths_at=None))
    assert _figures.drawn_rates(own) == {o: own.best(o) for o in own.runs}
    assert "best lr per optimizer" in _figures.contour_figure(own).axes[0].get_title()
