"""Riders in the exact engine: sessions played call by call, and what they live through.

- Given the sessions a replication drew, the calls of each type are what the journey says:
  one `recommend` and one `join` per session started, a segment per segment duration ridden,
  a batch per batch period on a bike or tread, a leaderboard poll per period, a workout per
  session saved (the rate the fluid engine counts, here counted from the riders themselves).
- At a steady evening on phase 1 (the API near utilization 0.8), the riders' services wait
  as the fluid engine's do.
- When the live origin goes down, riders retry their joins, give up after their patience,
  and the run says so (`experience.sessions_spoiled_by.join`).
"""

from __future__ import annotations

import numpy as np
import pytest

from twin.config.loader import load_platform
from twin.runs.compile import build_platform
from twin.runs.run import run_file
from twin.sim.exact.model import from_platform
from twin.sim.exact.rider_run import run_rider_replication
from twin.sim.records import Grid

DURATION_S = 600.0


@pytest.fixture(scope="module")
def evening(scenarios_dir):
    overrides = ["population.riders=20000", f"duration_s={DURATION_S:g}"]
    scenario, architecture = load_platform(scenarios_dir / "daily-peak.yaml", overrides)
    compiled = build_platform(scenario, architecture).compiled
    model = from_platform(compiled, scenario.name, 11, 60.0, riders=True)
    grid = Grid.for_run(model.duration_s, model.interval_s)
    return compiled, run_rider_replication(model, compiled, grid, replication=0)


def _riding_s(rep, rows: np.ndarray) -> float:
    """Seconds ridden inside the run by the sessions in `rows` (from when they played)."""
    start = np.nan_to_num(rep.outcomes.play_from[rows], nan=DURATION_S)
    stop = np.minimum(rep.table.end_s[rows], DURATION_S)
    return float(np.clip(stop - start, 0.0, None).sum())


def test_calls_per_type_follow_the_journey_of_the_drawn_sessions(evening) -> None:
    compiled, rep = evening
    journey, table = compiled.journey, rep.table
    sent = {name: int(r.arrivals.sum()) for name, r in rep.record.sources.items()}
    started = int(((~table.in_progress) & (table.start_s < DURATION_S)).sum())
    assert sent["recommend"] == sent["join"] == started  # nothing failed: no retries
    everyone = np.ones(len(table), bool)
    live = table.live
    expected = {
        "segment": _riding_s(rep, everyone) / journey.segment_s,
        "playlist": _riding_s(rep, live) / journey.segment_s
        + int((~live & ~table.in_progress & (table.start_s < DURATION_S)).sum()),
        "telemetry": _riding_s(rep, table.telemetry) / journey.telemetry_batch_s,
        "leaderboard": _riding_s(rep, live) / journey.leaderboard_live_s
        + _riding_s(rep, ~live) / journey.leaderboard_od_s,
    }
    for name, count in expected.items():
        # random phases: each session's count is within one of length / period
        assert abs(sent[name] - count) < 0.02 * count, (name, sent[name], count)
    saved = int((table.save_s < DURATION_S).sum())
    assert sent["workout"] == saved
    assert abs(sent["feedback"] - journey.feedback_share * saved) < 4 * np.sqrt(saved)
    # every batch that reached the stream went on to the leaderboard
    assert len(rep.outcomes.lag_s) == pytest.approx(sent["telemetry"], abs=50)


def test_riders_wait_as_the_fluid_engine_says_on_a_loaded_steady_evening(phase1_evening) -> None:
    # daily-peak at 20,000 riders on phase 1 for ten minutes, the exact engine's riders over
    # four replications (tests/conftest.py: the same runs tests/cli reads)
    exact, fluid = phase1_evening["exact"], phase1_evening["fluid"]
    api_e, api_f = exact["services"]["api"], fluid["services"]["api"]
    assert 0.6 < api_f["utilization_mean"] < 0.95  # loaded: where the waiting shows
    assert api_e["utilization_mean"] == pytest.approx(api_f["utilization_mean"], rel=0.05)
    assert api_e["latency_ms"]["mean"] == pytest.approx(api_f["latency_ms"]["mean"], rel=0.15)
    for rtype in ("segment", "telemetry", "join"):
        e, f = exact["requests"][rtype], fluid["requests"][rtype]
        assert e["latency_ms"]["mean"] == pytest.approx(f["latency_ms"]["mean"], rel=0.15), rtype
    assert exact["experience"]["join_failures"] == 0
    assert exact["experience"]["sessions_spoiled_fraction"] == 0.0


def test_riders_retry_and_give_up_their_joins_while_the_live_origin_is_down(scenarios_dir) -> None:
    overrides = ["population.riders=5000", "duration_s=2400", "incidents.0.end_s=2100"]
    summary = run_file(scenarios_dir / "live-broadcast-failure.yaml", overrides, engine="exact")
    s = summary.summary
    join = s["requests"]["join"]
    assert join["retries"] > join["gave_up"] > 0  # several tries each before giving up
    spoiled = s["experience"]["sessions_spoiled_by"]
    assert spoiled["join"] == s["experience"]["join_failures"]
    assert join["gave_up"] == spoiled["join"] + spoiled["stream_lost"]  # a rejoin gave up
    assert s["experience"]["sessions_spoiled_fraction"] > 0.05
    # the 18:30 class's riders never got in: the incident's SLO fails on the exact engine too
    verdict = {v["name"]: v["passed"] for v in s["slo"]}
    assert verdict["no failed joins"] is False
