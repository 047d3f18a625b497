"""What riders saw per interval, as columns of a platform run's time series (both engines).

Every service's row of an interval carries the same figures: riders riding, riders with
degraded video, riders in class while the leaderboard was stale (each the interval's average;
the last only when the engine counts it), and the p99 lag of the leaderboard samples taken in
it (NaN where none was).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from twin.sim.sketch import hist_quantile, histogram_of

__all__ = ["LagSamples", "add_rider_columns", "lag_p99_by_interval"]

# (birth time s, lag s, weight) of leaderboard samples
LagSamples = tuple[np.ndarray, np.ndarray, np.ndarray]


def lag_p99_by_interval(lag: LagSamples | None, starts: np.ndarray, width: float) -> np.ndarray:
    """p99 leaderboard lag (s) of the samples taken in each interval; NaN where none were."""
    out = np.full(len(starts), np.nan)
    if lag is None or not len(starts):
        return out
    born, lag_s, weight = lag
    index = np.clip(((born - starts[0]) // width).astype(int), 0, len(starts) - 1)
    for i in np.unique(index):
        here = index == i
        out[i] = hist_quantile(histogram_of(lag_s[here], weight[here]), 0.99)
    return out


def add_rider_columns(
    frame: pd.DataFrame,
    tick_s: float,
    active: np.ndarray,
    degraded: np.ndarray,
    lag: LagSamples | None,
    *,
    stale: np.ndarray | None = None,
) -> pd.DataFrame:
    """`frame` with `active_riders`, `video_degraded_riders`, `leaderboard_lag_p99_s` and,
    given `stale`, `leaderboard_stale_riders` (per-tick counts averaged over each row's
    interval)."""
    starts = np.sort(frame["t_s"].unique())
    width = float(frame["interval_s"].iloc[0]) if len(frame) else len(active) * tick_s
    t = np.arange(len(active)) * tick_s
    index = np.clip((t // width).astype(int), 0, max(len(starts) - 1, 0))
    counts = np.maximum(np.bincount(index, minlength=len(starts)), 1)

    def per_interval(values: np.ndarray) -> np.ndarray:
        return np.bincount(index, weights=values, minlength=len(starts)) / counts

    columns = {
        "active_riders": per_interval(np.asarray(active, dtype=float)),
        "video_degraded_riders": per_interval(np.asarray(degraded, dtype=float)),
        "leaderboard_lag_p99_s": lag_p99_by_interval(lag, starts, width),
    }
    if stale is not None:
        columns["leaderboard_stale_riders"] = per_interval(np.asarray(stale, dtype=float))
    row = np.searchsorted(starts, frame["t_s"].to_numpy())
    frame = frame.copy()
    for name, values in columns.items():
        frame[name] = values[row]
    return frame
