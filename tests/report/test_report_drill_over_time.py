"""The drill page's "Over time" section: measured against predicted timelines, as PNGs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from twin.report.drill_over_time import FIGURES, over_time_figures
from twin.report.drill_page import render_drill_report

ROOT = Path(__file__).resolve().parents[2]
DRILL = ROOT / "scenarios/calibration/daily-peak-3e-4"


def _timeline(scale: float, *, lag: bool = True) -> pd.DataFrame:
    """Two request types over 20 intervals of 3 s; a backlog that builds and drains."""
    t = np.arange(20) * 3.0
    rows = []
    for rtype, base in (("segment", 20.0), ("telemetry", 4.0)):
        frame = pd.DataFrame({"t_s": t, "interval_s": 3.0, "service": rtype,
                              "arrivals": 10.0, "dropped": np.where(t > 30, 2.0, 0.0),
                              "latency_ms_p50": base * scale, "latency_ms_p95": 3 * base * scale,
                              "latency_ms_p99": 5 * base * scale})  # fmt: skip
        frame["completed"] = frame["arrivals"] - frame["dropped"]
        if lag:
            frame["ingest_backlog"] = np.clip(t - 10, 0, None) * scale
            frame["leaderboard_lag_s"] = 4.0 + np.where(t == 45, 20.0, 0.0)
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)


def test_four_figures_measured_against_predicted():
    figures = over_time_figures(_timeline(1.0), _timeline(1.2), [{"start_s": 10, "end_s": 45}])
    assert [f.key for f in figures] == ["latency", "failed", "backlog", "lag"]
    ax = figures[0].figure.axes[0]
    assert ax.get_xlim() == (0.0, 60.0)  # the drill's seconds, not the incident's end
    styles = {line.get_label(): line.get_linestyle() for line in ax.get_lines()}
    assert styles["p95 measured"] == "-" and styles["p95 predicted"] == "--"
    lag = figures[3].figure.axes[0].get_lines()
    assert max(lag[0].get_ydata()) == 24.0  # the measured lag's spike is drawn


def test_without_the_stream_columns_only_latency_and_failures():
    figures = over_time_figures(_timeline(1.0, lag=False), _timeline(1.0, lag=False))
    assert [f.key for f in figures] == ["latency", "failed"]
    assert over_time_figures(pd.DataFrame(), _timeline(1.0)) == []


def test_the_page_shows_the_section_with_its_files(tmp_path):
    measured = json.loads((DRILL / "summary.json").read_text())
    predicted = {**measured, "engine": "exact", "prediction": {"engine": "exact"}}
    page = render_drill_report(tmp_path, measured, predicted, timeseries=_timeline(1.0),
                               predicted_timeseries=_timeline(0.8)).read_text()  # fmt: skip
    assert 'id="over-time"' in page
    for name in FIGURES.values():
        assert (tmp_path / name).stat().st_size > 5_000 and f'src="{name}"' in page
    bare = render_drill_report(tmp_path / "b", measured, predicted).read_text()
    assert 'id="over-time"' not in bare
