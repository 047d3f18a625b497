"""Sessions drawn rider by rider reproduce the demand's expected flows.

The fluid engine runs the demand's expected riders per tick; the exact engine draws sessions
from the same flows. At 200,000 riders on an evening (with live classes starting, running
and ending inside the window), riders in session, riders on a bike or tread, and riders in
a live class, counted from the drawn table every minute, stay within Poisson noise of the
expectation (plus 1 %), and so do the session starts.
"""

from __future__ import annotations

import numpy as np
import pytest

from twin.config.loader import load_platform
from twin.runs.compile import build_platform
from twin.sim.sessions import draw_sessions


@pytest.fixture(scope="module")
def evening(scenarios_dir):
    overrides = ["population.riders=200000", "duration_s=1800"]
    scenario, architecture = load_platform(scenarios_dir / "daily-peak.yaml", overrides)
    return build_platform(scenario, architecture)


def _in_session(table, t: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return ((table.start_s[rows, None] <= t) & (table.end_s[rows, None] > t)).sum(axis=0)


def test_drawn_sessions_follow_the_expected_riders(evening) -> None:
    demand, compiled = evening.sessions, evening.compiled
    table = draw_sessions(compiled.session_flows, np.random.default_rng(3))
    minutes = np.arange(30, len(demand.t), 60)
    t = demand.t[minutes]
    everyone = np.ones(len(table), bool)
    checks = {
        "riding": (everyone, demand.active[minutes]),
        "bike or tread": (table.telemetry, compiled.telemetry_records_per_s[minutes] * 5.0),
        "live": (table.live, demand.active_live.sum(axis=0)[minutes]),
    }
    for what, (rows, expected) in checks.items():
        # Poisson noise (four sd) plus 1 %: the riders in session at t = 0 are a Poisson count
        allowed = 4.0 * np.sqrt(expected) + 0.01 * expected
        counted = _in_session(table, t, rows)
        assert (np.abs(counted - expected) < allowed).all(), (what, np.round(counted / expected, 3))
        assert np.abs(counted / expected - 1.0).max() < 0.08, what
    starts = int((~table.in_progress).sum())
    expected_starts = float(demand.starts.sum() * demand.tick_s)
    assert abs(starts - expected_starts) < 4.0 * np.sqrt(expected_starts)


def test_each_stream_draws_its_own_riders_and_a_seed_the_same_ones(evening) -> None:
    flows = evening.compiled.session_flows
    a, b = (draw_sessions(flows, np.random.default_rng(s)) for s in (1, 1))
    c = draw_sessions(flows, np.random.default_rng(2))
    assert np.array_equal(a.start_s, b.start_s) and np.array_equal(a.rendition, b.rendition)
    assert len(a) != len(c) or not np.array_equal(a.start_s, c.start_s)
    assert (a.end_s >= a.start_s).all() and (a.save_s >= a.end_s).all()
    assert (np.diff(a.start_s) >= 0).all()
    # live riders save their workout within a minute of the class end; on demand, at the end
    assert ((a.save_s - a.end_s)[~a.live] == 0).all()
    assert ((a.save_s - a.end_s)[a.live] <= 60.0).all()
