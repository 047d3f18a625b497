"""`twin run --openmetrics`: the run's time series as OpenMetrics, checked by Prometheus' own
promtool (blocks created, series and samples as the run's summary says), and the Grafana
dashboard shipped for them."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from twin.cli.app import main
from twin.results.openmetrics import FAMILIES, openmetrics_text, parse_start

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "docs" / "grafana" / "twin-run.json"
START = "2026-12-06T00:00:00Z"
START_MS = int(datetime(2026, 12, 6, tzinfo=UTC).timestamp() * 1000)
RUNS = {  # engine -> the arguments of a short platform run on it
    "fluid": ("--engine", "fluid", "--riders", "20000"),
    "exact": ("--engine", "exact", "--scale", "0.001"),
}


def _tiny() -> tuple[dict, pd.DataFrame]:
    frame = pd.DataFrame(
        {
            "t_s": [0.0, 60.0, 0.0, 60.0],
            "interval_s": [60.0] * 4,
            "service": ["api", "api", "db", "db"],
            "arrivals": [10.0, 20.0, 5.0, 0.0],
            "completed": [10.0, 20.0, 5.0, 0.0],
            "dropped": [0.0, 1.0, 0.0, 0.0],
            "queue_mean": [0.5, 1.5, 0.0, 0.0],
            "in_system_mean": [1.0, 2.0, 0.1, 0.0],
            "utilization": [0.2, 0.4, 0.05, 0.0],
            "latency_ms_mean": [100.0, 200.0, 10.0, math.nan],
            "latency_ms_p50": [90.0, 150.0, 9.0, math.nan],
            "latency_ms_p95": [150.0, 300.0, 15.0, math.nan],
            "latency_ms_p99": [190.0, 390.0, 19.0, math.nan],
        }
    )
    summary = {"scenario": "tiny", "engine": "exact", "simulated_seconds": 120.0}
    return summary, frame


def _samples(text: str, name: str) -> list[tuple[str, float, float]]:
    """(labels, value, timestamp) of every sample line of `name`."""
    out = []
    for line in text.splitlines():
        m = re.fullmatch(rf"{name}(\{{[^}}]*\}}) (\S+) (\S+)", line)
        if m:
            out.append((m.group(1), float(m.group(2)), float(m.group(3))))
    return out


def test_counters_add_up_from_zero_and_samples_sit_at_interval_ends() -> None:
    summary, frame = _tiny()
    text = openmetrics_text(summary, frame, parse_start("2026-01-01T00:00:00+01:00"))
    t0 = datetime(2025, 12, 31, 23, tzinfo=UTC).timestamp()
    api = [s for s in _samples(text, "twin_service_arrivals_total") if 'service="api"' in s[0]]
    assert [(v, t - t0) for _, v, t in api] == [(0.0, 0.0), (10.0, 60.0), (30.0, 120.0)]
    util = _samples(text, "twin_service_utilization")
    assert [t - t0 for _, _, t in util] == [60.0, 120.0, 60.0, 120.0]
    # The latency summary: _count is completions so far, _sum their latency in seconds.
    sums = [v for lab, v, _ in _samples(text, "twin_service_latency_seconds_sum") if "api" in lab]
    assert sums == pytest.approx([1.0, 5.0])
    assert text.endswith("# EOF\n")


def test_an_interval_with_no_completions_is_a_gap_not_a_zero() -> None:
    summary, frame = _tiny()
    text = openmetrics_text(summary, frame, parse_start(START))
    db_p99 = [
        s for s in _samples(text, "twin_service_latency_seconds")
        if 'service="db"' in s[0] and 'quantile="0.99"' in s[0]
    ]  # fmt: skip
    assert [v for _, v, _ in db_p99] == [pytest.approx(0.019)]
    assert "nan" not in text.lower()


def test_labels_are_escaped_and_every_series_names_the_run() -> None:
    summary, frame = _tiny()
    summary["scenario"] = 'a "quoted"\\name'
    text = openmetrics_text(summary, frame, parse_start(START))
    assert 'scenario="a \\"quoted\\"\\\\name",engine="exact"' in text
    lines = [ln for ln in text.splitlines() if not ln.startswith("#")]
    assert lines and all('engine="exact"' in ln for ln in lines)


def test_a_start_without_an_offset_is_utc_and_a_bad_one_is_refused() -> None:
    assert parse_start("2026-12-06T07:00") == datetime(2026, 12, 6, 7, tzinfo=UTC)
    with pytest.raises(Exception, match="--openmetrics-start"):
        parse_start("tomorrow morning")
    assert main(["run", "mmc-example", "--openmetrics-start", "yesterday", "-q"]) == 2


# --- promtool on a real run of each engine --------------------------------------------------


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool is not installed (Debian package prometheus; .ci/run installs it)")
    return found


@pytest.fixture(scope="module", params=sorted(RUNS))
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A ten-minute daily-peak on one engine, with its OpenMetrics file."""
    out = tmp_path_factory.mktemp(f"om-{request.param}")
    args = [
        "run", "daily-peak", *RUNS[request.param], "--set", "duration_s=600",
        "--out", str(out / "run"), "--openmetrics", str(out / "run.om"),
        "--openmetrics-start", START, "-q",
    ]  # fmt: skip
    assert main(args) == 0
    return {
        "engine": request.param,
        "dir": out,
        "text": (out / "run.om").read_text(),
        "summary": json.loads((out / "run" / "summary.json").read_text()),
        "timeseries": pd.read_csv(out / "run" / "timeseries.csv"),
    }


def _dump(promtool: str, db: Path, match: str) -> list[tuple[str, float, int]]:
    """promtool's own reading of the blocks: (labels, value, timestamp ms) per sample."""
    (db / "wal").mkdir(exist_ok=True)  # `tsdb dump` opens the folder as a live TSDB
    proc = subprocess.run(
        [promtool, "tsdb", "dump", f"--match={match}", str(db)],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    rows = []
    for line in proc.stdout.splitlines():
        labels, value, stamp = line.rsplit(" ", 2)
        rows.append((labels, float(value), int(stamp)))
    return rows


@pytest.fixture(scope="module")
def blocks(run: dict, promtool: str) -> Path:
    db = run["dir"] / "tsdb"
    proc = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(run["dir"] / "run.om"),
         str(db)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    listing = subprocess.run(
        [promtool, "tsdb", "list", str(db)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert len(listing) >= 2, listing  # a header and at least one block
    return db


def test_promtool_reads_every_service_interval(run: dict, blocks: Path, promtool: str) -> None:
    ts = run["timeseries"]
    services = sorted(set(ts["service"]))
    intervals = ts["t_s"].nunique()
    rows = _dump(promtool, blocks, '{__name__="twin_service_utilization"}')
    per_service = {s: [r for r in rows if f'service="{s}"' in r[0]] for s in services}
    assert {s: len(v) for s, v in per_service.items()} == dict.fromkeys(services, intervals)
    width_ms = int(ts["interval_s"].iloc[0] * 1000)
    stamps = sorted({r[2] for r in rows})
    assert stamps == [START_MS + width_ms * (i + 1) for i in range(intervals)]
    assert all(f'engine="{run["engine"]}"' in r[0] for r in rows)


def test_promtool_counters_end_at_the_summarys_totals(run: dict, blocks: Path, promtool: str):
    summary = run["summary"]
    for service, block in summary["services"].items():
        rows = _dump(
            promtool, blocks, f'{{__name__="twin_service_arrivals_total",service="{service}"}}'
        )
        assert rows[0][1] == 0 and rows[0][2] == START_MS
        # no warm-up in a platform run: the summary counts every arrival (rounded)
        assert rows[-1][1] == pytest.approx(block["arrivals"], rel=1e-6, abs=1.0)
    for route, block in summary["requests"].items():
        rows = _dump(promtool, blocks, f'{{__name__="twin_requests_total",route="{route}"}}')
        end_ms = START_MS + int(summary["simulated_seconds"] * 1000)
        assert [(v, t) for _, v, t in rows] == [(0, START_MS), (block["count"], end_ms)]


def test_promtool_has_the_riders_view_and_the_cost_rate(run: dict, blocks: Path, promtool: str):
    intervals = run["timeseries"]["t_s"].nunique()
    riders = _dump(promtool, blocks, '{__name__="twin_active_riders"}')
    assert len(riders) == intervals and max(v for _, v, _ in riders) > 0
    degraded = _dump(promtool, blocks, '{__name__="twin_video_degraded_ratio"}')
    assert all(0 <= v <= 1 for _, v, _ in degraded)
    cost = _dump(promtool, blocks, '{__name__="twin_cost_usd_per_hour"}')
    by_component = run["summary"]["cost"]["by_component"]
    assert len(cost) == len(by_component) * intervals
    total = sum(v for _, v, t in cost if t == cost[0][2])
    assert total * 730 == pytest.approx(run["summary"]["cost"]["monthly_usd"], rel=1e-3)


# --- the Grafana dashboard -----------------------------------------------------------------


def _emitted_names(text: str) -> set[str]:
    return {line.split("{", 1)[0] for line in text.splitlines() if not line.startswith("#")}


def test_the_dashboard_graphs_only_series_a_run_writes(run: dict) -> None:
    board = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p["targets"]]
    exprs += [v["definition"] for v in board["templating"]["list"] if "definition" in v]
    used = {name for e in exprs for name in re.findall(r"\btwin_[a-z0-9_]+", e)}
    emitted = _emitted_names(run["text"])
    assert used and used <= emitted, sorted(used - emitted)
    # and every family the writer declares is on the board
    assert {f.name for f in FAMILIES} <= {re.sub(r"_(total|sum|count)$", "", n) for n in used}
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
