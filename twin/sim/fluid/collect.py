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
    params: tuple[np.ndarray, np.ndarray, np.ndarray],
    rows: np.ndarray,
    weights: np.ndarray,
) -> None:
    """out[rows[k]] += weights[k] x histogram of the sojourn law params[.][k] (rows >= 0)."""
    keep = (rows >= 0) & (weights > 0)
    if not keep.any():
        return
    p, theta, d = (a[keep] for a in params)
    rows, weights = rows[keep], weights[keep]
    unique, inverse = np.unique(np.stack((p, theta, d), axis=1), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    for start in range(0, len(unique), _CHUNK):
        block = unique[start : start + _CHUNK]
        hist = sojourn_histograms(shape, block[:, 0], block[:, 1], block[:, 2])
        mine = (inverse >= start) & (inverse < start + len(block))
        mix = np.zeros((out.shape[0], len(block)))
        np.add.at(mix, (rows[mine], inverse[mine] - start), weights[mine])
        out += mix @ hist


def station_record(
    ticks: StationTicks, shape: ServiceShape, grid: Grid, tick_s: float, servers: int
) -> StationRecord:
    """The StationRecord of one replication from the station's tick laws."""
    n, rec = grid.n, StationRecord.empty(grid, servers)
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
    rec.capacity_area[:] = _sum_by(here, ticks.servers * tick_s, n)
    ends = _last_tick_of_each(here, n)
    rec.in_system[1:] = np.where(ends >= 0, ticks.in_system_end[np.maximum(ends, 0)], 0.0)
    add_histograms(rec.latency_hist, shape, (ticks.p, ticks.theta, ticks.d), done, w)
    return rec


def _last_tick_of_each(index: np.ndarray, n: int) -> np.ndarray:
    last = np.full(n, -1, dtype=np.int64)
    valid = index >= 0
    last[index[valid]] = np.flatnonzero(valid)
    return last
