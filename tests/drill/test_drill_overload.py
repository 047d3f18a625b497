"""An overload drill: the 2020 New Year surge's CDN shortfall, replayed on a real `twin serve`.

The surge's CDN cannot send what the riders ask for; the drill replays that on the local
platform as a cap on the origin's egress (`origin_egress_bps`, scaled like the riders), a few
seconds in. The origin's byte bucket then runs behind: segments wait, up to the 8 s a player
rides out, and past that are refused with 503. The short drill below (15 s at 1/33,000 of the
surge, 120x) checks that the overload happened for real (503s from the origin, segments
waiting seconds), that the prediction over time (`predicted-timeseries.csv`) foresaw both on
the same intervals, and that the report shows them, measured against predicted.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import pandas as pd
import pytest

from twin.cli.app import main
from twin.report.drill_over_time import FIGURES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("overload")
    with redirect_stdout(io.StringIO()):
        code = main([
            "drill", str(ROOT / "scenarios/new-year-surge.yaml"), "--target", "local",
            "--scale", "3e-5", "--speedup", "120", "--duration", "15", "--out", str(out),
            "--quiet",
        ])  # fmt: skip
    assert code == 0
    return {
        "out": out,
        "summary": json.loads((out / "summary.json").read_text()),
        "measured": pd.read_csv(out / "timeseries.csv"),
        "predicted": pd.read_csv(out / "predicted-timeseries.csv"),
    }


def test_the_origin_was_overloaded_for_real(drill):
    faults = drill["summary"]["drill"]["faults_applied"]
    assert any(f.get("origin_egress_bps") for f in faults), faults  # the cap was applied
    segment = drill["summary"]["requests"]["segment"]
    assert segment["errors"] > 0.1 * segment["count"]  # refused: the bucket ran 8 s behind
    # the admitted ones waited seconds (unloaded, a segment's p99 is tens of ms); the tail
    # itself sits near 4 s and moved to 3.94 s once on a busy machine, so the bound is 2 s
    assert segment["latency_ms"]["p99"] > 2000


def _segments(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["service"] == "segment"].set_index("t_s").sort_index()


def test_the_prediction_over_time_foresaw_the_waits_and_the_503s(drill):
    m, p = _segments(drill["measured"]), _segments(drill["predicted"])
    assert list(m.index) == list(p.index)  # the same intervals
    # before the cap: no segment refused, either way; after it: both refuse
    assert m["dropped"].iloc[:2].sum() == 0 and p["dropped"].iloc[:2].sum() == 0
    assert m["dropped"].sum() > 0 and p["dropped"].sum() > 0
    # the share of segment requests refused: the prediction sends the plan's segments, while a
    # player waiting seconds for one asks for the next later (35-40 measured against 49-51
    # planned; fewer still when the machine is busy), so the counts differ more than the share
    measured = m["dropped"].sum() / m["arrivals"].sum()
    predicted = p["dropped"].sum() / p["arrivals"].sum()
    assert 0.5 < predicted / measured < 2.0, (measured, predicted)
    # latency growth: the p95 climbs from tens of ms to seconds in both
    # (on a loaded machine Locust may fetch no segment in the first intervals: nothing to judge)
    before = m["latency_ms_p95"].iloc[:2].dropna()
    assert (before < 1000).all() and p["latency_ms_p95"].iloc[:2].max() < 1000
    assert m["latency_ms_p95"].max() > 3000 and p["latency_ms_p95"].max() > 3000
    # the platform-wide columns are predicted too
    assert {"ingest_backlog", "leaderboard_lag_s"} <= set(drill["predicted"].columns)


def test_the_whole_drills_prediction_has_the_overload_too(drill):
    predicted = json.loads((drill["out"] / "predicted.json").read_text())
    segment, reps = predicted["requests"]["segment"], predicted["replications"]
    measured = drill["summary"]["requests"]["segment"]
    assert 0.4 < segment["errors"] / reps / measured["errors"] < 2.5
    assert segment["latency_ms"]["p99"] > 4000


def test_the_report_shows_the_overload_over_time(drill):
    page = (drill["out"] / "report.html").read_text()
    assert 'id="over-time"' in page
    for name in FIGURES.values():
        assert (drill["out"] / name).stat().st_size > 10_000, name
        assert f'src="{name}"' in page
