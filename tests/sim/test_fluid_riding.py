"""Riders who give up leave the fluid engine's offered load for what was left of their session.

The survival law of a session starting at a tick is checked against the sessions it is drawn
from (a class that ends at a known time; an on-demand length law), and `keep` against the
count of riders taken out.
"""

from __future__ import annotations

import numpy as np
import pytest

from twin.sim.class_weights import ClassWeights
from twin.sim.fluid.reconnects import reconnect_rate
from twin.sim.fluid.riding import Riding
from twin.sim.sessions import LIVE, ON_DEMAND, SessionFlows

TICKS = 600


def _flows(*, live: float, od: float, class_end_s: float | None, pmf: list[float]) -> SessionFlows:
    t = np.arange(TICKS, dtype=float)
    starts = np.zeros((2, 1, TICKS))
    starts[LIVE, 0, :] = live
    starts[ON_DEMAND, 0, :] = od
    classes = 0 if class_end_s is None else 1
    weight = np.ones((1, classes, TICKS))
    return SessionFlows(
        t=t,
        tick_s=1.0,
        starts=starts,
        active0=np.zeros((2, 1)),
        class_weight=ClassWeights.from_dense(weight),
        class_weight0=np.ones((1, classes)),
        class_end_s=np.array([class_end_s] if classes else []),
        od_pmf=np.asarray(pmf, float),
        rendition_shares=np.ones((1, 1)),
        telemetry=np.array([True]),
    )


def test_an_on_demand_session_survives_by_its_length_law() -> None:
    # half the sessions last 1 minute, half 3 minutes
    riding = Riding(_flows(live=0, od=1.0, class_end_s=None, pmf=[0, 0.5, 0, 0.5]), np.ones(TICKS))
    s = riding.survival(10)
    assert s[:59].tolist() == [1.0] * 59  # still riding 1..59 s later
    assert s[59:179].tolist() == [0.5] * 120  # the 1-minute half left at 60 s
    assert len(s) == 180 and s[179] == 0.0


def test_a_live_rider_would_have_ridden_to_the_end_of_the_class() -> None:
    riding = Riding(_flows(live=1.0, od=0, class_end_s=300.0, pmf=[0, 1.0]), np.ones(TICKS))
    s = riding.survival(100)
    assert np.flatnonzero(s).tolist() == list(range(199))  # 1..199 s after t = 100
    assert s[:199] == pytest.approx(1.0)


def test_a_mix_weighs_live_and_on_demand_by_their_starts() -> None:
    riding = Riding(_flows(live=3.0, od=1.0, class_end_s=400.0, pmf=[0, 1.0]), np.ones(TICKS))
    s = riding.survival(0)
    assert s[30] == pytest.approx(1.0)
    assert s[100] == pytest.approx(0.75)  # the on-demand quarter rode one minute
    assert s[398] == pytest.approx(0.75) and s[399] == 0.0


def test_riders_who_leave_are_out_of_the_load_for_their_session() -> None:
    active = np.full(TICKS, 200.0)
    riding = Riding(_flows(live=0, od=1.0, class_end_s=None, pmf=[0, 0, 1.0]), active)
    riding.leave(10, 50.0)
    assert riding.keep(10) == 1.0  # from the next tick on
    assert riding.keep(11) == pytest.approx(0.75)
    assert riding.keep(11 + 118) == pytest.approx(0.75)
    assert riding.keep(11 + 119) == 1.0  # their two minutes are over
    riding.leave(20, 1000.0)  # more than ride: none kept, never negative
    assert riding.keep(30) == 0.0
    assert riding.left == pytest.approx(1050.0)


def test_reconnect_rate_is_the_rate_of_stall_runs_reaching_the_limit() -> None:
    """Against a player simulated segment by segment: stalls i.i.d. with chance p, a counter
    of stalls in a row that resets on a good segment and on reaching `after` (a reconnect)."""
    rng = np.random.default_rng(7)
    segments = 400_000
    for p, after in ((0.3, 2), (0.6, 2), (0.8, 3), (1.0, 2)):
        stalled = rng.random(segments) < p
        run, reconnects = 0, 0
        for s in stalled.tolist():
            run = run + 1 if s else 0
            if run == after:
                reconnects, run = reconnects + 1, 0
        per_s = reconnects / (segments * 4.0)
        assert reconnect_rate(p, after, 4.0) == pytest.approx(per_s, rel=0.03)
    assert reconnect_rate(0.0, 2, 4.0) == 0.0
