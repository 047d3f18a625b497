"""A rider's view of a run: who had a spoiled class, why, and how it went over time.

From the engine's `experience` block (the exact engine counts sessions spoiled by their
first cause: a join given up, a stream lost for good, 10 % or more of the video stalled, or
a leaderboard stale past `STALE_LAG_S` for 10 % or more of the class; the fluid engine counts
the joins given up and, in expectation, the stale leaderboards) and from the platform-wide
time series columns both engines write: `active_riders`, `video_degraded_riders`,
`leaderboard_stale_riders` and `leaderboard_lag_p99_s`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from twin.report.tables import Cell, Table
from twin.report.units import MISSING, fmt_count, fmt_pct
from twin.results.reading import dig, is_number
from twin.sim.leaderboard_stale import STALE_LAG_S, STALE_SHARE

if TYPE_CHECKING:
    from twin.report.figures import Plot

__all__ = [
    "CAUSES",
    "RIDER_COLUMNS",
    "has_rider_series",
    "lag_target",
    "rider_series",
    "spoiled_table",
]

CAUSES = (
    ("join", "gave up joining (join failed past their patience)"),
    ("stream_lost", "lost the stream and could not rejoin"),
    ("video", "video stalled for 10% or more of the class"),
    (
        "leaderboard",
        f"saw the leaderboard more than {STALE_LAG_S:g} s behind for "
        f"{STALE_SHARE:.0%} or more of the class",
    ),
)
RIDER_COLUMNS = (
    "active_riders",
    "video_degraded_riders",
    "leaderboard_stale_riders",
    "leaderboard_lag_p99_s",
)


def spoiled_table(summary: Mapping[str, Any]) -> Table | None:
    """Sessions spoiled by cause, as counts and as shares of all sessions; None without it."""
    by = dig(summary, "experience", "sessions_spoiled_by")
    sessions = dig(summary, "sessions")
    fraction = dig(summary, "experience", "sessions_spoiled_fraction")
    if not isinstance(by, Mapping) or not (is_number(sessions) or is_number(fraction)):
        return None
    total = sum(float(v) for v in by.values() if is_number(v))

    def share(count: float) -> float:
        if is_number(sessions) and sessions > 0:
            return float(count) / float(sessions)
        return float(fraction) * float(count) / total if total else 0.0

    rows = [_cause_row(words, by.get(key), share) for key, words in CAUSES]
    counted = all(is_number(by.get(key)) for key, _ in CAUSES)
    rows.append((Cell("any of these" if counted else "any of those counted", css="name"),
                 Cell(fmt_count(round(total))),
                 Cell(fmt_pct(fraction if is_number(fraction) else share(total)))))  # fmt: skip
    note = "Each session counts once, under the first thing that spoiled it; counts are per run."
    if not counted:
        note += " This engine does not follow single sessions' video: those causes are not counted."
    reconnects = dig(summary, "experience", "reconnects")
    if is_number(reconnects):
        note += f" Players that dropped their stream and joined again: {fmt_count(reconnects)}."
    return Table(("riders' classes spoiled because they", "sessions", "share"), tuple(rows), note)


def _cause_row(words: str, count: Any, share: Any) -> tuple[Cell, ...]:
    if not is_number(count):
        return (Cell(words, css="name"), Cell("not counted"), Cell(MISSING))
    return (Cell(words, css="name"), Cell(fmt_count(count)), Cell(fmt_pct(share(count))))


def _platform(ts: pd.DataFrame, column: str) -> pd.Series:
    """A platform-wide column, one value per interval (every service carries the same)."""
    return ts.groupby("t_s")[column].first().astype(float)


def has_rider_series(ts: pd.DataFrame) -> bool:
    """Whether the time series has riders to draw (`rider_series` returns a plot)."""
    return "active_riders" in ts.columns and bool(ts["active_riders"].notna().any())


def rider_series(ts: pd.DataFrame, unit_s: float, label: str,
                 lag_target_s: float | None) -> Plot | None:  # fmt: skip
    """Riders in class, the share of them with degraded video, and the leaderboard's p99 lag
    over time; None when the time series has none of the rider columns."""
    if not has_rider_series(ts):
        return None
    from twin.report.figures import Plot, new_figure, plain_ticks  # deferred: matplotlib

    present = [c for c in RIDER_COLUMNS if c in ts.columns and ts[c].notna().any()]
    figure, axes = new_figure(len(present), row_height_in=2.1, sharex=True)
    active = _platform(ts, "active_riders")
    x = (active.index.to_numpy(dtype=float) + _width(ts)) / unit_s
    for ax, column in zip(axes[:, 0], present, strict=True):
        title, values = _panel(ts, column, active)
        ax.plot(x, values.to_numpy(dtype=float), color="#1f5fa8")
        if column == "leaderboard_lag_p99_s":
            _lag_lines(ax, lag_target_s)
        ax.set_ylim(bottom=0)
        plain_ticks(ax)
        ax.set_title(title, loc="left")
    axes[-1, 0].set_xlabel(label)
    figure.suptitle("A rider's view over time", x=0.01, ha="left")
    caption = (
        "Riders in a class at each interval, the share of them watching degraded video "
        "(downshifted or rebuffering), the share of them whose leaderboard was more than "
        f"{STALE_LAG_S:g} s behind, and the p99 lag from a bike's sample to the leaderboard; "
        "incident windows hatched as on every time plot."
    )
    return Plot("rider-view", "A rider's view over time", caption, figure)


def _lag_lines(ax: Any, lag_target_s: float | None) -> None:
    """The stale threshold (and the run's lag SLO, when it has one) on the lag panel."""
    ax.axhline(STALE_LAG_S, color="#d62728", ls=":", label=f"stale past {STALE_LAG_S:g} s")
    if lag_target_s is not None and lag_target_s != STALE_LAG_S:
        ax.axhline(lag_target_s, color="#7f7f7f", ls="--", label=f"SLO {lag_target_s:g} s")
    ax.legend(loc="upper left")


_SHARES = ("video_degraded_riders", "leaderboard_stale_riders")  # shares of the riders in class
_TITLES = {
    "active_riders": "riders in class",
    "video_degraded_riders": "% of them with degraded video",
    "leaderboard_stale_riders": f"% of them with a leaderboard over {STALE_LAG_S:g} s behind",
    "leaderboard_lag_p99_s": "leaderboard lag p99 (s)",
}


def _panel(ts: pd.DataFrame, column: str, active: pd.Series) -> tuple[str, pd.Series]:
    if column in _SHARES:  # a share of the riders in class, not a count
        riders = _platform(ts, column)
        return _TITLES[column], riders / active.where(active > 0) * 100.0
    return _TITLES[column], _platform(ts, column)


def _width(ts: pd.DataFrame) -> np.ndarray:
    return ts.groupby("t_s")["interval_s"].max().to_numpy(dtype=float) / 2


def lag_target(slos: Sequence[Any]) -> float | None:
    """The leaderboard-lag target of the run's SLOs, if it has one."""
    for slo in slos:
        if "leaderboard_lag" in str(dig(slo, "metric")) and is_number(dig(slo, "target")):
            return float(dig(slo, "target"))
    return None
