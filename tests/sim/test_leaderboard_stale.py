"""A stale leaderboard as a cause of spoiled sessions (twin.sim.leaderboard_stale).

- Staleness is the age of the newest sample that has reached the store, from when samples
  were taken and when they arrived (hand-worked cases: a late sample, one overtaken, none).
- The fluid engine's expected count of sessions spoiled is what sessions drawn from the same
  flows (`draw_sessions`, the exact engine's riders) average to, by the same rule.
- Both engines, on the IoT pipeline overload at 1/1000 with a shard that falls behind all
  evening, count about the same sessions spoiled by the stale leaderboard.
"""

from __future__ import annotations

import numpy as np
import pytest

from twin.config.loader import load_platform
from twin.rng import component_rng
from twin.runs.compile import build_platform
from twin.runs.run import run_file
from twin.sim.fluid.stale_sessions import expected_sessions, expected_stale_sessions
from twin.sim.leaderboard_stale import STALE_LAG_S, STALE_SHARE, stale_by_tick, staleness
from twin.sim.sessions import draw_sessions


def test_staleness_is_the_age_of_the_newest_sample_that_arrived() -> None:
    born = np.array([0.0, 10.0, 20.0])
    arrived = np.array([1.0, 50.0, 21.0])  # the sample of t = 10 is overtaken by t = 20's
    ages = staleness(np.array([0.5, 5.0, 30.0, 60.0]), born, arrived)
    assert list(ages) == [0.5, 5.0, 10.0, 40.0]  # before any: since the start; 10 never counts
    stale = stale_by_tick(born, arrived, ticks=12, tick_s=5.0)  # middles 2.5, 7.5, ... 57.5
    assert list(np.flatnonzero(stale)) == [10, 11]  # 52.5 - 20 and 57.5 - 20 > 30 s
    assert not stale_by_tick(np.array([]), np.array([]), ticks=4, tick_s=5.0).any()


@pytest.fixture(scope="module")
def evening_flows(scenarios_dir):
    overrides = ["population.riders=20000", "duration_s=3600"]
    scenario, architecture = load_platform(scenarios_dir / "daily-peak.yaml", overrides)
    return build_platform(scenario, architecture).compiled.session_flows


def _drawn_stale(flows, stale: np.ndarray, draws: int) -> tuple[float, float]:
    """(sessions, sessions spoiled by the stale board) per draw, on average."""
    end = len(flows.t) * flows.tick_s
    stale_s = np.concatenate(([0.0], np.cumsum(stale) * flows.tick_s))
    edges = np.arange(len(stale) + 1) * flows.tick_s
    sessions = spoiled = 0
    for i in range(draws):
        table = draw_sessions(flows, component_rng(7, "test", replication=i))
        a, b = table.start_s, np.minimum(table.end_s, end)
        seen = np.interp(b, edges, stale_s) - np.interp(a, edges, stale_s)
        sessions += len(table)
        spoiled += int(((b > a) & (seen > 0) & (seen >= STALE_SHARE * (b - a))).sum())
    return sessions / draws, spoiled / draws


def test_expected_stale_sessions_are_what_drawn_sessions_average_to(evening_flows) -> None:
    flows = evening_flows
    t = flows.t
    stale = (t >= 1200) & (t < 1500)  # five minutes of a frozen board
    sessions, spoiled = _drawn_stale(flows, stale, draws=20)
    assert expected_sessions(flows) == pytest.approx(sessions, rel=0.02)
    expected = expected_stale_sessions(flows, stale)
    assert 0.1 * sessions < expected < 0.9 * sessions  # some sessions, not all
    assert expected == pytest.approx(spoiled, rel=0.05)
    assert expected_stale_sessions(flows, np.zeros(len(t), bool)) == 0.0


# 1/1000 of the IoT overload, its first four hours: scaling keeps the stream's 9 shards, each
# taking 1/1000 of a shard's writes, so the evening still outruns them.
OVERLOAD = ["duration_s=14400"]


@pytest.mark.slow
def test_both_engines_count_the_sessions_a_stale_leaderboard_spoiled(scenarios_dir) -> None:
    path = scenarios_dir / "iot-pipeline-overload.yaml"
    runs = {e: run_file(path, OVERLOAD, engine=e, scale=0.001).summary for e in ("exact", "fluid")}
    counts = {e: s["experience"]["sessions_spoiled_by"]["leaderboard"] for e, s in runs.items()}
    sessions = runs["exact"]["sessions"]
    assert runs["exact"]["experience"]["leaderboard_lag_s"]["max"] > 10 * STALE_LAG_S
    assert 0.2 * sessions < counts["exact"] < 0.95 * sessions  # stale for part of the evening
    assert counts["fluid"] == pytest.approx(counts["exact"], rel=0.15)
    assert runs["fluid"]["sessions"] == pytest.approx(sessions, rel=0.1)
