"""The prediction of a drill over time: `predicted-timeseries.csv`, the measured timeline's twin.

The measured timeline (`twin.drill.timeline`) is per report interval and request type: the
requests sent and failed, their p50/p95/p99, the leaderboard lag and the stream's backlog. This
is the same table as the twin predicts it, in two parts:

- the exact engine on the drill's workload (the platform `predict` runs), its replications
  recorded on the timeline's intervals: per type, the requests, the ones its stations dropped,
  and their latency percentiles (each request type is a source of the engine; its
  histogram per interval is pooled over the replications);
- the faults the drill replays, as `twin.drill.overload` predicts them: 503s from route
  errors, the origin down or its egress refusing; the egress cap's wait added to the segments'
  latency; the stream's backlog and the leaderboard lag with consumers paused.

Columns as the measured timeline's, so the report draws both on one axis.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from twin.config.vocabulary import TELEMETRY_BATCH_S
from twin.drill.overload import FaultSeries, egress_wait, route_errors, shard_shares, stream_lag
from twin.drill.plan import DrillWorkload
from twin.runs.compile import segment_mb
from twin.serve.hls import DEFAULT_SEGMENT_S, RENDITIONS
from twin.sim.exact.model import from_platform
from twin.sim.exact.replication import run_replication
from twin.sim.records import Grid
from twin.sim.sketch import hist_quantile

__all__ = [
    "PREDICTED_SERIES",
    "StreamSetup",
    "TimelinePrediction",
    "predicted_timeline",
    "stream_setup",
    "with_faults",
]

PREDICTED_SERIES = "predicted-timeseries.csv"
_BLOCKED = frozenset({"telemetry", "leaderboard"})  # due while the player's loop waits
_Q = (("latency_ms_p50", 0.50), ("latency_ms_p95", 0.95), ("latency_ms_p99", 0.99))


@dataclass(frozen=True)
class StreamSetup:
    """What the fluids need of the target: its shards' shares of the drill's devices, a
    consumer's drain rate, the telemetry batch period, and one segment's bytes (mean) and the
    egress bucket's burst (the largest segment)."""

    shares: Sequence[float]
    drain_per_shard_s: float
    batch_s: float
    segment_bytes: float
    burst_bytes: float


def stream_setup(
    architecture: Any, platform: Any, devices: Sequence[str], shards: int
) -> StreamSetup:
    """The target's stream and origin as the fluids see them: the shards' shares of the
    drill's `devices`, the stream consumer's rate (the architecture's stream processor: one
    record, a batch, per service time), the workload's mean segment and the largest one."""
    processor = getattr(architecture.ingest, "processor", None) if architecture.ingest else None
    station = architecture.components[processor].station if processor else None
    mean_s = float(station.service.mean) if station is not None else 0.0
    batch = max(1, round(TELEMETRY_BATCH_S))
    largest = max(r.bandwidth_bps for r in RENDITIONS) * DEFAULT_SEGMENT_S / 8.0
    return StreamSetup(
        shares=tuple(shard_shares(devices, shards)),
        drain_per_shard_s=batch / mean_s if mean_s > 0 else 1e6,
        batch_s=float(TELEMETRY_BATCH_S),
        segment_bytes=segment_mb(platform.demand, platform.bytes_per_s) * 1e6,
        burst_bytes=largest,
    )


def _engine(platform: Any, name: str, seed: int, replications: int, width_s: float) -> dict:
    """Per request type, summed over replications: arrivals, errors and latency histograms
    per interval of `width_s`."""
    duration = len(platform.t) * float(platform.tick_s)
    model = from_platform(platform, name, seed, width_s)
    grid = Grid.for_run(model.duration_s, model.interval_s)
    out: dict[str, dict[str, np.ndarray]] = {}
    for r in range(replications):
        record = run_replication(model, grid, replication=r)
        for rtype, src in record.sources.items():
            if rtype.startswith("ingest:"):
                continue
            zero = np.zeros_like(src.arrivals, dtype=float)
            into = out.setdefault(rtype, {"arrivals": zero, "errors": zero,
                                          "hist": np.zeros_like(src.latency_hist)})  # fmt: skip
            into["arrivals"] = into["arrivals"] + src.arrivals
            into["errors"] = into["errors"] + src.errors
            into["hist"] = into["hist"] + src.latency_hist
    assert duration > 0
    return out


@dataclass(frozen=True)
class _Egress:
    """The capped egress per interval: the admitted segments' mean wait and the share refused.

    A refused segment is answered at once, an admitted one after the wait: a segment's
    percentile q is the engine's, plus the wait when q lies beyond the refused share. A
    rider's player loop is one greenlet: while its segment waits, its playlist reloads,
    telemetry batches and leaderboard polls fall due and wait too (timed from their intended
    send time), so telemetry and leaderboard get a delay spread evenly over 0 .. the wait, for
    the share of their requests that fall due while the rider is blocked: the wait over the
    rider's cycle (a segment's length, or the wait when longer). Live playlist reloads are left
    as the engine has them: by the same reasoning the one after an admitted segment would be
    late by what the wait runs over a segment's length (4 s at the p95), but two drills of the
    surge's capped origin measured a playlist p95 of 34-41 ms (p99 0.2-4 s).
    """

    wait_s: np.ndarray
    refused: np.ndarray
    segment_s: float

    def delay_ms(self, rtype: str, k: int, q: float) -> float:
        wait, refused = float(self.wait_s[k]), float(self.refused[k])
        if wait <= 0:
            return 0.0
        if rtype == "segment":
            return wait * 1e3 if q > refused else 0.0
        if rtype not in _BLOCKED:
            return 0.0
        busy = (1.0 - refused) * wait
        blocked = busy / max(self.segment_s, busy)
        if blocked <= 0 or q <= 1.0 - blocked:
            return 0.0
        return wait * (q - (1.0 - blocked)) / blocked * 1e3


def _per_interval(per_second: np.ndarray, width_s: float, n: int) -> np.ndarray:
    out = np.zeros(n)
    for k, value in enumerate(per_second):
        out[min(int(k // width_s), n - 1)] += value
    return out


def _type_frame(
    rtype: str, engine: Mapping[str, np.ndarray], reps: int, width_s: float, n: int,
    failed: np.ndarray, egress: _Egress,
) -> pd.DataFrame:  # fmt: skip
    sent = np.asarray(engine["arrivals"], dtype=float)[:n] / reps
    dropped = np.asarray(engine["errors"], dtype=float)[:n] / reps + failed
    frame = pd.DataFrame({"t_s": np.arange(n) * width_s, "interval_s": width_s,
                          "service": rtype, "arrivals": sent,
                          "completed": np.maximum(sent - dropped, 0.0),
                          "dropped": np.minimum(dropped, sent)})  # fmt: skip
    hist = np.asarray(engine["hist"])
    for column, q in _Q:
        frame[column] = [hist_quantile(hist[k], q) * 1e3 + egress.delay_ms(rtype, k, q)
                         for k in range(n)]  # fmt: skip
    return frame


@dataclass(frozen=True)
class TimelinePrediction:
    """The predicted timeline, and per request type the whole drill's figures with the faults:
    `{type: {"errors": n, "latency_ms": {"p50", "p95", "p99"}}}` (per replication)."""

    frame: pd.DataFrame
    whole: dict[str, dict[str, Any]]


_DRAWS = 64  # latencies drawn per interval and type to pool the drill's percentiles


def _pooled(
    rtype: str, engine: Mapping[str, np.ndarray], egress: _Egress, n: int,
    rng: np.random.Generator,
) -> dict[str, float]:  # fmt: skip
    """The drill's p50/p95/p99 of `rtype` with the faults' delays: each interval's engine
    latencies (its histogram at stratified quantiles) plus its delay at independent
    quantiles, weighted by the interval's requests."""
    hist, sent = np.asarray(engine["hist"]), np.asarray(engine["arrivals"], dtype=float)
    values, weights = [], []
    u = (np.arange(_DRAWS) + 0.5) / _DRAWS
    for k in range(min(n, len(sent))):
        if sent[k] <= 0:
            continue
        base = np.array([hist_quantile(hist[k], q) * 1e3 for q in u])
        delay = np.array([egress.delay_ms(rtype, k, q) for q in rng.permutation(u)])
        values.append(base + delay)
        weights.append(np.full(_DRAWS, sent[k] / _DRAWS))
    if not values:
        return {}
    v, w = np.concatenate(values), np.concatenate(weights)
    order = np.argsort(v)
    cum = np.cumsum(w[order])
    return {key: round(float(v[order][np.searchsorted(cum, q * cum[-1])]), 3)
            for key, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))}  # fmt: skip


def predicted_timeline(
    platform: Any, work: DrillWorkload, faults: FaultSeries, stream: StreamSetup, *,
    name: str, seed: int, replications: int, width_s: float,
) -> TimelinePrediction:  # fmt: skip
    """The predicted timeline on intervals of `width_s` over the drill's seconds."""
    seconds = work.duration_s
    n = max(1, int(np.ceil(seconds / width_s - 1e-9)))
    engine = _engine(platform, name, seed, replications, width_s)
    rates = {t: np.asarray(v, dtype=float)[:seconds] for t, v in work.rates.items()}
    wait, refused = np.zeros(seconds), None
    if "segment" in rates and np.isfinite(faults.egress_bps).any():
        wait, refused = egress_wait(rates["segment"], stream.segment_bytes, faults.egress_bps,
                                    stream.burst_bytes)  # fmt: skip
    errors = route_errors(rates, faults, refused)
    failed = {t: _per_interval(v, width_s, n) for t, v in errors.items()}
    spread = _per_interval(np.ones(seconds), width_s, n)
    egress = _Egress(
        wait_s=_per_interval(wait, width_s, n) / spread,
        refused=_per_interval(np.zeros(seconds) if refused is None else refused, width_s, n)
        / spread, segment_s=DEFAULT_SEGMENT_S,
    )  # fmt: skip
    frames = [
        _type_frame(t, engine[t], replications, width_s, n, failed.get(t, np.zeros(n)), egress)
        for t in rates if t in engine
    ]  # fmt: skip
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    rng = np.random.default_rng([seed, 0x0E1])
    delayed = bool(np.any(egress.wait_s > 0))  # else the engine's own percentiles stand
    whole = {t: {"errors": round(float(failed.get(t, np.zeros(n)).sum()), 1),
                 "latency_ms": _pooled(t, engine[t], egress, n, rng) if delayed else {}}
             for t in rates if t in engine}  # fmt: skip
    if "telemetry" in rates and not frame.empty:
        lag = stream_lag(rates["telemetry"] * max(1, round(stream.batch_s)), faults.paused,
                         stream.shares, drain_per_shard_s=stream.drain_per_shard_s,
                         batch_s=stream.batch_s, width_s=width_s, n=n)  # fmt: skip
        # a batch sent late (its rider's player waiting on the origin) is that much older
        late = np.array([egress.delay_ms("telemetry", k, 0.99) / 1e3 for k in range(n)])
        frame["leaderboard_lag_s"] = np.tile(lag.lag_p99_s + late, len(frames))
        frame["ingest_backlog"] = np.tile(lag.backlog, len(frames))
    return TimelinePrediction(frame, whole)


def with_faults(predicted: Mapping[str, Any], whole: Mapping[str, Mapping[str, Any]]) -> dict:
    """`predicted.json` with each type's p50/p95/p99 and errors as the faults make them (the
    exact engine alone does not replay the drill's incident); counts are per replication in
    `whole`, over every replication in the summary."""
    reps = max(1, int(predicted.get("replications") or 1))
    out = dict(predicted)
    requests = {}
    for rtype, block in (predicted.get("requests") or {}).items():
        found = whole.get(rtype)
        if found:
            block = {**block, "errors": round(float(block.get("errors") or 0)
                                              + found["errors"] * reps)}  # fmt: skip
            block["latency_ms"] = {**(block.get("latency_ms") or {}), **found["latency_ms"]}
        requests[rtype] = block
    out["requests"] = requests
    return out
