"""Fold a station's per-tick laws into the per-interval `StationRecord` both engines share.

Arrivals, drops and time areas belong to the tick they happened in. A tick's admitted
requests complete about `d` after it (the backlog ahead of them), so their count, latency
sums and histogram go to the interval of that completion, as the exact engine files a
request when it leaves; those that would finish after the run are still in the system.
Histograms are computed once per distinct (p, theta, d): a steady station has one.
"""

from __future__ import annotations

import numpy as np

from twin.sim.fluid.latency import StationTicks
from twin.sim.fluid.service import ServiceShape, sojourn_histograms
from twin.sim.records import Grid, StationRecord

__all__ = ["add_histograms", "interval_of", "station_record"]

_CHUNK = 256
_STEP = 0.005
_P_STEP = 0.002


def interval_of(t: np.ndarray, width: float, n: int) -> np.ndarray:
    """Index of the interval (of `width`) holding each time, -1 past the last of `n`."""
    idx = np.floor(t / width + 1e-9).astype(np.int64)
    return np.where(idx < n, np.maximum(idx, 0), -1)


def _sum_by(index: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    keep = index >= 0
    return np.bincount(index[keep], weights=values[keep], minlength=n)[:n]


def add_histograms(
    out: np.ndarray,
    shape: ServiceShape,
    params: tuple[np.ndarray, ...],
    rows: np.ndarray,
    weights: np.ndarray,
    room: int = 0,
) -> None:
    """out[rows[k]] += weights[k] x histogram of the sojourn law params[.][k] (rows >= 0).

    `params` are (p, theta, d, ratio, rate) per tick (see twin.sim.fluid.service).

    Ticks whose laws differ by less than a fraction of a histogram bin share one evaluation
    (see `_law_groups`): a steady station costs one, a day of varying load a few hundred.
    """
    keep = (rows >= 0) & (weights > 0)
    if not keep.any():
        return
    kept = [a[keep] for a in params]
    rows, weights = rows[keep], weights[keep]
    group, laws = _law_groups(kept, weights, shape.mean)
    order = np.argsort(group, kind="stable")
    group, rows, weights = group[order], rows[order], weights[order]
    for start in range(0, len(laws), _CHUNK):
        block = laws[start : start + _CHUNK]
        lo, hi = np.searchsorted(group, [start, start + len(block)])
        mix = np.bincount(
            rows[lo:hi] * len(block) + group[lo:hi] - start,
            weights=weights[lo:hi],
            minlength=out.shape[0] * len(block),
        ).reshape(out.shape[0], len(block))
        p, theta, d, ratio, rate = block.T
        out += mix @ sojourn_histograms(shape, p, theta, d, ratio, rate, room)


def _law_groups(
    params: list[np.ndarray], w: np.ndarray, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Group ticks whose laws agree within `_STEP`; each group's weighted-mean law.

    Steps are relative (0.5 % in theta, in d + service mean and in the drain rate; 0.002 in
    p and in a finite queue's ratio): a fifth of the histogram's 2.3 % bins, so grouping
    moves no quantile by more than the sketch itself does.
    """
    p, theta, d, ratio, rate = params
    finite = np.where(np.isfinite(theta) & (theta > 0), theta, 1e300)
    keys = np.stack(
        (
            np.rint(p / _P_STEP),
            np.rint(np.log(finite) / _STEP),
            np.rint(np.log1p(d / scale) / _STEP),
            np.rint(ratio / _P_STEP),
            np.rint(np.log(np.maximum(rate, 1e-300)) / _STEP),
        ),
        axis=1,
    ).astype(np.int64)
    _, group = np.unique(keys, axis=0, return_inverse=True)
    group = group.reshape(-1)
    total = np.bincount(group, weights=w)
    columns = (p, finite, d, ratio, rate)
    laws = np.stack([np.bincount(group, weights=w * a) / total for a in columns], axis=1)
    return group, laws


def station_record(
    ticks: StationTicks, shape: ServiceShape, grid: Grid, tick_s: float
) -> StationRecord:
    """The StationRecord of one replication from the station's tick laws.

    Capacity is what the station could serve tick by tick (autoscaled servers, or fewer
    servers' worth where a write or shard limit binds), so utilization reads against it. The
    record's `servers` is the run's mean of that capacity, which keeps the summary's
    capacity-area / servers equal to the simulated seconds; for a fixed station it is its
    server count.
    """
    mean_servers = float(ticks.servers.mean()) if len(ticks.servers) else 1.0
    servers = int(mean_servers) if mean_servers.is_integer() else round(mean_servers, 3)
    n, rec = grid.n, StationRecord.empty(grid, servers)  # type: ignore[arg-type]
    start = np.arange(len(ticks.p)) * tick_s
    here = interval_of(start + tick_s / 2.0, grid.width_s, n)
    done_t = start + tick_s / 2.0 + ticks.d
    done = interval_of(done_t, grid.width_s, n)
    fine = interval_of(done_t, grid.fine_width_s, n * grid.fine)
    w = ticks.admitted
    rec.arrivals[:] = _sum_by(here, ticks.arrivals, n)
    rec.dropped[:] = _sum_by(here, ticks.dropped, n)
    rec.completed[:] = _sum_by(done, w, n)
    rec.wait_sum[:] = _sum_by(done, w * ticks.wait_mean, n)
    rec.latency_sum[:] = _sum_by(done, w * ticks.latency_mean, n)
    rec.fine_completed[:] = _sum_by(fine, w, n * grid.fine)
    rec.fine_latency_sum[:] = _sum_by(fine, w * ticks.latency_mean, n * grid.fine)
    rec.queue_area[:] = _sum_by(here, ticks.queue * tick_s, n)
    rec.busy_area[:] = _sum_by(here, ticks.busy * tick_s, n)
    rec.system_area[:] = rec.queue_area + rec.busy_area
    rec.capacity_area[:] = _sum_by(here, ticks.capacity * tick_s, n)
    ends = _last_tick_of_each(here, n)
    rec.in_system[1:] = np.where(ends >= 0, ticks.in_system_end[np.maximum(ends, 0)], 0.0)
    laws = (ticks.p, ticks.theta, ticks.d, ticks.ratio, ticks.rate)
    add_histograms(rec.latency_hist, shape, laws, done, w, ticks.room)
    return rec


def _last_tick_of_each(index: np.ndarray, n: int) -> np.ndarray:
    last = np.full(n, -1, dtype=np.int64)
    valid = index >= 0
    last[index[valid]] = np.flatnonzero(valid)
    return last
