"""`twin run` on platform scenarios: the seeds' incidents show up, and their fixes absorb them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from twin.cli.app import main

SCENARIOS = Path(__file__).parents[2] / "scenarios"


def _run(tmp_path: Path, name: str, *args: str) -> dict:
    out = tmp_path / name
    assert main(["run", str(SCENARIOS / f"{name}.yaml"), *args, "--out", str(out), "-q"]) == 0
    return json.loads((out / "summary.json").read_text())


def test_new_year_surge_saturates_the_cdn_and_database_writes(tmp_path: Path) -> None:
    summary = _run(tmp_path, "new-year-surge", "--engine", "fluid")
    assert summary["riders"] == 3_000_000 and summary["architecture"] == "phase3-global"
    # The seed: "CDN capacity and database writes".
    assert summary["bottlenecks"][:2] == ["cdn", "pg_cluster"]
    assert summary["services"]["cdn"]["egress_offered_ratio_peak"] > 5
    assert summary["services"]["pg_cluster"]["dropped"] > 0
    assert summary["experience"]["video_degraded_fraction"] > 0.5
    assert any(not v["passed"] for v in summary["slo"])
    assert summary["incidents"][0]["name"] == "surge x50"


def test_the_seeds_fix_keeps_video_and_writes_whole(tmp_path: Path) -> None:
    summary = _run(tmp_path, "new-year-surge-fixed", "--engine", "fluid")
    assert summary["experience"]["video_degraded_fraction"] < 0.01
    assert summary["services"]["cdn"]["egress_offered_ratio_peak"] < 1
    assert summary["services"]["pg_cluster"]["dropped"] == 0
    assert summary["experience"]["join_failures"] == 0
    assert all(v["passed"] for v in summary["slo"])


def test_phase_three_costs_the_seeds_figure_at_its_own_scale(tmp_path: Path) -> None:
    summary = _run(tmp_path, "daily-peak", "--engine", "fluid", "--set", "duration_s=600")
    cost = summary["cost"]
    assert cost["listed_monthly_usd"] == pytest.approx(455_000)
    assert cost["by_component"]["unitemized"] == pytest.approx(6_000)
    assert cost["per_user_month_usd"] == pytest.approx(455_000 / 3_000_000, rel=0.02)
    assert set(summary["experience"]) >= {
        "leaderboard_lag_s",
        "join_failures",
        "video_degraded_fraction",
    }


def test_riders_and_architecture_overrides_reach_both_engines(phase1_evening) -> None:
    # `twin run daily-peak --riders 20000 --set architecture=phase1-monolith` on each engine
    # (tests/conftest.py): the exact one's four replications are what the fluid engine's
    # expectation is held to, since one varies by about 5 % from seed to seed (seeds 1-3: api
    # utilization 0.705-0.789), as wide as the tolerance below.
    fluid, exact = phase1_evening["fluid"], phase1_evening["exact"]
    assert fluid["riders"] == exact["riders"] == 20_000
    assert fluid["architecture"] == exact["architecture"] == "phase1-monolith"
    assert exact["engine"] == "exact" and exact["replications"] == 4
    # The busiest service, both ways: within the agreement the fluid tests hold it to.
    f, e = fluid["services"]["api"], exact["services"]["api"]
    assert f["utilization_mean"] == pytest.approx(e["utilization_mean"], rel=0.05)
    assert f["latency_ms"]["mean"] == pytest.approx(e["latency_ms"]["mean"], rel=0.10)


def test_iot_overload_delays_leaderboards_for_hours_and_its_fix_does_not(tmp_path: Path) -> None:
    import pandas as pd

    def hours_late(name: str) -> float:
        summary = _run(tmp_path, name, "--engine", "fluid")
        ts = pd.read_csv(tmp_path / name / "timeseries.csv")
        one = ts[ts["service"] == summary["bottlenecks"][0]]
        assert {"active_riders", "video_degraded_riders", "leaderboard_lag_p99_s"} <= set(ts)
        late = one[one["leaderboard_lag_p99_s"] > 60]
        return len(late) * float(one["interval_s"].iloc[0]) / 3600

    # Seed 001: "4 hours of delayed leaderboard updates".
    assert 2.5 <= hours_late("iot-pipeline-overload") <= 5.0
    assert hours_late("iot-pipeline-overload-fixed") == 0
