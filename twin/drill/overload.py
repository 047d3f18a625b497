"""What a drill's faults do to the reference platform, over time: the overload half of a prediction.

A drill past the platform's capacity is driven by the faults it replays (`twin.drill.incidents`:
the scenario's shortfall mapped onto the admin API). The platform's response to each is a
mechanism simple enough to predict as a fluid, second by second, from the drill's own offered
load:

- paused stream consumers (`paused_consumers`: shards 0..n-1 stop reading). A shard receives
  its devices' share of the samples (`shard_shares`: devices hash to shards by CRC-32, so a
  light drill's shards are uneven) and drains at its consumer's rate when running. The backlog
  is the samples held; a sample's leaderboard lag is its age in its batch (taken at 1 Hz over
  the batch period) plus its wait in the shard, which a FIFO fluid gives exactly: the sample
  applied at t arrived when the shard's cumulative arrivals reached its departures at t;
- route errors (`routes.<type>.error_ratio`): that share of the type's requests answered 503;
- the origin down: every playlist and segment 503;
- the origin's egress capped: a byte-rate virtual clock (GCRA) with one segment's burst, as
  `twin.serve.streaming.EgressBucket`: a segment waits while the schedule runs ahead, and is
  refused (503) when the wait would pass `MAX_QUEUE_S`. The riders' rendition mix is the
  workload's: the players' downshifts under a slow origin are not modelled, so a long cap
  is over-predicted.

Pure calculation: arrays per drill second in, arrays per report interval out.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "EGRESS_MAX_WAIT_S",
    "FaultSeries",
    "LagPrediction",
    "egress_wait",
    "fault_series",
    "route_errors",
    "shard_shares",
    "stream_lag",
]

EGRESS_MAX_WAIT_S = 8.0  # twin.serve.streaming.MAX_QUEUE_S: two 4 s segments
STREAMED = ("playlist", "segment")  # the origin's request types
_STEP_S = 0.05  # the fluid's time step
_SPLIT = 8  # parts of a step's departures, each with its own wait


@dataclass(frozen=True)
class FaultSeries:
    """The faults in force in each drill second (the replayed PATCH documents, cumulated)."""

    paused: np.ndarray  # consumers paused
    origin_down: np.ndarray  # bool
    egress_bps: np.ndarray  # the cap in bits/s, NaN without one
    error_ratio: dict[str, np.ndarray] = field(default_factory=dict)  # by request type

    @property
    def any(self) -> bool:
        return bool(self.paused.any() or self.origin_down.any()
                    or np.isfinite(self.egress_bps).any() or self.error_ratio)  # fmt: skip


def fault_series(timeline: Iterable[tuple[float, Mapping[str, Any]]], seconds: int) -> FaultSeries:
    """The faults per drill second of `fault_timeline`'s `(drill second, PATCH document)`s."""
    paused, down = np.zeros(seconds), np.zeros(seconds, dtype=bool)
    egress, ratios = np.full(seconds, np.nan), dict[str, np.ndarray]()
    for tau, doc in sorted(timeline, key=lambda e: e[0]):
        k = max(0, int(tau))
        if "paused_consumers" in doc:
            paused[k:] = float(doc["paused_consumers"] or 0)
        if "origin_down" in doc:
            down[k:] = bool(doc["origin_down"])
        if "origin_egress_bps" in doc:
            bps = doc["origin_egress_bps"]
            egress[k:] = np.nan if bps is None else float(bps)
        for rtype, route in (doc.get("routes") or {}).items():
            ratio = ratios.setdefault(rtype, np.zeros(seconds))
            ratio[k:] = 0.0 if route is None else float(route.get("error_ratio") or 0.0)
    return FaultSeries(paused, down, egress, ratios)


def shard_shares(devices: Iterable[str], shards: int) -> np.ndarray:
    """Each shard's share of the devices, hashed as the reference platform hashes them
    (`twin.serve.backends.base.shard_of`); an even split without devices."""
    counts = np.zeros(shards)
    for device in devices:
        counts[zlib.crc32(device.encode()) % shards] += 1
    return counts / counts.sum() if counts.sum() else np.full(shards, 1.0 / shards)


def route_errors(
    rates: Mapping[str, np.ndarray], faults: FaultSeries, refused_segments: np.ndarray | None
) -> dict[str, np.ndarray]:
    """Requests per drill second answered 503 by the faults, by request type."""
    out = {}
    for rtype, rate in rates.items():
        share = np.clip(faults.error_ratio.get(rtype, np.zeros(rate.size)), 0.0, 1.0)
        if rtype in STREAMED:
            share = np.where(faults.origin_down, 1.0, share)
        failed = np.asarray(rate, dtype=float) * share
        if rtype == "segment" and refused_segments is not None:
            failed = failed + (rate - failed) * refused_segments
        out[rtype] = failed
    return out


def egress_wait(
    segments_per_s: np.ndarray, segment_bytes: float, cap_bps: np.ndarray, burst_bytes: float
) -> tuple[np.ndarray, np.ndarray]:
    """(mean wait s, share refused) per drill second of segments under the egress cap (NaN:
    none): the GCRA's schedule lead as a fluid. Each second's segments extend the schedule by
    their bytes over the rate; the lead drains one second per second; a segment waits for the
    lead beyond the burst, and is refused when that passes `EGRESS_MAX_WAIT_S`."""
    n = segments_per_s.size
    wait, refused = np.zeros(n), np.zeros(n)
    lead = 0.0
    for k in range(n):
        if not np.isfinite(cap_bps[k]):
            lead = 0.0
            continue
        rate = cap_bps[k] / 8.0
        burst_s = burst_bytes / rate
        room = burst_s + EGRESS_MAX_WAIT_S - lead  # schedule seconds it still admits
        offered = segments_per_s[k] * segment_bytes / rate
        taken = min(offered, max(room, 0.0) + 1.0)
        refused[k] = 0.0 if offered <= 0 else 1.0 - taken / offered
        before = max(0.0, lead - burst_s)
        lead = max(0.0, lead + taken - 1.0)
        wait[k] = 0.5 * (before + max(0.0, lead - burst_s))
    return wait, refused


@dataclass(frozen=True)
class LagPrediction:
    """Per report interval: the stream's backlog (samples, at the interval's end and its
    most) and the p99 leaderboard lag of the samples applied in it (NaN: none applied)."""

    backlog: np.ndarray
    lag_p99_s: np.ndarray


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    keep = weights > 0
    if not keep.any():
        return float("nan")
    order = np.argsort(values[keep])
    v, w = values[keep][order], weights[keep][order]
    cum = np.cumsum(w)
    return float(v[np.searchsorted(cum, q * cum[-1])])


def stream_lag(
    samples_per_s: np.ndarray, paused: np.ndarray, shares: Sequence[float], *,
    drain_per_shard_s: float, batch_s: float, width_s: float, n: int,
) -> LagPrediction:  # fmt: skip
    """The stream's backlog and the p99 lag per interval of `width_s` (`n` of them), shard by
    shard as FIFO fluids; ages within a batch are 0 .. batch_s - 1 s (1 Hz samples)."""
    steps = round(n * width_s / _STEP_S)
    t = (np.arange(steps) + 1) * _STEP_S
    second = np.minimum((t - 1e-9).astype(int), samples_per_s.size - 1)
    backlog, lag_values, lag_weights = np.zeros(steps), [], []
    for j, share in enumerate(shares):
        arrive = np.asarray(samples_per_s, dtype=float)[second] * share * _STEP_S
        running = paused[second] <= j
        held, left = 0.0, np.zeros(steps)
        for i in range(steps):
            held += arrive[i]
            if running[i]:
                held -= min(held, drain_per_shard_s * _STEP_S)
            left[i] = held
        backlog += left
        arrived = np.concatenate([[0.0], np.cumsum(arrive)])
        departed = arrived[1:] - left
        gone = np.diff(np.concatenate([[0.0], departed]))
        # a step's departures, in _SPLIT equal parts: each part's sample arrived when the
        # cumulative arrivals reached the cumulative departures at it (FIFO)
        parts = departed[:, None] - gone[:, None] * (1 - (np.arange(_SPLIT) + 0.5) / _SPLIT)
        when = np.interp(parts, arrived, np.concatenate([[0.0], t]))
        lag_values.append(np.maximum(t[:, None] - when, 0.0).ravel())
        lag_weights.append(np.repeat(gone / _SPLIT, _SPLIT))
    ages = np.arange(max(1, round(batch_s)), dtype=float)
    interval = np.minimum((t / width_s - 1e-9).astype(int), n - 1)
    waits, weights = np.concatenate(lag_values), np.concatenate(lag_weights)
    where = np.tile(np.repeat(interval, _SPLIT), len(shares))
    lag = np.full(n, np.nan)
    for k in range(n):
        mine = where == k
        total = (waits[mine][:, None] + ages[None, :]).ravel()
        lag[k] = _weighted_quantile(total, np.repeat(weights[mine], ages.size), 0.99)
    return LagPrediction(
        backlog=np.array([backlog[interval == k].max(initial=0.0) for k in range(n)]),
        lag_p99_s=lag,
    )
