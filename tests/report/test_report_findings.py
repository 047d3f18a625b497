"""Plain-language findings, checked sentence by sentence against hand-computed figures."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.report.report_fake import API_LATENCY_MS
from twin.report.findings import headlines, service_findings
from twin.results.reading import Window


def _service(util: float, p99: float, wait: float, latency: float, **more: Any) -> dict[str, Any]:
    return {
        "arrivals": 1000.0,
        "completed": 1000.0,
        "dropped": 0.0,
        "utilization_mean": util,
        "utilization_peak": more.pop("peak", util),
        "wait_ms": {"mean": wait, "ci95": None},
        "latency_ms": {"mean": latency, "p99": p99, "ci95": more.pop("ci", None)},
        **more,
    }


def _erlang_c_by_erlang_b(servers: int, offered: float) -> float:
    """Erlang C from the Erlang B recursion: an independent route to the fake's figure."""
    b = 1.0
    for k in range(1, servers + 1):
        b = offered * b / (k + offered * b)
    rho = offered / servers
    return b / (1 - rho * (1 - b))


def test_erlang_c_of_the_fake_api() -> None:
    # M/M/4 at A = 3.6: B(4, 3.6) = 0.2707, so C = 0.2707 / (1 - 0.9 * 0.7293) = 0.7878.
    assert _erlang_c_by_erlang_b(4, 3.6) == pytest.approx(0.78776, abs=1e-5)
    assert pytest.approx(2969.38, abs=0.01) == API_LATENCY_MS


def test_the_briefs_sentence() -> None:
    # 7.4 s of a 10 s mean latency is waiting: 74%.
    summary = {"services": {"api": _service(0.9, 12_412.3, 7_400.0, 10_000.0, peak=0.92)}}
    (finding,) = service_findings(summary, None)
    assert finding.text == (
        "api runs at 90% utilization; p99 latency 12.4 s, with requests waiting 74% of their time."
    )
    assert finding.level == "warn"


def _util_series(hot_from: float, hot_for: float) -> pd.DataFrame:
    t = np.arange(100) * 60.0
    util = np.where((t >= hot_from) & (t < hot_from + hot_for), 0.99, 0.5)
    return pd.DataFrame({"t_s": t, "interval_s": 60.0, "service": "cdn", "utilization": util})


def test_saturation_is_dated_from_the_time_series() -> None:
    summary = {"services": {"cdn": _service(0.55, 900.0, 100.0, 400.0, peak=0.99)}}
    ts = _util_series(hot_from=2760.0, hot_for=600.0)
    (finding,) = service_findings(summary, ts, warmup_s=600.0)
    # 600 s saturated out of 6,000 - 600 = 5,400 s measured: 11%.
    assert (
        "It first saturates (at least 95% busy) 46 min into the run and is saturated for "
        "10 min in all (11% of the measured time)."
    ) in finding.text
    assert "(peak 99%)" in finding.text
    assert finding.level == "warn"


def test_saturation_inside_the_warmup_is_not_reported() -> None:
    summary = {"services": {"cdn": _service(0.5, 900.0, 100.0, 400.0)}}
    (finding,) = service_findings(summary, _util_series(60.0, 300.0), warmup_s=600.0)
    assert "saturates" not in finding.text
    assert finding.level == "ok"


def test_drops_and_levels() -> None:
    summary = {
        "services": {
            "db": _service(0.5, 90.0, 1.0, 20.0, dropped=25.0),
            "api": _service(0.96, 90.0, 1.0, 20.0),
            "cache": _service(0.3, 9.0, 0.0, 2.0, dropped=3.0),
        }
    }
    findings = {f.subject: f for f in service_findings(summary, None)}
    assert "It dropped 25 requests (2.5% of arrivals) because its queue was full." in (
        findings["db"].text
    )
    assert findings["db"].level == "critical"  # 2.5% of arrivals lost
    assert findings["api"].level == "critical"  # saturated on average
    assert findings["cache"].level == "warn"  # a few drops
    assert [f.subject for f in service_findings(summary, None)] == ["api", "db", "cache"]


def test_theory_inside_and_outside_the_confidence_interval(summary: dict[str, Any]) -> None:
    findings = {f.subject: f for f in service_findings(summary, None)}
    assert (
        "Queueing theory (erlang_c) predicts a mean latency of 2.97 s, inside the simulated "
        "95% CI (2.88 s to 3.03 s)."
    ) in findings["api"].text
    assert pytest.approx(1000.0 + _erlang_c_by_erlang_b(4, 3.6) / 0.4 * 1000.0) == API_LATENCY_MS
    # db: 82.2 ms predicted against 83.4 ms simulated is (82.2 - 83.4) / 83.4 = -1.4%.
    assert "predicts a mean latency of 82.2 ms, -1.4% from the simulated mean 83.4 ms." in (
        findings["db"].text
    )


def test_headlines_for_a_bare_network(summary: dict[str, Any]) -> None:
    lines = headlines(summary, [Window("surge (api)", 120_000.0, 140_000.0)])
    assert lines == [
        "Most saturated first: api (90%), db (43%).",
        "End to end (requests): p99 12.5 s, median 1.96 s, over 712,794 requests with "
        "2,138 errors.",
        "Queueing theory's mean latency lies inside the simulated 95% CI at 1 of 2 stations.",
        "1 incident falls within the run: surge (api) (see Incidents).",
    ]


def test_headlines_for_a_platform_run(summary: dict[str, Any]) -> None:
    summary = {
        **summary,
        "bottlenecks": ["db", "api"],
        "slo": [
            {"name": "join p99", "target": 500, "observed": 1240.5, "passed": False},
            {"name": "lag p99", "target": 5, "observed": 2.1, "passed": True},
        ],
        "experience": {
            "leaderboard_lag_s": {"p50": 0.4, "p99": 14_400.0, "max": 15_000.0},
            "join_failures": 1234,
            "video_degraded_fraction": 0.031,
        },
        "cost": {"monthly_usd": 38_550.0, "per_user_month_usd": 0.0771, "by_component": {}},
    }
    lines = headlines(summary)
    assert lines[0] == "1 of 2 SLOs fail: join p99 (observed 1,240.5, target 500)."
    assert lines[1] == "Most saturated first: db (43%), api (90%)."
    assert "Riders: leaderboard lag p99 4 h; 1,234 failed joins; 3.1% of video degraded." in lines
    assert "Cost: $38,550 a month, $0.08 per user per month." in lines
