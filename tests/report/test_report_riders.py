"""A rider's view: spoiled classes by cause from the experience block, and over time."""

from __future__ import annotations

import numpy as np
import pandas as pd

from twin.report.figures import plot_style
from twin.report.riders import lag_target, rider_series, spoiled_table


def test_spoiled_sessions_by_cause_as_counts_and_shares() -> None:
    # the exact engine's figures of live-broadcast-failure at --scale 0.002
    experience = {"sessions_spoiled_fraction": 0.627451, "reconnects": 3,
                  "sessions_spoiled_by": {"join": 572, "stream_lost": 4, "video": 0}}  # fmt: skip
    table = spoiled_table({"experience": experience})
    assert table is not None
    rows = [[cell.text for cell in row] for row in table.rows]
    assert [row[1:] for row in rows] == [
        ["572", "62.3%"], ["4", "0.4%"], ["0", "0.0%"], ["not counted", "\u2014"], ["576", "62.7%"],
    ]  # fmt: skip
    assert rows[0][0].startswith("gave up joining")
    assert "joined again: 3" in table.note
    assert spoiled_table({"experience": {"join_failures": 4}}) is None  # nothing counted


def test_a_fluid_run_counts_the_causes_it_follows_out_of_its_expected_sessions() -> None:
    summary = {"sessions": 500,
               "experience": {"sessions_spoiled_by": {"join": 10, "leaderboard": 390}}}  # fmt: skip
    table = spoiled_table(summary)
    assert table is not None
    rows = [[cell.text for cell in row] for row in table.rows]
    assert [row[1:] for row in rows] == [
        ["10", "2.0%"], ["not counted", "\u2014"], ["not counted", "\u2014"], ["390", "78.0%"],
        ["400", "80.0%"],
    ]  # fmt: skip
    assert rows[3][0].startswith("saw the leaderboard more than 30 s behind")
    assert rows[4][0] == "any of those counted"
    assert "not counted" in table.note


def test_the_share_of_riders_with_degraded_video_over_time() -> None:
    t = np.repeat(np.arange(4) * 60.0, 2)
    ts = pd.DataFrame({
        "t_s": t, "interval_s": 60.0, "service": ["api", "db"] * 4,
        "active_riders": np.repeat([100.0, 200.0, 50.0, 0.0], 2),
        "video_degraded_riders": np.repeat([0.0, 50.0, 50.0, 0.0], 2),
        "leaderboard_stale_riders": np.repeat([0.0, 100.0, 50.0, 0.0], 2),
        "leaderboard_lag_p99_s": np.repeat([5.0, 6.0, 90.0, 5.0], 2),
    })  # fmt: skip
    target = lag_target([{"metric": "experience.leaderboard_lag_s.p99", "target": 8.0}])
    assert target == 8.0
    with plot_style():
        plot = rider_series(ts, 60.0, "simulated time (min)", target)
    assert plot is not None
    riders, share, stale, lag = plot.figure.axes
    assert list(riders.lines[0].get_ydata()) == [100.0, 200.0, 50.0, 0.0]
    assert list(share.lines[0].get_ydata()[:3]) == [0.0, 25.0, 100.0]
    assert np.isnan(share.lines[0].get_ydata()[3])  # nobody in class: no share, not 0%
    assert list(stale.lines[0].get_ydata()[:3]) == [0.0, 50.0, 100.0]
    # the stale threshold and the run's lag SLO
    assert [line.get_ydata()[0] for line in lag.lines[1:]] == [30.0, 8.0]
    assert rider_series(ts.drop(columns="active_riders"), 60.0, "", None) is None
