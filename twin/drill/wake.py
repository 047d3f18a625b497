"""What a request sent on its own pays to find the processes asleep, measured from drills'
request logs (`--request-log`) and the target's saved metrics.

A request the journey sends right behind a response (a join after its app open, an on-demand
session's playlist after its master) finds the load generator and the target awake. One sent
on its own (a timer's: telemetry, the leaderboard, tempo, a live player's reload) finds the
target's event loop asleep in epoll for however long nothing reached it: its time outside the
target's handler (the log's `service_ms` less the route's mean handler time,
`twin_http_request_duration_seconds` in `metrics.txt`) grows with that idle gap. In every
drill logged so far it rises from ~0.5 ms above a request sent right behind a response at a
1 ms gap to 1-2 ms at 100 ms, with a time constant of ~20 ms.

So it has two parts, both measured here, not fitted: an `offset` every request sent on its
own pays (the model's `wakeup` delay, which the requests sent behind a response skip) and a
rise with the target's idle gap `g`, `penalty_s * (1 - exp(-g / tau_s))` (the target loop's
`wake`, `twin.config.architecture.Wake`). A request whose gap is under `_BUSY_MS` found the
target busy and queued, which the model's loops already count: it is left out. The gap is
the time since the last response the log saw end, over every rider. The requests measured
are the leaderboards, tempos and live reloads sent on their own (`_OWN`: a telemetry batch's
handler also waits for SQLite's group commit, whose spread is not the wake-up's); each
drill's excess is over the median of its playlists sent right behind a response (their
route's handler mean taken off the same way); the drills' excesses are pooled into one curve
(`_curve`: least squares on the gap bins' medians). The offset is a median there: the
lognormal written has that median.

On the stored drills (`scenarios/calibration-night/`, `scenarios/validation-evening/`): an
offset of 0.53 and 0.48 ms, a rise of 0.60 and 1.25 ms, time constants of 17 and 18 ms. The
offset holds from night to evening; the rise doubles, which is the hour, not the model.
"""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from twin.drill.fit import Fit
from twin.drill.lag import METRICS_NAME
from twin.drill.request_log import LOG_NAME
from twin.drill.saved_metrics import metric_samples
from twin.errors import InputError

__all__ = ["HANDLER_METRIC", "WakeFit", "handler_means_ms", "idle_excess", "wake_fit",
           "wakeup_offset"]

HANDLER_METRIC = "twin_http_request_duration_seconds"
# a request sent within this long of its rider's last response was sent right behind it
BEHIND_MS = 2.0
_BUSY_MS = 0.5  # a smaller gap: the target was still busy, the request queued
# the request types whose own-sent requests are measured (not telemetry: its handler waits for
# SQLite's group commit, whose spread is not the wake-up's); the behind-sent playlists are the base
_OWN = frozenset({"leaderboard", "tempo", "playlist"})
_BASE = "playlist"
_TAU_GRID_MS = np.geomspace(1.0, 200.0, 61)
_EDGES_MS = np.array([_BUSY_MS, 1.0, 2.0, 3.5, 5.0, 7.5, 10, 15, 20, 30, 50, 75, 100, 200, 1e9])
_MIN_BIN = 10
_MIN_BINS = 4  # gap bins with `_MIN_BIN` rows a fit needs: three parameters, and one to spare
_MIN_ROWS = 100
_MIN_CV = 0.1


@dataclass(frozen=True)
class WakeFit:
    """The measured wake-up: the offset every request sent on its own pays (a lognormal,
    seconds), the rise with the target's idle gap (seconds), and the rows it rests on."""

    offset: Fit
    penalty_s: float
    tau_s: float
    rows: int


def handler_means_ms(path: Path) -> dict[str, float]:
    """The target's mean handler time (ms) per route over its successful answers."""
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for s in metric_samples(path, HANDLER_METRIC):
        route, ok = s.labels.get("route", ""), str(s.labels.get("status", "")).startswith("2")
        if ok and s.name.endswith("_sum"):
            sums[route] = sums.get(route, 0.0) + s.value
        elif ok and s.name.endswith("_count"):
            counts[route] = counts.get(route, 0.0) + s.value
    return {r: 1e3 * sums.get(r, 0.0) / n for r, n in counts.items() if n > 0}


def _rows(log: Path) -> list[tuple[float, float, float, str, str]]:
    """(sent, due, end, type, rider) of each logged request, times in ms, by send time."""
    out = []
    with Path(log).open(encoding="utf-8", newline="") as fh:
        for i, row in enumerate(csv.DictReader(fh), start=2):
            try:
                due, lat = float(row["sent_s"]) * 1e3, float(row["latency_ms"])
                svc = float(row["service_ms"])
                out.append((due + lat - svc, due, due + lat, str(row["type"]), str(row["rider"])))
            except (KeyError, TypeError, ValueError):
                raise InputError(str(log), f"line {i}", "not a request log row") from None
    return sorted(out)


def idle_excess(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """One drill's own-sent requests: the target's idle gap before each (ms) and its time
    outside the handler beyond the behind-sent playlists' median (ms), and those playlists'
    own (ms, about their median); None without a log, metrics, or behind-sent playlists."""
    log, metrics = Path(folder) / LOG_NAME, Path(folder) / METRICS_NAME
    if not (log.is_file() and metrics.is_file()):
        return None
    handler = handler_means_ms(metrics)
    busy_until, last_end = -math.inf, dict[str, float]()
    gaps: list[float] = []
    own: list[float] = []
    base: list[float] = []
    for sent, due, end, rtype, rider in _rows(log):
        gap = max(sent - busy_until, 0.0)
        prev = last_end.get(rider)
        behind = prev is not None and due - prev < BEHIND_MS
        last_end[rider], busy_until = end, max(busy_until, end)
        if rtype not in handler:
            continue
        outside = end - sent - handler[rtype]
        if behind and rtype == _BASE:
            base.append(outside)
        elif not behind and rtype in _OWN and gap >= _BUSY_MS:
            gaps.append(gap)
            own.append(outside)
    if not base or not own:
        return None
    mid = float(np.median(base))
    return np.asarray(gaps), np.asarray(own) - mid, np.asarray(base) - mid


def _curve(gaps: np.ndarray, excess: np.ndarray) -> tuple[float, float, float]:
    """(offset, penalty, tau) in ms: the least-squares fit of offset + penalty * (1 -
    exp(-gap / tau)) to the excess's median in each gap bin, weighted by the bin's rows;
    (0, 0, 0) with fewer than `_MIN_BINS` bins, which cannot tell the three apart."""
    bins: list[tuple[float, float, float]] = []  # (gap, excess, rows) per bin
    for lo, hi in itertools.pairwise(_EDGES_MS):
        inside = (gaps >= lo) & (gaps < hi)
        if inside.sum() >= _MIN_BIN:
            bins.append((float(np.median(gaps[inside])), float(np.median(excess[inside])),
                         float(inside.sum())))  # fmt: skip
    if len(bins) < _MIN_BINS:
        return 0.0, 0.0, 0.0
    g, m, w = (np.asarray(col) for col in zip(*bins, strict=True))
    sw = np.sqrt(w)
    best = (math.inf, 0.0, 0.0, 1.0)
    for tau in _TAU_GRID_MS:
        design = np.column_stack([np.ones_like(g), 1.0 - np.exp(-g / tau)])
        coef, *_ = np.linalg.lstsq(design * sw[:, None], m * sw, rcond=None)
        loss = float(np.sum(w * (design @ coef - m) ** 2))
        if coef[1] > 0 and loss < best[0]:
            best = (loss, float(coef[0]), float(coef[1]), float(tau))
    return best[1], best[2], best[3]


def _robust_var(values: np.ndarray) -> float:
    """The variance a normal with these values' interquartile range would have (0 if none)."""
    if values.size < 2:
        return 0.0
    return float((np.subtract(*np.percentile(values, [75, 25])) / 1.349) ** 2)


def wake_fit(folders: Sequence[Path]) -> WakeFit | None:
    """The wake-up over the folders' request logs and metrics; None with fewer than
    `_MIN_ROWS` own-sent requests, or no rise with the idle gap. The offset's cv is what its
    requests' spread (at gaps under 2 ms) adds to the behind-sent playlists' (robust variances),
    at least `_MIN_CV`."""
    parts = [p for f in folders if (p := idle_excess(Path(f))) is not None]
    if not parts:
        return None
    gaps = np.concatenate([p[0] for p in parts])
    excess = np.concatenate([p[1] for p in parts])
    if gaps.size < _MIN_ROWS:
        return None
    offset, penalty, tau = _curve(gaps, excess)
    if penalty <= 0 or offset <= 0:
        return None
    own = _robust_var(excess[gaps < _EDGES_MS[2]])
    cv = math.sqrt(max(own - _robust_var(np.concatenate([p[2] for p in parts])), 0.0)) / offset
    cv = min(max(cv, _MIN_CV), 2.0)
    # the bins' medians put the offset's median in `offset`: the lognormal's mean is above it
    offset_fit = Fit(round(offset * math.sqrt(1.0 + cv**2) / 1e3, 7), round(cv, 4))
    return WakeFit(offset_fit, round(penalty / 1e3, 7), round(tau / 1e3, 5), int(gaps.size))


def wakeup_offset(folders: Sequence[Path]) -> tuple[Fit, int] | None:
    """`wake_fit`'s offset (the `wakeup` delay) and the rows it rests on, or None."""
    got = wake_fit(folders)
    return None if got is None else (got.offset, got.rows)
