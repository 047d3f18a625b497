"""From replication records to the `summary.json` mapping and the `timeseries.csv` table.

Pure calculation. Counts in the summary are totals over every replication after the warm-up;
means, utilizations and percentiles describe the pooled requests; `ci95` is a Student-t 95 %
interval across replications, or, with one replication of a steady bare network, across 20
batch means of the run. A platform run's load changes over time, so its batch means are not
alike and one replication of it has no interval: `ci95` is then left out, not faked.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from twin.sim.records import Grid, ReplicationRecord, SourceRecord, StationRecord
from twin.sim.sketch import hist_quantile
from twin.sim.warmup import mser5

__all__ = [
    "mean_ci",
    "pooled_mean_ci",
    "rank_bottlenecks",
    "source_histograms",
    "summarize",
    "timeseries",
    "warmup_index",
]

_QUANTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99, "p999": 0.999}
_BATCHES = 20


def warmup_index(records: Sequence[ReplicationRecord], warmup_s: float | str) -> int:
    """First report interval kept: from an explicit warm-up, or MSER-5 when it is "auto"."""
    grid = records[0].grid
    if warmup_s != "auto":
        w = math.ceil(float(warmup_s) / grid.width_s - 1e-9)
        return min(w, grid.n - 1)
    cut = 0
    series = [
        *(_fine_means([r.stations[name] for r in records]) for name in records[0].stations),
        *(_fine_means([r.sources[name] for r in records]) for name in records[0].sources),
    ]
    for values in series:
        cut = max(cut, mser5(values))
    return min(math.ceil(cut / grid.fine), grid.n - 1)


def _fine_means(reps: Sequence[StationRecord | SourceRecord]) -> np.ndarray:
    completed = np.sum([r.fine_completed for r in reps], axis=0)
    total = np.sum([r.fine_latency_sum for r in reps], axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(completed > 0, total / np.maximum(completed, 1), np.nan)


def mean_ci(values: Sequence[float]) -> tuple[float, list[float]]:
    """Mean and Student-t 95 % interval of independent estimates."""
    arr = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    if len(arr) == 0:
        return float("nan"), [float("nan"), float("nan")]
    mean = float(arr.mean())
    if len(arr) < 2:
        return mean, [mean, mean]
    from scipy import stats  # deferred: a second of import that a one-replication run never needs

    half = float(stats.t.ppf(0.975, len(arr) - 1) * arr.std(ddof=1) / math.sqrt(len(arr)))
    return mean, [mean - half, mean + half]


def pooled_mean_ci(
    sums: list[np.ndarray], counts: list[np.ndarray], w: int, *, batches: bool = True
) -> tuple[float, list[float] | None]:
    """The mean over every request after the warm-up, and a 95 % interval around it whose
    half-width comes from the spread of the replication (or batch) means; None without one.

    The mean is a ratio of totals, never an average of batch means: in a surge the busy
    minutes hold more requests than the quiet ones and must weigh more.
    """
    mean = _ratio(sum(float(s[w:].sum()) for s in sums), sum(float(c[w:].sum()) for c in counts))
    estimates = _ratio_estimates(sums, counts, w, batches=batches)
    _, (low, high) = mean_ci(estimates)
    if sum(not math.isnan(e) for e in estimates) < 2 or math.isnan(mean):
        return mean, None
    half = (high - low) / 2.0
    return mean, [mean - half, mean + half]


def _ratio_estimates(
    sums: list[np.ndarray], counts: list[np.ndarray], w: int, *, batches: bool = True
) -> list[float]:
    """Per-replication means after the warm-up, or batch means when there is one replication
    and `batches` allows them (one estimate, so no interval, when it does not)."""
    if len(sums) >= 2 or not batches:
        return [_ratio(s[w:].sum(), c[w:].sum()) for s, c in zip(sums, counts, strict=True)]
    s, c = sums[0][w:], counts[0][w:]
    n_batches = min(_BATCHES, len(s))
    if n_batches < 2:
        return [_ratio(s.sum(), c.sum())]
    edges = np.linspace(0, len(s), n_batches + 1).astype(int)
    return [_ratio(s[a:b].sum(), c[a:b].sum()) for a, b in itertools.pairwise(edges)]


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den > 0 else float("nan")


def _ms(x: float) -> float | None:
    return None if math.isnan(x) else round(x * 1000.0, 4)


def _latency_block(hist: np.ndarray, mean_s: float, ci: list[float] | None) -> dict[str, Any]:
    block: dict[str, Any] = {"mean": _ms(mean_s)}
    if ci is not None:
        block["ci95"] = [_ms(ci[0]), _ms(ci[1])]
    for key, q in _QUANTILES.items():
        block[key] = _ms(hist_quantile(hist, q))
    return block


def _station_summary(reps: list[StationRecord], w: int, batches: bool) -> dict[str, Any]:
    total = {k: float(sum(getattr(r, k)[w:].sum() for r in reps)) for k in _TOTALS}
    completed = [r.completed for r in reps]
    lat_mean, lat_ci = pooled_mean_ci([r.latency_sum for r in reps], completed, w, batches=batches)
    wait_mean, wait_ci = pooled_mean_ci([r.wait_sum for r in reps], completed, w, batches=batches)
    utils = [_ratio(r.busy_area[w:].sum(), r.capacity_area[w:].sum()) for r in reps]
    busy = np.sum([r.busy_area[w:] for r in reps], axis=0)
    cap = np.sum([r.capacity_area[w:] for r in reps], axis=0)
    peak = float(np.max(np.where(cap > 0, busy / np.maximum(cap, 1e-300), 0.0)))
    seconds = sum(r.capacity_area[w:].sum() / max(r.servers, 1) for r in reps)
    hist = np.sum([r.latency_hist[w:].sum(axis=0) for r in reps], axis=0)
    return {
        "servers": reps[0].servers,
        "arrivals": int(total["arrivals"]),
        "completed": int(total["completed"]),
        "dropped": int(total["dropped"]),
        "in_system_start": int(sum(r.in_system[w] for r in reps)),
        "in_system_end": int(sum(r.in_system[-1] for r in reps)),
        "throughput_per_s": round(_ratio(total["completed"], seconds), 6),
        "utilization_mean": round(float(np.nanmean(utils)), 6),
        "utilization_peak": round(peak, 6),
        "queue_mean": round(_ratio(total["queue_area"], seconds), 6),
        "in_system_mean": round(_ratio(total["system_area"], seconds), 6),
        "wait_ms": _wait_block(wait_mean, wait_ci),
        "latency_ms": _latency_block(hist, lat_mean, lat_ci),
    }


_TOTALS = ("arrivals", "completed", "dropped", "queue_area", "system_area")


def _wait_block(mean_s: float, ci: list[float] | None) -> dict[str, Any]:
    block: dict[str, Any] = {"mean": _ms(mean_s)}
    if ci is not None:
        block["ci95"] = [_ms(ci[0]), _ms(ci[1])]
    return block


def _source_summary(reps: list[SourceRecord], w: int, batches: bool) -> dict[str, Any]:
    mean, interval = pooled_mean_ci(
        [r.latency_sum for r in reps], [r.completed for r in reps], w, batches=batches
    )
    hist = np.sum([r.latency_hist[w:].sum(axis=0) for r in reps], axis=0)
    return {
        "arrivals": int(sum(r.arrivals[w:].sum() for r in reps)),
        "count": int(sum(r.completed[w:].sum() for r in reps)),
        "errors": int(sum(r.errors[w:].sum() for r in reps)),
        "latency_ms": _latency_block(hist, mean, interval),
    }


def rank_bottlenecks(services: dict[str, dict[str, Any]]) -> list[str]:
    """Services most saturated first: by peak utilization, then by mean utilization."""
    return sorted(
        services,
        key=lambda n: (services[n]["utilization_peak"], services[n]["utilization_mean"]),
        reverse=True,
    )


def summarize(records: Sequence[ReplicationRecord], w: int, meta: dict[str, Any]) -> dict[str, Any]:
    """The summary.json mapping: `meta` (scenario, engine, seed, ...) then services and requests."""
    grid = records[0].grid
    batches = meta.get("kind") != "platform"
    services = {
        name: _station_summary([r.stations[name] for r in records], w, batches)
        for name in records[0].stations
    }
    requests = {
        name: _source_summary([r.sources[name] for r in records], w, batches)
        for name in records[0].sources
    }
    ranked = rank_bottlenecks(services)
    return {
        **meta,
        "replications": len(records),
        "simulated_seconds": grid.duration_s,
        "warmup_s": round(w * grid.width_s, 6),
        "interval_s": round(grid.width_s, 6),
        "services": services,
        "requests": requests,
        "bottlenecks": ranked,
    }


def source_histograms(records: Sequence[ReplicationRecord], w: int) -> dict[str, np.ndarray]:
    """Each source's latency histogram from report interval `w` on, over every replication."""
    return {
        name: np.sum([r.sources[name].latency_hist[w:].sum(axis=0) for r in records], axis=0)
        for name in records[0].sources
    }


def timeseries(records: Sequence[ReplicationRecord]) -> pd.DataFrame:
    """One row per (interval, station): counts are per-replication means."""
    grid = records[0].grid
    frames = [
        _station_frame([r.stations[name] for r in records], name, grid)
        for name in records[0].stations
    ]
    return pd.concat(frames, ignore_index=True).sort_values(["t_s", "service"], kind="stable")


def _station_frame(reps: list[StationRecord], name: str, grid: Grid) -> pd.DataFrame:
    k = len(reps)

    def total(attr: str) -> np.ndarray:
        return np.sum([getattr(r, attr) for r in reps], axis=0)

    hist = np.sum([r.latency_hist for r in reps], axis=0)
    completed, width = total("completed"), grid.width_s
    with np.errstate(invalid="ignore", divide="ignore"):
        frame = {
            "t_s": np.arange(grid.n) * width,
            "interval_s": np.full(grid.n, width),
            "service": name,
            "arrivals": total("arrivals") / k,
            "completed": completed / k,
            "dropped": total("dropped") / k,
            "queue_mean": total("queue_area") / (k * width),
            "in_system_mean": total("system_area") / (k * width),
            "utilization": total("busy_area") / np.maximum(total("capacity_area"), 1e-300),
            "latency_ms_mean": np.where(completed > 0, total("latency_sum") / completed, np.nan)
            * 1e3,
        }
    for key in ("p50", "p95", "p99"):
        q = _QUANTILES[key]
        frame[f"latency_ms_{key}"] = np.array([hist_quantile(h, q) for h in hist]) * 1e3
    return pd.DataFrame(frame)
