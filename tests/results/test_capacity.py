"""Capacity search against a known answer: an M/M/1 whose mean sojourn is 1/(mu - lambda)."""

from __future__ import annotations

import pytest

from twin.results.capacity import search
from twin.results.slo import parse_expression


def _mm1_summary(load: float, _reps: int) -> dict:
    # lambda = load requests/s into one server of rate 100/s: mean sojourn 1/(100 - load) s.
    latency = 1000.0 / (100.0 - load) if load < 100 else 1e9
    return {"services": {"api": {"latency_ms": {"mean": latency}}}}


def test_search_finds_the_load_where_the_slo_breaks() -> None:
    # mean <= 50 ms  <=>  1/(100 - load) <= 0.05  <=>  load <= 80.
    slo = parse_expression("services.api.latency_ms.mean<=50")
    result = search(_mm1_summary, [slo], start=10, rel_tol=0.01)
    assert result.max_load == pytest.approx(80, abs=1)
    assert result.confirmed
    assert any(not p.passed for p in result.probes)
    assert all(p.passed for p in result.probes if p.load <= 80)
    assert result.probes[-1].replications == 3


def test_search_from_above_halves_down() -> None:
    slo = parse_expression("services.api.latency_ms.mean<=50")
    result = search(_mm1_summary, [slo], start=5000, rel_tol=0.01)
    assert result.max_load == pytest.approx(80, abs=1)


def test_no_load_meets_an_impossible_slo() -> None:
    slo = parse_expression("services.api.latency_ms.mean<=1")
    result = search(_mm1_summary, [slo], start=10)
    assert result.max_load is None and not result.confirmed


def test_search_probes_no_load_past_its_ceiling() -> None:
    # An input limit (MAX_RIDERS) is the most the search may ask for: if it passes there,
    # that is the answer, instead of doubling into loads the loader refuses (issue 17).
    slo = parse_expression("services.api.latency_ms.mean<=50")
    result = search(_mm1_summary, [slo], start=10, ceiling=45)
    assert max(p.load for p in result.probes) == 45
    assert result.max_load == 45 and result.confirmed
    capped = search(_mm1_summary, [slo], start=60, rel_tol=0.01, ceiling=90)
    assert max(p.load for p in capped.probes) == 90
    assert capped.max_load == pytest.approx(80, abs=1)


def test_capacity_cli_on_a_bare_network(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json
    from pathlib import Path

    from twin.analytic.erlang import mmc
    from twin.cli.app import main

    example = Path(__file__).parents[2] / "scenarios" / "mmc-example.yaml"
    code = main(
        [
            "capacity",
            str(example),
            "--engine",
            "exact",
            "--slo",
            "services.api.latency_ms.mean<=2000",
            "--set",
            "duration_s=20000",
            "--set",
            "warmup_s=1000",
            "--out",
            str(tmp_path),
            "-q",
        ]
    )
    assert code == 0
    report = json.loads((tmp_path / "capacity.json").read_text())
    # Erlang C: the M/M/4 mean sojourn reaches 2 s near 3.3 requests/s (factor ~0.92 of 3.6/s).
    factor = report["max_load_factor"]
    assert (
        mmc(3.6 * factor * 0.97, 1.0, 4).sojourn_mean
        < 2.0
        < mmc(3.6 * factor * 1.05, 1.0, 4).sojourn_mean
    )
    assert report["headroom"] == pytest.approx(factor - 1.0, abs=1e-3)
    assert (tmp_path / "capacity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (tmp_path / "capacity.html").read_text()
    assert "capacity.png" in page and f"x{factor:.3g}" in page  # the page beside the plot


def test_capacity_cli_on_a_platform_finds_where_video_degrades(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json
    from pathlib import Path

    from twin.cli.app import main

    daily = Path(__file__).parents[2] / "scenarios" / "daily-peak.yaml"
    slo = "experience.video_degraded_fraction<=0.01"
    args = ["capacity", str(daily), "--slo", slo, "--set", "duration_s=300", "--confirm", "2"]
    assert main([*args, "--out", str(tmp_path), "-q"]) == 0
    report = json.loads((tmp_path / "capacity.json").read_text())
    best = report["max_riders"]
    assert report["knob"] == "riders" and report["scenario_riders"] == 3_000_000
    assert best > 3_000_000  # phase 3 carries its own daily peak with room to spare
    probes = report["probes"]
    above = [p for p in probes if p["load"] > best]
    assert above and all(p["observed"][slo.split("<")[0]] > 0.01 for p in above if not p["passed"])
    assert all(p["passed"] for p in probes if p["load"] <= best and p["replications"] == 1)
    assert report["headroom"] == pytest.approx(best / 3_000_000 - 1, abs=1e-3)


def test_the_binding_slo_is_the_one_past_its_target_just_above_the_answer() -> None:
    from twin.results.capacity import binding_slo, distinct

    mean = parse_expression("services.api.latency_ms.mean<=50")  # breaks at load 80
    loose = parse_expression("services.api.latency_ms.mean<=100")  # breaks at load 90
    slos = distinct([loose, mean, parse_expression("services.api.latency_ms.mean <= 50")])
    assert slos == [loose, mean]
    result = search(_mm1_summary, slos, start=10, rel_tol=0.01)
    binding = binding_slo(result, slos)
    assert binding is not None and binding["name"] == mean.name
    assert binding["below"]["load"] == result.max_load
    assert binding["below"]["observed"] <= 50 < binding["above"]["observed"]
    assert binding["above"]["load"] > result.max_load


def _mmc_with_own_slo(tmp_path) -> str:  # type: ignore[no-untyped-def]
    from pathlib import Path

    text = (Path(__file__).parents[2] / "scenarios" / "mmc-example.yaml").read_text()
    own = (
        "slo:\n  - {name: api mean, metric: services.api.latency_ms.mean, op: '<=', target: 2000}\n"
    )
    path = tmp_path / "mmc-slo.yaml"
    path.write_text(text + own)
    return str(path)


def test_capacity_names_the_binding_slo_and_only_ignores_the_scenarios(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import json

    from twin.cli.app import main

    fast = ["--set", "duration_s=5000", "--set", "warmup_s=500", "--confirm", "2"]
    scenario = _mmc_with_own_slo(tmp_path)
    p99 = "requests.requests.latency_ms.p99<=20000"
    assert main(["capacity", scenario, "--slo", p99, *fast, "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "a" / "capacity.json").read_text())
    assert report["slo"] == [p99, "api mean"]
    binding = report["binding_slo"]
    assert binding["name"] == "api mean" and "bound by api mean: " in out
    assert binding["below"]["observed"] <= 2000 < binding["above"]["observed"]
    assert binding["below"]["load"] == report["max_load_factor"] < binding["above"]["load"]
    args = ["capacity", scenario, "--slo", p99, "--only", *fast, "--out", str(tmp_path / "b")]
    assert main(args) == 0
    only = json.loads((tmp_path / "b" / "capacity.json").read_text())
    assert only["slo"] == [p99] and only["binding_slo"]["name"] == p99
    assert only["max_load_factor"] > report["max_load_factor"]


def test_the_plot_has_one_panel_per_distinct_slo() -> None:
    from twin.report.capacity_plot import _capacity_plot

    mean = parse_expression("services.api.latency_ms.mean<=50")
    p99 = parse_expression("services.api.latency_ms.mean<=70")
    result = search(_mm1_summary, [mean, p99], start=10)
    plot = _capacity_plot(result, [mean, p99, mean], "load")
    assert len(plot.figure.axes) == 2


def test_a_log_axis_has_no_zero_tick_unless_a_zero_is_drawn() -> None:
    from twin.report.capacity_plot import _capacity_plot
    from twin.report.figures import plot_style

    slo = parse_expression("services.api.latency_ms.mean<=500")
    result = search(_mm1_summary, [slo], start=10, rel_tol=0.001)  # up to 1,000 ms: decades
    with plot_style():
        ax = _capacity_plot(result, [slo], "load").figure.axes[0]
        ax.figure.canvas.draw()
        assert ax.get_yscale() == "log"
        labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert labels and "0" not in labels


@pytest.mark.parametrize("width", [2, 3, 4, 7])
@pytest.mark.parametrize("start", [10.0, 5000.0])
def test_probing_ahead_takes_the_serial_path_probe_for_probe(width: int, start: float) -> None:
    # Several loads evaluated at once (as on several cores) must not change the search: the
    # same probes in the same order, the same answer, fewer rounds of evaluation.
    slo = parse_expression("services.api.latency_ms.mean<=50")
    serial = search(_mm1_summary, [slo], start=start, rel_tol=0.01)
    batches: list[list[float]] = []

    def many(requests: list) -> list[dict]:  # type: ignore[type-arg]
        batches.append([r.load for r in requests])
        return [_mm1_summary(r.load, r.replications) for r in requests]

    ahead = search(_mm1_summary, [slo], start=start, rel_tol=0.01, evaluate_many=many, width=width)
    assert ahead == serial
    assert max(len(b) for b in batches) == width
    assert len(batches) < len(serial.probes)
    # Every probe on the path was in some batch; the others were evaluated and set aside.
    assert {p.load for p in serial.probes} <= {load for b in batches for load in b}
