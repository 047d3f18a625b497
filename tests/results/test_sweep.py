"""A sweep's pure results: margins, the designs x loads grid, the cheapest design, tidy rows."""

from __future__ import annotations

from typing import Any

import pytest

from twin.config.grid import Axis, parse_grid
from twin.errors import InputError
from twin.results.sweep import Grid, SweepPoint, cheapest, margin, tidy_rows


def _verdict(op: str, target: float, observed: float | None) -> dict[str, Any]:
    passed = observed is not None and (observed <= target if op == "<=" else observed >= target)
    return {"name": f"x{op}{target}", "metric": "requests.join.latency_ms.p99", "op": op,
            "target": target, "observed": observed, "passed": passed}  # fmt: skip


def test_margin_is_headroom_as_a_share_of_the_target() -> None:
    assert margin(_verdict("<=", 500.0, 400.0)) == pytest.approx(0.2)
    assert margin(_verdict("<=", 500.0, 750.0)) == pytest.approx(-0.5)
    assert margin(_verdict(">=", 0.99, 0.999)) == pytest.approx(0.009 / 0.99)
    assert margin(_verdict("<=", 500.0, None)) is None


def _summary(cost: float, p99: float) -> dict[str, Any]:
    return {
        "engine": "fluid",
        "replications": 1,
        "cost": {"monthly_usd": cost * 1000, "per_user_month_usd": cost},
        "requests": {"join": {"count": 10, "latency_ms": {"p99": p99}}},
        "services": {"api": {"latency_ms": {"mean": 5.0, "ci95": [4.0, 6.0]}}},
        "slo": [_verdict("<=", 500.0, p99)],
    }


AXES = (
    Axis("architecture", "architecture", ("a", "b", "c")),
    Axis("population.riders", "riders", (1, 2)),
)
POINTS = [
    SweepPoint(i, {"architecture": arch, "riders": r})
    for i, (arch, r) in enumerate((x, y) for x in ("a", "b", "c") for y in (1, 2))
]


def test_cheapest_design_meeting_every_slo_at_each_load() -> None:
    summaries = [
        _summary(0.10, 600.0), _summary(0.05, 900.0),  # a: cheapest, but misses at both loads
        _summary(0.30, 100.0), _summary(0.30, 400.0),  # b: meets at both
        _summary(0.20, 200.0), _summary(0.20, 800.0),  # c: cheaper than b, meets at load 1 only
    ]  # fmt: skip
    grid = Grid.of(AXES, POINTS)
    assert grid.designs == ("a", "b", "c") and grid.loads == (1, 2)
    assert grid.cell == ((0, 1), (2, 3), (4, 5))
    first, second = cheapest(grid, summaries)
    assert (first.load, first.design, first.per_user_month_usd) == (1, "c", 0.20)
    assert first.worst_margin == pytest.approx(0.6)
    assert (second.design, second.per_user_month_usd) == ("b", 0.30)
    none = cheapest(grid, [_summary(0.1, 999.0)] * 6)
    assert [c.design for c in none] == [None, None]


def test_tidy_rows_are_one_per_point_and_metric_with_intervals_and_verdicts() -> None:
    summaries = [_summary(0.1 * (i + 1), 100.0 * (i + 1)) for i in range(6)]
    rows = tidy_rows(AXES, POINTS, summaries)
    keys = [(r["point"], r["metric"], r["slo"]) for r in rows]
    assert len(keys) == len(set(keys)) == 6 * 5
    mean = next(
        r for r in rows if r["point"] == 3 and r["metric"] == "services.api.latency_ms.mean"
    )
    assert (mean["value"], mean["ci95_low"], mean["ci95_high"]) == (5.0, 4.0, 6.0)
    judged = next(r for r in rows if r["point"] == 5 and r["slo"] is not None)
    assert judged["architecture"] == "c" and judged["riders"] == 2
    assert judged["value"] == 600.0 and judged["passed"] is False
    assert judged["margin"] == pytest.approx(-0.2)


_thousand = ",".join(str(i) for i in range(1, 1001))


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        (["riders"], "--grid: riders: expected KEY=V1,V2"),
        (["riders="], "--grid: riders: has an empty list of values"),
        (["riders=1,,2"], "--grid: riders: has an empty value"),
        (["riders=1,1"], "--grid: riders: repeats a value"),
        (["riders=1,2", "riders=3"], "--grid: riders: is given twice"),
        (
            [f"riders={_thousand}", f"architecture={_thousand}"],
            "--grid: points in the grid: 1,000,000 is over the limit of 500 (MAX_SWEEP_POINTS",
        ),
        ([], "--grid: give at least one axis"),
    ],
)
def test_bad_grids_are_refused(grid: list[str], message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_grid(grid)
    assert message in str(caught.value)


def test_grid_values_read_as_yaml_with_whole_riders() -> None:
    riders, arch = parse_grid(["riders=1e5,3e6", "architecture=phase3-global"])
    assert riders.key == "population.riders" and riders.values == (100_000, 3_000_000)
    assert arch.values == ("phase3-global",)
