"""The tables the page shows, cell by cell."""

from __future__ import annotations

from typing import Any

from twin.report.incidents import clip_windows
from twin.report.tables import (
    cost_table,
    experience_facts,
    header_facts,
    incident_table,
    latency_table,
    load_table,
    requests_table,
    slo_table,
)
from twin.results.reading import Window, cost_items


def _texts(row: tuple[Any, ...]) -> list[str]:
    return [cell.text for cell in row]


def test_header_lists_what_the_run_has(summary: dict[str, Any]) -> None:
    facts = dict(header_facts(summary))
    assert facts["engine"] == "exact"
    assert facts["replications"] == "5"
    assert facts["simulated time"] == "200,000 s (55.6 h)"
    assert "riders" not in facts and "architecture" not in facts
    platform = dict(header_facts({**summary, "riders": 3_000_000, "architecture": "phase3"}))
    assert platform["riders"] == "3,000,000"
    assert platform["architecture"] == "phase3"


def test_load_table(summary: dict[str, Any]) -> None:
    table = load_table(summary)
    assert table is not None
    assert table.columns[-2:] == ("theory: utilization", "method")
    api, db = (_texts(row) for row in table.rows)
    assert api == ["api", "712,800", "712,794", "0 (0.0%)", "90.0%", "100.0%", "90.0%", "erlang_c"]
    # 2,138 of 213,840 arrivals dropped is 0.99981...%: reads 1.0%.
    assert db[3] == "2,138 (1.0%)"


def test_an_approximate_method_says_so(summary: dict[str, Any]) -> None:
    summary["analytic"]["stations"]["db"] |= {"method": "allen_cunneen", "approximate": True}
    table = load_table(summary)
    assert table is not None
    assert table.rows[1][-1].text == "allen_cunneen (approx.)"


def test_latency_table_marks_theory_against_the_ci(summary: dict[str, Any]) -> None:
    table = latency_table(summary)
    assert table is not None
    api, db = table.rows
    assert _texts(api)[1] == "1.96 s" and api[1].sub == "(1.88 s to 2.03 s)"
    assert api[2].text == "1.97 s \u2713" and api[2].css == "agree"  # Erlang C Wq 1,969 ms
    assert api[4].css == "agree"
    assert _texts(api)[-4:] == ["1.93 s", "8.4 s", "12.4 s", "18.3 s"]
    assert api[-2].title == "12412.3 ms"
    assert db[2].css == "differ" and db[4].text == "82.2 ms \u2717"


def test_latency_table_without_theory_or_replications(summary: dict[str, Any]) -> None:
    bare = {k: v for k, v in summary.items() if k != "analytic"} | {"replications": 1}
    table = latency_table(bare)
    assert table is not None
    assert "theory: wait" not in table.columns
    assert table.note == "One replication: no confidence interval."


def test_requests_table(summary: dict[str, Any]) -> None:
    table = requests_table(summary)
    assert table is not None
    assert _texts(table.rows[0]) == [
        "requests", "712,794", "2,138 (0.3%)", "2.9 s", "1.96 s", "8.45 s", "12.5 s", "18.4 s",
    ]  # fmt: skip


def test_blocks_a_bare_network_lacks_give_no_table(summary: dict[str, Any]) -> None:
    assert slo_table(summary) is None
    assert cost_table(summary) is None
    assert experience_facts(summary) is None
    assert incident_table(()) is None


def test_slo_verdicts() -> None:
    table = slo_table(
        {"slo": [{"name": "p99", "target": 500, "observed": 612.25, "passed": False},
                 {"name": "errors", "target": 0.01, "observed": 0.0, "passed": True}]}
    )  # fmt: skip
    assert table is not None
    assert [(r[2].text, r[3].text, r[3].css) for r in table.rows] == [
        ("612.2", "FAIL", "fail"),
        ("0", "PASS", "pass"),
    ]


def test_cost_items_accept_each_shape_and_sort_largest_first() -> None:
    expected = [("cdn", 300_000.0), ("db", 100_000.0)]
    assert cost_items({"by_component": {"db": 100_000, "cdn": 300_000}}) == expected
    assert cost_items(
        {"by_component": {"db": {"monthly_usd": 1e5}, "cdn": {"monthly_usd": 3e5}}}
    ) == (expected)
    listed = [{"name": "db", "monthly_usd": 1e5}, {"component": "cdn", "monthly_usd": 3e5}]
    assert cost_items({"by_component": listed}) == expected
    assert cost_items(None) == []


def test_cost_table_shares() -> None:
    cost = {"monthly_usd": 455_000, "per_user_month_usd": 0.1517,
            "by_component": {"cdn": 300_000, "db": 149_000, "unitemized": 6_000}}  # fmt: skip
    result = cost_table({"cost": cost})
    assert result is not None
    facts, table = result
    assert facts == [("monthly cost", "$455,000"), ("cost per user per month", "$0.15")]
    assert [_texts(r) for r in table.rows] == [
        ["cdn", "$300,000", "65.9%"],
        ["db", "$149,000", "32.7%"],
        ["unitemized", "$6,000", "1.3%"],
    ]


def test_experience_and_incidents() -> None:
    facts = experience_facts(
        {"experience": {"leaderboard_lag_s": {"p50": 0.8, "p99": 14_400, "max": 15_120},
                        "join_failures": 1200, "video_degraded_fraction": 0.25}}
    )  # fmt: skip
    assert facts == [
        ("leaderboard lag p50", "800 ms"),
        ("leaderboard lag p99", "4 h"),
        ("leaderboard lag max", "4.2 h"),
        ("join failures", "1,200"),
        ("video degraded", "25.0%"),
    ]
    windows = [
        Window("surge", 2_760.0, 5_460.0),
        Window("cdn down", 60.0, float("inf")),
        Window("new year", 0.0, 28_800.0),
        Window("after the run", 7_300.0, 9_000.0),
    ]
    table = incident_table(clip_windows(windows, 0.0, 7_200.0))
    assert table is not None
    assert [_texts(r) for r in table.rows] == [
        ["surge", "2,760 s (46 min)", "5,460 s", "45 min", "hatched on every time plot"],
        ["cdn down", "60 s (1 min)", "7,200 s (end of run; open-ended)", "1.98 h",
         "hatched on every time plot"],
        ["new year", "start of run", "7,200 s (end of run; described to 8 h)", "2 h",
         "whole run: not hatched"],
    ]  # fmt: skip


def test_slo_values_are_formatted_by_their_metric() -> None:
    table = slo_table({"slo": [
        {"name": "joins", "metric": "experience.join_failures", "target": 0.0,
         "observed": 101866.0, "passed": False},
        {"name": "p99", "metric": "services.api.latency_ms.p99", "target": 100.0,
         "observed": 149.64, "passed": False},
        {"name": "video", "metric": "experience.video_degraded_fraction", "target": 0.05,
         "observed": 0.966136, "passed": False},
        {"name": "lag", "metric": "experience.leaderboard_lag_s.p99", "target": 30.0,
         "observed": 4.99, "passed": True},
    ]})  # fmt: skip
    assert table is not None
    assert [(r[1].text, r[2].text) for r in table.rows] == [
        ("0", "101,866"), ("100 ms", "150 ms"), ("5.0%", "96.6%"), ("30 s", "4.99 s"),
    ]


def test_a_drill_header_tells_population_from_riders_at_once() -> None:
    windows = [{"t_s": 0, "riders_achieved": 12.0}, {"t_s": 15, "riders_achieved": 20.0},
               {"t_s": 30, "riders_achieved": None}]  # fmt: skip
    facts = dict(header_facts({"engine": "drill", "riders": 900.0,
                               "drill": {"tracking": {"windows": windows}}}))  # fmt: skip
    assert facts["riders in the population"] == "900"
    assert facts["riders at once (mean / busiest window)"] == "16.0 / 20.0"
    assert "riders" not in facts
