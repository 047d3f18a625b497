"""A drill's `timeseries.csv`: the columns of a simulated run's, measured over drill time.

One row per interval and request type (in the `service` column: a drill sees the platform from
outside, request by request). An interval is whole latency windows of the recorder
(`Measured.window_s`: 1 s up to a 120 s drill), several when the drill is light, so that the
busiest request type has ~10 requests in one while at least 20 intervals remain
(`intervals_of`). Per interval: the requests sent (`arrivals`), those answered (`completed`)
and those that failed (`dropped`), and the p50/p95/p99 of their latency from the intended send
time (the windows' own histograms). The leaderboard pipeline's lag (the p99 lag of the samples
that reached the leaderboard in the interval, from the target's `twin_leaderboard_lag_seconds`
histogram scraped about once a second; empty when none did, as while its consumers are paused)
and the stream's backlog are platform-wide columns, the same on every row of an interval.

`t_s` is drill time (seconds since the drill's start), so a replayed incident's window, also in
drill seconds, lines up. Over repeats the runs' windows at the same drill time are pooled:
latency histograms add, counts are per run (their mean), the lag is the worst run's. Pure
calculation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from hdrh.histogram import HdrHistogram

from twin.drill.measure import Measured

__all__ = ["MIN_INTERVALS", "PER_INTERVAL", "LagPoint", "intervals_of", "timeline"]

LagPoint = tuple[float, float, float]  # (drill second, p99 lag s of samples applied, backlog)
_PERCENTILES = (("latency_ms_p50", 50.0), ("latency_ms_p95", 95.0), ("latency_ms_p99", 99.0))
PER_INTERVAL = 10  # requests of the busiest type an interval should hold
MIN_INTERVALS = 20  # ... unless that leaves fewer points than this


def _pooled(runs: Sequence[Measured], name: str, windows: range) -> HdrHistogram | None:
    """The latency histograms of recorder windows `windows` of every run, added up."""
    pooled = None
    for run in runs:
        m = run.types.get(name)
        if m is None:
            continue
        # a request sent a hair before t0 is recorded in window -1: the first window's
        for k in [-1, *windows] if windows.start == 0 else windows:
            if (hist := m.windows.get(k)) is not None:
                pooled = _add(pooled, hist)
    return pooled


def intervals_of(runs: Sequence[Measured], windows: int) -> int:
    """Recorder windows per timeline interval: enough that the busiest request type has about
    `PER_INTERVAL` requests in one (a percentile of one or two requests says little), while
    the timeline keeps at least `MIN_INTERVALS` points."""
    sent: dict[str, int] = {}  # per type, over every run
    for run in runs:
        for name, m in run.types.items():
            sent[name] = sent.get(name, 0) + sum(m.per_second.values())
    busiest = max(sent.values(), default=0) / max(1, len(runs)) / max(1, windows)  # a window's
    wanted = math.ceil(PER_INTERVAL / busiest) if busiest > 0 else 1
    return max(1, min(wanted, windows // MIN_INTERVALS))


def _add(into: HdrHistogram | None, hist: HdrHistogram) -> HdrHistogram:
    if into is None:
        into = HdrHistogram(1, hist.highest_trackable_value, hist.significant_figures)
    into.add(hist)
    return into


def _in_windows(counts: dict[int, int], width: float, n: int) -> np.ndarray:
    out = np.zeros(n)
    for second, value in counts.items():
        k = int(second // width)
        if 0 <= k < n:  # sent after the drill's last second (its users stopping): not in it
            out[k] += value
    return out


def _lag_columns(lags: Sequence[Sequence[LagPoint]], width: float, n: int) -> dict[str, np.ndarray]:
    lag, backlog = np.full(n, np.nan), np.full(n, np.nan)
    for points in lags:
        for second, value, queued in points:
            k = int(second // width)
            if 0 <= k < n:
                if math.isfinite(value):
                    lag[k] = np.fmax(lag[k], value)
                backlog[k] = np.fmax(backlog[k], queued)
    return {"leaderboard_lag_s": lag, "ingest_backlog": backlog}


def timeline(
    runs: Sequence[Measured], lags: Sequence[Sequence[LagPoint]], seconds: int
) -> pd.DataFrame:
    """The drill's time series (long: a row per window and request type)."""
    window = float(runs[0].window_s or 1.0)
    windows = max(1, math.ceil(seconds / window - 1e-9))
    per = intervals_of(runs, windows)
    width, n = window * per, math.ceil(windows / per)
    names = list(dict.fromkeys(name for run in runs for name in run.types))
    extra = _lag_columns(lags, width, n) if any(lags) else {}
    frames = []
    for name in names:
        measures = [run.types[name] for run in runs if name in run.types]
        sent = sum(_in_windows(m.per_second, width, n) for m in measures) / len(runs)
        failed = sum(_in_windows(m.errors_per_second, width, n) for m in measures) / len(runs)
        frame = pd.DataFrame({
            "t_s": np.arange(n) * width, "interval_s": width, "service": name,
            "arrivals": sent, "completed": sent - failed, "dropped": failed,
        })  # fmt: skip
        latency = np.full((n, len(_PERCENTILES)), np.nan)
        for k in range(n):
            hist = _pooled(runs, name, range(k * per, min((k + 1) * per, windows)))
            if hist is not None and hist.get_total_count() > 0:
                latency[k] = [hist.get_value_at_percentile(q) / 1000.0 for _, q in _PERCENTILES]
        for i, (column, _) in enumerate(_PERCENTILES):
            frame[column] = latency[:, i]
        for column, values in extra.items():
            frame[column] = values
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
