"""`twin compare`: real runs side by side, the tables checked against their summaries.

Three bare-network designs are simulated once per module with `twin run`: `small` (api with
4 servers at utilization 0.9), `large` (the same with 6 servers, utilization 0.6) and
`cached` (a cache in front of the api for recommendations, so a service the others lack).
"""

from __future__ import annotations

import html
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from twin.cli.app import main
from twin.report.units import fmt_count, fmt_ms
from twin.results.compare import RunInput, compare, design_names

DESIGN = """\
name: {name}
kind: network
duration_s: 3000
warmup_s: 300
seed: 3
network:
  sources:
    - {{name: join, rate_per_s: 1.5, to: api}}
    - {{name: recommend, rate_per_s: 2.1, to: {entry}}}
  stations:
{cache}    api:
      servers: 4
      service: {{dist: exponential, mean_s: 1.0}}
      routes: {{db: 0.3, exit: 0.7}}
    db:
      servers: 2
      service: {{dist: exponential, mean_s: 0.5}}
      routes: {{exit: 1.0}}
"""
CACHE = """\
    cache:
      servers: 2
      service: {dist: exponential, mean_s: 0.05}
      routes: {api: 0.2, exit: 0.8}
"""
ARRIVALS_PER_S = 1.5 + 2.1


@dataclass(frozen=True)
class Runs:
    small: Path
    large: Path
    cached: Path

    def summary(self, folder: Path) -> dict[str, Any]:
        return json.loads((folder / "summary.json").read_text())


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    root = tmp_path_factory.mktemp("runs")
    plain = root / "checkout.yaml"
    plain.write_text(DESIGN.format(name="checkout", entry="api", cache=""))
    cached = root / "cached.yaml"
    cached.write_text(DESIGN.format(name="checkout-cached", entry="cache", cache=CACHE))
    found = Runs(root / "small", root / "large", root / "cached")
    assert main(["run", str(plain), "--out", str(found.small), "-q"]) == 0
    servers = "network.stations.api.servers=6"
    assert main(["run", str(plain), "--set", servers, "--out", str(found.large), "-q"]) == 0
    assert main(["run", str(cached), "--out", str(found.cached), "-q"]) == 0
    return found


def _compare(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["compare", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def two(runs: Runs, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("compare") / "two"
    assert main(["compare", str(runs.small), str(runs.large), "--out", str(out), "-q"]) == 0
    return out


def test_more_servers_show_more_headroom_and_a_lower_p99(runs: Runs, two: Path) -> None:
    data = json.loads((two / "compare.json").read_text())
    small, large = "checkout (exact) [small]", "checkout (exact) [large]"
    assert [d["name"] for d in data["designs"]] == [small, large]
    assert data["baseline"] == small
    over = data["overview"]
    assert over[large]["headroom"] > over[small]["headroom"] + 0.1
    for request in ("join", "recommend"):
        assert (
            data["requests"][request][large]["p99_ms"] < data["requests"][request][small]["p99_ms"]
        )
    # Offered load over servers (Erlang): 3.6 / 4 = 0.9 and 3.6 / 6 = 0.6 at the api.
    api = data["services"]["api"]
    assert api[small]["utilization_mean"] == pytest.approx(ARRIVALS_PER_S / 4, abs=0.05)
    assert api[large]["utilization_mean"] == pytest.approx(ARRIVALS_PER_S / 6, abs=0.05)
    assert (api[small]["servers"], api[large]["servers"]) == (4, 6)


def test_the_tables_hold_the_summaries_figures(runs: Runs, two: Path) -> None:
    data = json.loads((two / "compare.json").read_text())
    for folder, name in (
        (runs.small, "checkout (exact) [small]"),
        (runs.large, "checkout (exact) [large]"),
    ):
        summary = runs.summary(folder)
        for request, entry in summary["requests"].items():
            row = data["requests"][request][name]
            assert summary["replications"] == 1  # so a count per run is the summary's total
            assert row["count_per_run"] == entry["count"]
            assert row["errors_per_run"] == entry["errors"]
            for p in ("p50", "p95", "p99", "p999"):
                assert row[f"{p}_ms"] == entry["latency_ms"][p]
        peaks = {s: e["utilization_peak"] for s, e in summary["services"].items()}
        for service, peak in peaks.items():
            assert data["services"][service][name]["utilization_peak"] == peak
            assert data["services"][service][name]["headroom"] == pytest.approx(1 - peak, abs=1e-6)
        hottest = max(peaks, key=lambda s: peaks[s])
        over = data["overview"][name]
        assert over["bottleneck"] == hottest
        assert over["headroom"] == pytest.approx(1 - peaks[hottest], abs=1e-6)
        assert over["load_growth"] == pytest.approx(1 / peaks[hottest] - 1, abs=1e-6)
        assert over["requests_per_run"] == sum(e["count"] for e in summary["requests"].values())
        assert over["monthly_usd"] is None and data["cost"] == {}  # a bare network has no cost


def test_the_page_is_self_contained_and_shows_every_design(runs: Runs, two: Path) -> None:
    page = (two / "compare.html").read_text()
    pngs = sorted(p.name for p in two.glob("*.png"))
    assert pngs == ["compare-peaks.png", "compare-percentiles.png", "compare-utilization.png"]
    assert page.count("<img ") == page.count('src="data:image/png;base64,') == len(pngs)
    assert "<script" not in page and "http://" not in page and "https://" not in page
    for png in two.glob("*.png"):
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(data[16:20], "big") == 1000
    for folder in (runs.small, runs.large):
        for entry in runs.summary(folder)["requests"].values():
            assert f">{fmt_ms(entry['latency_ms']['p99'])}<" in page
    assert html.escape("checkout (exact) [large]") in page
    assert not [p for p in two.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_services_are_a_union_with_blanks(
    runs: Runs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "three"
    code, stdout, _ = _compare(
        capsys, str(runs.small), str(runs.large), str(runs.cached), "--out", str(out), "--json"
    )
    assert code == 0
    data = json.loads(stdout)
    assert data == json.loads((out / "compare.json").read_text())
    cached = "checkout-cached (exact)"
    assert list(data["overview"]) == [
        "checkout (exact) [small]",
        "checkout (exact) [large]",
        cached,
    ]
    cache = data["services"]["cache"]
    assert cache["checkout (exact) [small]"] is None and cache["checkout (exact) [large]"] is None
    assert cache[cached]["servers"] == 2
    # 2.1/s at 50 ms on 2 servers: utilization 0.0525.
    assert cache[cached]["utilization_mean"] == pytest.approx(2.1 * 0.05 / 2, abs=0.01)
    peaks = [
        max(v["utilization_peak"] for v in row.values() if v) for row in data["services"].values()
    ]
    assert peaks == sorted(peaks, reverse=True)  # hottest service first
    assert list(data["requests"]) == ["recommend", "join"]  # DESIGN.md's order of request types
    page = (out / "compare.html").read_text()
    assert page.count('title="this design has none"') == 8  # two designs x four cache columns


def test_a_person_gets_a_table(
    runs: Runs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / ("a-long-folder-name-" * 4)  # the path passes 80 columns
    code, stdout, _ = _compare(
        capsys, str(runs.small), str(runs.large / "summary.json"), "--out", str(out)
    )
    assert code == 0
    assert "baseline: checkout (exact) [small]" in stdout
    # the page's path on one line, however long, so that it can be pasted (Rich would wrap
    # it at 80 columns wherever it falls: `soft_wrap`)
    assert "headroom" in stdout
    assert any(str(out / "compare.html") in line for line in stdout.splitlines())
    p99 = runs.summary(runs.large)["requests"]["join"]["latency_ms"]["p99"]
    assert fmt_ms(p99) in stdout


def _platform(folder: Path, dest: Path, extra: dict[str, Any]) -> Path:
    shutil.copytree(folder, dest)
    summary = json.loads((dest / "summary.json").read_text())
    summary.update(extra)
    (dest / "summary.json").write_text(json.dumps(summary))
    return dest


PHASE2 = {
    "architecture": "phase2-microservices",
    "riders": 500_000,
    "cost": {
        "monthly_usd": 163_000.0,
        "per_user_month_usd": 0.326,
        "by_component": {"api": 90_000.0, "cloudfront": 60_000.0, "kinesis": 13_000.0},
    },
    "experience": {
        "leaderboard_lag_s": {"p50": 0.8, "p99": 2.5, "max": 4.0},
        "join_failures": 120,
        "video_degraded_fraction": 0.02,
    },
    "slo": [
        {"name": "join p99", "target": 500, "observed": 650.0, "passed": False},
        {"name": "lag p99", "target": 2, "observed": 2.5, "passed": False},
    ],
}
PHASE3 = {
    "architecture": "phase3-global",
    "riders": 3_000_000,
    "cost": {
        "monthly_usd": 455_000.0,
        "per_user_month_usd": 0.1517,
        "by_component": {"api": 200_000.0, "cloudfront": 240_000.0, "unitemized": 15_000.0},
    },
    "experience": {"join_failures": 0, "video_degraded_fraction": 0.0},
    "slo": [{"name": "join p99", "target": 500, "observed": 300.0, "passed": True}],
}


def test_platform_runs_compare_cost_experience_and_slos(
    runs: Runs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p2 = _platform(runs.small, tmp_path / "p2", PHASE2)
    p3 = _platform(runs.large, tmp_path / "p3", PHASE3)
    out = tmp_path / "cmp"
    code, stdout, _ = _compare(capsys, str(p2), str(p3), "--out", str(out), "--json")
    assert code == 0
    data = json.loads(stdout)
    a, b = "phase2-microservices (exact)", "phase3-global (exact)"
    assert list(data["overview"]) == [a, b]
    assert data["overview"][a]["per_user_month_usd"] == 0.326
    assert data["overview"][b]["monthly_usd"] == 455_000.0
    assert (data["overview"][a]["slo_passed"], data["overview"][a]["slo_total"]) == (0, 2)
    assert (data["overview"][b]["slo_passed"], data["overview"][b]["slo_total"]) == (1, 1)
    cost = data["cost"]
    assert list(cost) == [
        "cloudfront",
        "api",
        "unitemized",
        "kinesis",
        "monthly_usd",
        "per_user_month_usd",
    ]
    assert cost["kinesis"] == {a: 13_000.0, b: None} and cost["unitemized"] == {
        a: None,
        b: 15_000.0,
    }
    assert data["experience"]["leaderboard lag p99 (s)"] == {a: 2.5, b: None}
    assert data["experience"]["join failures"] == {a: 120, b: 0}
    assert data["slo"] == {"join p99": {a: False, b: True}, "lag p99": {a: False, b: None}}
    assert [d["riders"] for d in data["designs"]] == [500_000, 3_000_000]
    assert (out / "compare-cost.png").is_file()
    page = (out / "compare.html").read_text()
    for text in ("$0.33", "$0.15", "$455,000", "FAIL", "PASS", "0 of 2", "1 of 1", "-53%"):
        assert text in page, text


def _erlang_b(servers: int, offered: float) -> float:
    """Blocking probability of a loss system (Erlang B), by the usual recursion."""
    blocked = 1.0
    for k in range(1, servers + 1):
        blocked = offered * blocked / (k + offered * blocked)
    return blocked


def test_counts_are_per_run_whatever_the_replications(
    runs: Runs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same workload once and with three replications: the same requests per run."""
    design = runs.small.parent / "checkout.yaml"
    loss = "network.stations.api.queue_capacity=0"  # no queue: arrivals finding 4 busy are lost
    one, three = tmp_path / "one", tmp_path / "three"
    for reps, out in (("1", one), ("3", three)):
        args = ["run", str(design), "--set", loss, "--replications", reps, "--out", str(out)]
        assert main([*args, "-q"]) == 0
    code, stdout, _ = _compare(capsys, str(one), str(three), "--out", str(tmp_path / "c"), "--json")
    assert code == 0
    data = json.loads(stdout)
    a, b = "checkout (exact) [one]", "checkout (exact) [three]"
    totals = json.loads((three / "summary.json").read_text())
    assert totals["replications"] == 3
    measured_s = 3000 - 300
    blocked = _erlang_b(4, ARRIVALS_PER_S * 1.0)  # 3.6 erlangs on 4 servers: 0.2707
    for request, rate in (("join", 1.5), ("recommend", 2.1)):
        row = data["requests"][request]
        entry = totals["requests"][request]
        assert row[b]["count_per_run"] == pytest.approx(entry["count"] / 3, abs=0.001)
        assert row[b]["errors_per_run"] == pytest.approx(entry["errors"] / 3, abs=0.001)
        assert row[b]["count_per_run"] == pytest.approx(row[a]["count_per_run"], rel=0.06)
        for name in (a, b):  # attempts per run: the source's rate over the measured time
            attempts = row[name]["count_per_run"] + row[name]["errors_per_run"]
            assert attempts == pytest.approx(rate * measured_s, rel=0.05)
            assert row[name]["error_ratio"] == pytest.approx(blocked, abs=0.03)
    lost = ARRIVALS_PER_S * measured_s * blocked
    for name in (a, b):
        assert data["services"]["api"][name]["dropped_per_run"] == pytest.approx(lost, rel=0.08)
    over = data["overview"]
    assert over[b]["requests_per_run"] == pytest.approx(over[a]["requests_per_run"], rel=0.05)
    assert over[b]["errors_per_run"] == pytest.approx(over[a]["errors_per_run"], rel=0.08)
    page = (tmp_path / "c" / "compare.html").read_text()
    assert "requests completed per run" in page
    assert f">{fmt_count(over[b]['requests_per_run'])}<" in page


def test_a_summary_without_replications_counts_as_one_run() -> None:
    drill = {
        "architecture": "phase3-global",
        "engine": "drill",
        "replications": 1,
        "requests": {"join": {"count": 300, "errors": 6}},
        "services": {"api": {"utilization_peak": 0.5, "dropped": 4}},
    }
    predicted = {
        **drill,
        "engine": "exact",
        "replications": 3,
        "requests": {"join": {"count": 900, "errors": 18}},
        "services": {"api": {"utilization_peak": 0.5, "dropped": 12}},
    }
    bare = {key: value for key, value in predicted.items() if key != "replications"}
    result = compare([RunInput("m", drill), RunInput("p", predicted), RunInput("b", bare)])
    m, p, b = result.names
    join, api = result.requests["join"], result.services["api"]
    assert (join[m].count_per_run, join[p].count_per_run, join[b].count_per_run) == (300, 300, 900)
    assert (join[m].errors_per_run, join[p].errors_per_run) == (6, 6)
    assert join[m].error_ratio == join[p].error_ratio == pytest.approx(6 / 306, abs=1e-6)
    assert (api[m].dropped_per_run, api[p].dropped_per_run, api[b].dropped_per_run) == (4, 4, 12)
    assert result.overview[p].requests_per_run == 300 and result.overview[b].errors_per_run == 18
    assert [d.replications for d in result.designs] == [1, 3, None]


def test_names_are_disambiguated() -> None:
    summary = {"scenario": "s", "architecture": "phase3-global", "engine": "fluid", "services": {}}
    other = {**summary, "engine": "exact"}
    runs = [RunInput("a", summary), RunInput("a", summary), RunInput("b", other)]
    assert design_names(runs) == [
        "phase3-global (fluid) [a]",
        "phase3-global (fluid) [a] #2",
        "phase3-global (exact)",
    ]
    assert design_names([RunInput("x", {"scenario": "s"}), RunInput("y", {})]) == ["s", "run"]
    with pytest.raises(ValueError, match="at least two"):
        compare(runs[:1])


def test_bad_input_is_one_line_and_exit_2(
    runs: Runs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "never"
    cases = [
        ([str(runs.small), str(empty)], "summary.json"),
        ([str(runs.small)], "two or more run folders"),
        ([], "two or more run folders"),
    ]
    for args, words in cases:
        code, stdout, stderr = _compare(capsys, *args, "--out", str(out))
        assert code == 2, args
        assert stderr.startswith("twin: ") and stderr.count("\n") == 1 and words in stderr
        assert stdout == "" and "Traceback" not in stderr
    assert not out.exists()  # nothing is written when the input is wrong


def test_a_broken_time_series_is_refused_and_a_missing_one_tolerated(
    runs: Runs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = _platform(runs.large, tmp_path / "broken", {})
    (broken / "timeseries.csv").write_text("t_s,interval_s,service\n0,30,api\n")
    code, _, stderr = _compare(capsys, str(runs.small), str(broken), "--out", str(tmp_path / "o1"))
    assert code == 2 and "timeseries.csv: utilization: missing column" in stderr
    (broken / "timeseries.csv").unlink()
    code, _, _ = _compare(capsys, str(runs.small), str(broken), "--out", str(tmp_path / "o2"), "-q")
    assert code == 0
    assert not (tmp_path / "o2" / "compare-utilization.png").exists()  # one series: no overlay
    assert (tmp_path / "o2" / "compare-percentiles.png").is_file()


@pytest.mark.browser
def test_the_page_renders_in_chromium(two: Path, tmp_path: Path) -> None:
    from tests.report.report_cdp import inspect_page
    from tests.report.test_report_browser import chromium_path

    chromium = chromium_path()
    if chromium is None:
        pytest.skip("chromium is not installed")
    page = inspect_page(chromium, two / "compare.html", tmp_path / "profile")
    assert page.errors == []
    assert page.probe["scripts"] == 0
    assert len(page.probe["images"]) == 3
    for image in page.probe["images"]:
        assert image["complete"] and image["naturalWidth"] == 1000, image["alt"]
    assert all(url.startswith("data:image/png;base64,") for url in page.urls[1:])
    assert page.probe["scrollWidth"] <= page.probe["innerWidth"]  # nothing wider than the window


def test_two_drills_compare_though_their_time_series_has_no_utilization(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A drill's timeseries.csv is per request type, measured from outside: no utilization."""
    import shutil

    stored = Path(__file__).resolve().parents[2] / "scenarios" / "calibration"
    folders = []
    for name in ("daily-peak-1e-3", "daily-peak-3e-4"):
        folder = tmp_path / name
        folder.mkdir()
        shutil.copy(stored / name / "summary.json", folder / "summary.json")
        (folder / "timeseries.csv").write_text(
            "t_s,interval_s,service,arrivals,completed,dropped,latency_ms_p50\n"
            "0,1,join,3,3,0,2.5\n1,1,join,2,2,0,2.7\n"
        )
        folders.append(str(folder))
    code, _, stderr = _compare(capsys, *folders, "--out", str(tmp_path / "out"), "-q")
    assert code == 0, stderr
    assert (tmp_path / "out" / "compare-percentiles.png").is_file()
