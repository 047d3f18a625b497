"""A real drill: `twin drill --target local` starts `twin serve`, Locust rides it, we measure.

One short drill (about 20 s of load, well under a minute in all) is shared by the tests below.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.yaml_reads import counting_yaml_reads
from twin.cli.app import main
from twin.config.architecture import OPTIONAL_TYPES, REQUEST_TYPES, load_architecture
from twin.drill.tracking import SERIES_FILE, read_series, tracking
from twin.report.series import check_columns
from twin.serve.metrics import LAG_BUCKETS

ROOT = Path(__file__).resolve().parents[2]
# daily-peak plays no music that follows cadence: no tempo (tests/drill/test_drill_tempo.py)
DRIVEN = [t for t in REQUEST_TYPES if t not in OPTIONAL_TYPES]
CONTRACT = ("scenario", "architecture", "engine", "riders", "seed", "replications",
            "simulated_seconds", "wall_seconds", "services", "requests", "experience", "slo",
            "bottlenecks")  # fmt: skip


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("drill")
    printed = io.StringIO()
    with redirect_stdout(printed), counting_yaml_reads() as reads:
        code = main([
            "drill", str(ROOT / "scenarios/daily-peak.yaml"), "--target", "local",
            "--scale", "3e-4", "--speedup", "180", "--out", str(out), "--json",
            "--request-log",
        ])  # fmt: skip
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert json.loads(printed.getvalue()) == summary  # --json prints the measured summary
    return {"out": out, "summary": summary, "yaml_reads": reads}


def test_the_drill_read_its_scenario_file_once(drill):
    reads = drill["yaml_reads"]
    assert reads[str((ROOT / "scenarios/daily-peak.yaml").resolve())] == 1
    # the scenario's architecture and the target's model (reference-platform): once each
    assert all(n == 1 for n in reads.values()), reads


def test_every_request_type_was_sent_with_under_one_percent_errors(drill):
    requests = drill["summary"]["requests"]
    for rtype in DRIVEN:
        assert requests[rtype]["count"] > 0, rtype
    total = sum(r["count"] for r in requests.values())
    errors = sum(r["errors"] for r in requests.values())
    assert total > 300  # ~20 riders for 20 s: about 0.9 requests per rider-second
    assert errors / total < 0.01


def test_summary_has_the_contract_keys(drill):
    summary = drill["summary"]
    assert all(key in summary for key in CONTRACT)
    assert summary["engine"] == "drill"
    assert summary["simulated_seconds"] == pytest.approx(3600.0)
    for rtype in DRIVEN:
        lat = summary["requests"][rtype]["latency_ms"]
        assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"]
    # coordinated-omission correction never makes a request faster than it was
    seg = summary["requests"]["segment"]
    assert seg["latency_ms"]["p99"] >= seg["service_latency_ms"]["p99"]


def test_locust_and_hdr_counts_agree(drill):
    summary = drill["summary"]
    locust = summary["drill"]["locust"]
    for rtype in DRIVEN:
        ours, theirs = summary["requests"][rtype]["count"], locust[rtype]["count"]
        # a request still in flight when the shape stops the users may land in one view only
        assert abs(ours - theirs) <= max(2, 0.02 * theirs), rtype


def test_the_request_log_has_every_request_the_histograms_counted(drill):
    log = pd.read_csv(drill["out"] / "requests.csv")
    summary = drill["summary"]
    assert len(log) == summary["drill"]["requests_total"]
    counts = log.groupby("type").size().to_dict()
    for rtype, block in summary["requests"].items():
        assert counts.get(rtype, 0) == block["count"], rtype
        rows = log[log["type"] == rtype]
        assert int((rows["ok"] == 0).sum()) == block["errors"], rtype
        if block["count"] >= 50:  # the same requests: the histogram's p50 is the log's median
            # HdrHistogram's p50 is a sample (the lower middle one when the count is even,
            # to 3 significant digits); pandas' median averages the two middle ones, which
            # differ when the latencies are bimodal (sent behind a response or on its own)
            ordered = np.sort(rows["latency_ms"].to_numpy())
            low, high = ordered[(len(rows) - 1) // 2], ordered[len(rows) // 2]
            p50 = block["latency_ms"]["p50"]
            assert low * 0.998 - 0.001 <= p50 <= high * 1.002 + 0.001, (rtype, low, p50, high)
    assert log["sent_s"].is_monotonic_increasing
    assert log["sent_s"].between(-2.0, 30.0).all()  # drill seconds (20 s of load)


def test_the_summary_counts_the_sessions_by_kind(drill):
    sessions = drill["summary"]["drill"]["sessions"]
    assert sessions["started"] == sessions["live"] + sessions["on_demand"] > 0
    # live classes run most of the hour on `twin serve`; in a gap of its schedule a session
    # meant to be live is counted as such and rides on demand
    assert sessions["live"] + sessions["live_unjoinable"] > 0
    assert sessions["live_unjoinable"] <= sessions["on_demand"]


def test_users_follow_the_shape(drill):
    tracked = drill["summary"]["drill"]["tracking"]
    assert tracked["riders_error_max"] is not None
    assert tracked["riders_error_max"] < 0.10  # 5 % is the target; the CI machine is busy


def test_both_sides_cpu_under_load_is_recorded(drill):
    """What `twin calibrate` splits into the loops' costs: the Locust process's CPU while it
    rode, and the target's own `process_cpu_seconds_total` across the drill."""
    d = drill["summary"]["drill"]
    wall = d["locust_wall_s"]
    for key in ("load_cpu_s", "target_cpu_s"):
        # busy, but one core at most (both are single event loops; 1.2 leaves room for
        # the target's SQLite and recommender threads)
        assert 0.0 < d[key] < 1.2 * wall, key
    # each request costs both sides some CPU: more than 50 us, less than 50 ms
    assert 5e-5 < d["load_cpu_s"] / d["requests_total"] < 0.05
    # the recommendation cache's lookups during the drill: one per answered recommendation
    counters = d["target_counters"]
    answered = drill["summary"]["requests"]["recommend"]
    lookups = counters["recommendation_cache_hit"] + counters["recommendation_cache_miss"]
    assert lookups == answered["count"] - answered["errors"] > 0


@pytest.mark.skipif(not Path("/proc/self/schedstat").exists(), reason="no schedstat")
def test_both_sides_wait_for_a_cpu_is_recorded_and_predicted_with(drill):
    """The time each side spent runnable but waiting for a CPU (`/proc/<pid>/schedstat`):
    non-negative, within the wall time of every process's threads, the processes' shares
    adding up to the drill's; the prediction states the wait per CPU second it read."""
    d = drill["summary"]["drill"]
    wall = d["locust_wall_s"]
    assert 0.0 <= d["load_wait_s"] < 2 * wall and 0.0 <= d["target_wait_s"] < 10 * wall
    shares = d["load_shares"]
    assert sum(s["wait_s"] for s in shares) == pytest.approx(d["load_wait_s"], abs=1e-3)
    assert sum(s["requests"] for s in shares) == d["requests_total"]
    predicted = json.loads((drill["out"] / "predicted.json").read_text())["prediction"]
    r = (d["load_wait_s"] + d["target_wait_s"]) / (d["load_cpu_s"] + d["target_cpu_s"])
    assert predicted["wait_per_cpu"] == pytest.approx(r, rel=1e-3)
    # the shipped file carries its calibration drills' wait: the stall factor is on, (1 + r) /
    # (1 + r_cal), and the speed index is the CPU index times it
    r_cal = predicted["calibration_wait_per_cpu"]
    shipped = load_architecture(ROOT / "scenarios/architectures/reference-platform.yaml")
    assert r_cal > 0 and r_cal == pytest.approx(shipped.load_cpu.wait_per_cpu, abs=1e-4)
    assert predicted["stall_factor"] == pytest.approx((1 + r) / (1 + r_cal), rel=1e-3)
    assert predicted["speed_index"] == pytest.approx(
        predicted["cpu_index"] * predicted["stall_factor"], rel=1e-3)
    # and the target's own: its CPU over what the file's `target_cpu` says this work costs,
    # times the same stall factor
    from twin.drill.predict import drill_seconds, drill_volume

    requests, mb = drill_volume(drill["summary"])
    t = shipped.target_cpu
    expected = t.per_request_s * requests + t.per_mb_s * mb + t.per_s * drill_seconds(
        drill["summary"])  # fmt: skip
    assert predicted["target_cpu_index"] == pytest.approx(d["target_cpu_s"] / expected, rel=2e-3)
    assert predicted["target_speed_index"] == pytest.approx(
        predicted["target_cpu_index"] * predicted["stall_factor"], rel=2e-3)


def test_gate_reads_a_drill_summary(drill):
    out, summary = drill["out"], drill["summary"]
    expected = 0 if all(v["passed"] for v in summary["slo"]) else 1
    assert main(["gate", str(out), "--junit", str(out / "junit.xml"), "--quiet"]) == expected
    junit = (out / "junit.xml").read_text()
    assert all(v["name"] in junit for v in summary["slo"])
    assert main(["gate", str(out), "--slo", "requests.join.latency_ms.p99<=0.001"]) == 1


def test_unreachable_host_is_one_line_and_exit_2(tmp_path, capsys):
    code = main(["drill", str(ROOT / "scenarios/daily-peak.yaml"), "--host",
                 "http://127.0.0.1:9", "--out", str(tmp_path / "x")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("twin: cannot reach http://127.0.0.1:9")
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x" / "summary.json").exists()


def test_the_tracking_series_is_the_one_the_summary_was_computed_from(drill):
    """`tracking.csv` (per drill second) recomputes the summary's tracking windows exactly, and
    the report's "Load shape" section shows them and plots the series."""
    out, tracked = drill["out"], drill["summary"]["drill"]["tracking"]
    series = read_series(out / SERIES_FILE)
    assert series is not None and series["t_s"].size == drill["summary"]["drill"]["duration_s"]
    again = tracking(series["riders_requested"], series["riders_achieved"],
                     series["rate_requested"], series["rate_achieved"],
                     window=tracked["window_s"])  # fmt: skip
    for mine, theirs in zip(again["windows"], tracked["windows"], strict=True):
        assert mine["riders_error"] == pytest.approx(theirs["riders_error"], abs=2e-4)
        assert mine["rate_error"] == pytest.approx(theirs["rate_error"], abs=2e-4)
    seconds, requests = drill["summary"]["drill"]["duration_s"], drill["summary"]["requests"]
    assert series["rate_achieved"].sum() == pytest.approx(
        sum(requests[t]["achieved_per_s"] for t in DRIVEN) * seconds, abs=1
    )  # every modelled request sent within the drill's seconds, in the second it was sent
    page = (out / "report.html").read_text()
    assert '<section id="tracking">' in page and (out / "tracking.png").is_file()


def test_the_drill_writes_a_timeline_that_the_run_report_plots(drill):
    """`timeseries.csv` holds, per 1 s window and request type, what was sent, answered and
    failed and the latency percentiles; it adds up to the summary, and the report plots it."""
    out, summary = drill["out"], drill["summary"]
    ts = pd.read_csv(out / "timeseries.csv")
    check_columns(ts)
    seconds = summary["drill"]["duration_s"]
    for rtype in DRIVEN:
        mine, block = ts[ts["service"] == rtype], summary["requests"][rtype]
        assert mine["arrivals"].sum() == pytest.approx(block["achieved_per_s"] * seconds, abs=1)
        assert mine["latency_ms_p99"].max() <= block["latency_ms"]["max"] * 1.01, rtype
        assert (mine["completed"] + mine["dropped"]).tolist() == mine["arrivals"].tolist()
    # each second's p99 lag lies in the histogram bucket of the drill's worst, or below it
    lag = ts["leaderboard_lag_s"].dropna()
    assert len(lag) >= seconds // 2
    worst = summary["experience"]["leaderboard_lag_s"]["max"]
    assert 0 < lag.max() <= min(b for b in LAG_BUCKETS if b >= worst)
    for image in ("latency.png", "throughput.png", "leaderboard_lag_s.png"):
        assert (out / image).is_file(), image


def test_riders_are_sampled_in_the_middle_of_every_drill_second(drill):
    """The load processes note their users at each drill second's middle, and the tracking
    series is those samples (not Locust's history, whose rows can land mid-spawn)."""
    from twin.drill.wire import RECORD_GLOB, read_records

    seconds = 20  # an hour at 180x
    summed: dict[int, int] = {}
    for path in (drill["out"] / "load").glob(RECORD_GLOB):
        for second, n in read_records(path).users.items():
            summed[second] = summed.get(second, 0) + n
    assert sorted(summed) == list(range(seconds))
    series = pd.read_csv(drill["out"] / SERIES_FILE)
    assert series["riders_achieved"].tolist() == [float(summed[k]) for k in range(seconds)]
    assert min(summed.values()) > 0  # riders from the first second on
