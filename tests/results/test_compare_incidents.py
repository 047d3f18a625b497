"""Incident windows on `twin compare`'s utilization-over-time figure, as in a run's report.

The figure function is checked on its artists (the hatched spans and their x extents, the
legend), first on hand-made runs, then on two real fluid runs of the live-broadcast-failure
scenario and its fix, which share their incident (the `live` origin down from 1,680 s).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.patches import Rectangle

from twin.cli.app import main
from twin.cli.compare import load_series
from twin.errors import InputError
from twin.report.compare_plots import compare_utilization_plot
from twin.results.compare import RunInput, compare

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def _spans(ax: Any) -> list[tuple[float, float, str]]:
    """(start, end, hatch) of each hatched span on an axis, in the axis' x unit."""
    return [
        (p.get_x(), p.get_x() + p.get_width(), p.get_hatch())
        for p in ax.patches
        if isinstance(p, Rectangle) and p.get_hatch()
    ]


def _legend(plot: Any) -> list[str]:
    return [t.get_text() for legend in plot.figure.legends for t in legend.get_texts()]


def _series(end_s: float, services: tuple[str, ...] = ("api", "db")) -> pd.DataFrame:
    t = np.arange(0.0, end_s, 60.0)
    return pd.DataFrame(
        {
            "t_s": np.repeat(t, len(services)),
            "interval_s": 60.0,
            "service": list(services) * len(t),
            "utilization": np.linspace(0.2, 0.9, len(t) * len(services)),
        }
    )


def _summary(engine: str, incidents: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "architecture": "phase3-global",
        "engine": engine,
        "services": {"api": {"utilization_peak": 0.9}, "db": {"utilization_peak": 0.4}},
        "incidents": incidents,
    }


API_DOWN = {"name": "api down", "service": "api", "start_s": 600, "end_s": 1200}
SURGE = {"name": "surge", "start_s": 1500}  # no end: to the end of the run
LATE = {"name": "late", "start_s": 5000, "end_s": 6000}  # after the 30 minutes plotted


def test_every_runs_windows_are_hatched_once_on_every_panel() -> None:
    fluid, exact = "phase3-global (fluid)", "phase3-global (exact)"
    comparison = compare(
        [
            RunInput("f", _summary("fluid", [API_DOWN])),
            RunInput("e", _summary("exact", [SURGE, API_DOWN, LATE])),
        ]
    )
    assert [(i.label, i.start_s, i.end_s, i.designs) for i in comparison.incidents] == [
        ("api down (api)", 600.0, 1200.0, (fluid, exact)),  # the same window of both: once
        ("surge", 1500.0, math.inf, (exact,)),
        ("late", 5000.0, 6000.0, (exact,)),
    ]
    incidents = comparison.as_dict()["incidents"]
    assert incidents[1]["end_s"] is None  # JSON has no infinity: to the end of the run
    plot = compare_utilization_plot(comparison, {fluid: _series(1800), exact: _series(1800)})
    assert plot is not None
    axes = plot.figure.axes
    assert [ax.get_title(loc="left") for ax in axes] == ["api", "db"]
    for ax in axes:  # 30 minutes in minutes: 10-20 min, and the open surge clipped at 30
        assert _spans(ax) == [
            (pytest.approx(10.0), pytest.approx(20.0), "//"),
            (pytest.approx(25.0), pytest.approx(30.0), "\\\\"),
        ]
        assert ax.get_xlim() == pytest.approx((0.0, 30.0))
    legend = _legend(plot)
    assert fluid in legend and exact in legend
    assert "incident: api down (api)" in legend  # both designs had it: no names added
    assert f"incident: surge ({exact})" in legend
    assert not any("late" in text for text in legend)
    assert "Hatched: incident windows" in plot.caption
    assert "1 incident window falls outside the plotted time" in plot.caption


def test_runs_without_incidents_draw_no_hatching() -> None:
    comparison = compare([RunInput("a", _summary("fluid", [])), RunInput("b", {"engine": "x"})])
    plot = compare_utilization_plot(comparison, {n: _series(600) for n in comparison.names})
    assert plot is not None and comparison.incidents == ()
    assert all(_spans(ax) == [] for ax in plot.figure.axes)
    assert "Hatched" not in plot.caption and not any("incident" in t for t in _legend(plot))


def test_a_malformed_incident_names_its_run() -> None:
    bad = _summary("fluid", [{"name": "x", "start_s": 50, "end_s": 10}])
    with pytest.raises(InputError, match=r"^broken/summary.json: 0.end_s: ends before it starts"):
        compare([RunInput("ok", _summary("exact", [])), RunInput("broken", bad)])


def _fluid_run(scenario: str, out: Path) -> Path:
    """A 40-minute fluid run on one-minute ticks, written as `twin run` writes its data."""
    from twin.results.files import prepare_out_dir, write_json, write_timeseries
    from twin.runs import run_file

    result = run_file(
        SCENARIOS / scenario,
        ["duration_s=2400", "tick_s=60"],
        engine="fluid",
        seed=None,
        replications=1,
    )
    prepare_out_dir(out)
    write_timeseries(out / "timeseries.csv", result.timeseries)
    write_json(out / "summary.json", result.summary)
    return out


def test_a_platform_incident_is_hatched_on_the_compare_page(tmp_path: Path) -> None:
    failure = _fluid_run("live-broadcast-failure.yaml", tmp_path / "failure")
    fixed = _fluid_run("live-broadcast-failure-fixed.yaml", tmp_path / "fixed")
    out = tmp_path / "cmp"
    assert main(["compare", str(failure), str(fixed), "--out", str(out), "-q"]) == 0
    data = json.loads((out / "compare.json").read_text())
    names = [d["name"] for d in data["designs"]]
    # Both scenarios take `live` down from 18:28 (1,680 s) to 20:28 (8,880 s): one window.
    assert data["incidents"] == [
        {
            "label": "component down: live (live)",
            "start_s": 1680.0,
            "end_s": 8880.0,
            "designs": names,
        }
    ]
    assert (out / "compare-utilization.png").is_file()
    assert "Hatched: incident windows" in (out / "compare.html").read_text()
    runs = [
        RunInput(p.name, json.loads((p / "summary.json").read_text())) for p in (failure, fixed)
    ]
    comparison = compare(runs)
    series = dict(zip(comparison.names, (load_series(failure), load_series(fixed)), strict=True))
    plot = compare_utilization_plot(comparison, series)
    assert plot is not None
    for ax in plot.figure.axes:  # 40 minutes in minutes: 28 min to the end of the run
        assert _spans(ax) == [(pytest.approx(28.0), pytest.approx(40.0), "//")]
    assert "incident: component down: live (live)" in _legend(plot)
