"""What a platform run means for riders and the bill: leaderboard lag, failed joins, degraded
video, and the usage (instances, egress, shards) that the cost model prices.

- Leaderboard lag: a sample waits on the bike for its batch (uniform over the batch period),
  for the batch's retries when the first attempts failed (`FluidClient.retry_delay`), then
  crosses the telemetry route (the stream's backlog is where lag grows) and the ingest path
  after it (processor, leaderboard store). Probes are born with the batches that got
  through, and walk it; a probe still in the pipeline when the run ends counts with the
  lag it has so far (a lower bound). The same probes say when the leaderboard was stale
  (`twin.sim.leaderboard_stale`), and the sessions that spoiled, in expectation
  (`twin.sim.fluid.stale_sessions`).
- Join failures: riders who gave up joining: joins lost at any hop of their route (a full
  queue, a timeout, a service down) come back as retries until the rider's patience runs out
  (twin.sim.fluid.clients).
- Degraded video: riders whose player must downshift or rebuffer because CDN egress is short
  (twin.platform.workload.downshift), plus live riders whose origin drops their segments.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from twin.config.vocabulary import TELEMETRY_BATCH_S
from twin.rng import component_rng
from twin.sim.abr import downshift
from twin.sim.fluid.platform_flows import PlatformFlows, probe_network, report_interval
from twin.sim.fluid.probes import births, probes_per_interval, walk_route
from twin.sim.fluid.spoiled import session_count, stalled_sessions
from twin.sim.fluid.stale_sessions import expected_stale_sessions
from twin.sim.leaderboard_stale import stale_by_tick
from twin.sim.records import Grid
from twin.sim.sketch import hist_quantile, histogram_of
from twin.sim.usage import platform_usage
from twin.sim.video_peak import peak_share

__all__ = [
    "experience",
    "join_failures",
    "kept",
    "leaderboard_lag",
    "sessions",
    "usage",
    "video_degraded",
]


def leaderboard_lag(flows: PlatformFlows, seed: int) -> dict[str, float | None]:
    """p50, p99 and max of sample-to-leaderboard lag (seconds) over the run."""
    compiled = flows.compiled
    route = list(compiled.visits.get("telemetry", []))
    for name in (compiled.ingest.processor, compiled.ingest.store):
        if name in flows.index and all(name != hop for hop, _ in route):
            route.append((name, route[-1][1] if route else 1.0))
    hops = flows.probe_hops(route)
    client = flows.clients.get("telemetry")
    counts = compiled.telemetry_records_per_s * flows.tick_s
    if client is not None:  # the batches that got through (of the riders still riding)
        counts = np.array([client.through(k) for k in range(flows.ticks)])
        counts *= compiled.telemetry_records_per_s / np.maximum(compiled.demand["telemetry"], 1e-12)
    if not hops or counts.sum() <= 0:
        return {"p50": None, "p99": None, "max": None}
    rng = component_rng(seed, "probe", "leaderboard-lag")
    grid = Grid.for_run(flows.duration_s, report_interval(flows.duration_s))
    born, weight = births(rng, counts, grid, flows.tick_s, probes_per_interval(grid))
    t, dropped, _ = walk_route(probe_network(flows, seed, 0), hops, born, rng)
    lag = np.minimum(t, flows.duration_s) - born + rng.random(len(born)) * TELEMETRY_BATCH_S
    if client is not None:  # a batch's sample waited from its first attempt
        tick = np.minimum((born / flows.tick_s).astype(int), flows.ticks - 1)
        lag += client.retry_delay(tick, rng)
    keep = ~dropped
    hist = histogram_of(lag[keep], weight[keep])
    flows.lag_probes = (born[keep], lag[keep], weight[keep])
    flows.stale = stale_by_tick(born[keep], t[keep], flows.ticks, flows.tick_s)
    return {
        "p50": _round(hist_quantile(hist, 0.5)),
        "p99": _round(hist_quantile(hist, 0.99)),
        "max": _round(float(lag[keep].max()) if keep.any() else float("nan")),
    }


def _round(x: float) -> float | None:
    return None if np.isnan(x) else round(x, 3)


def join_failures(flows: PlatformFlows) -> int:
    """Riders who gave up joining (their retries spent past their patience), or, without a
    join client, joins lost on their route over the run."""
    client = flows.clients.get("join")
    if client is not None:
        return round(client.gave_up)
    compiled = flows.compiled
    through = np.ones(flows.ticks)
    for hop, share in compiled.visits.get("join", []):
        through *= 1.0 - share * flows.laws[flows.index[hop]].drop_fraction
    return round(float((compiled.demand["join"] * flows.tick_s * (1.0 - through)).sum()))


def kept(flows: PlatformFlows) -> np.ndarray:
    """Share of the compile's riders riding per tick (1 without session flows): not gone,
    not reconnecting, and not still trying their first join (a rider who has not joined yet
    watches nothing, as the exact engine's players start when the join is answered)."""
    if flows.riding is None:
        return np.ones(flows.ticks)
    away = flows.riding.away[: flows.ticks] + flows.riding.joining_at[: flows.ticks]
    if flows.reconnects is not None:
        away += flows.reconnects.away
    active = np.asarray(flows.compiled.active_riders, dtype=float)
    return np.clip(1.0 - np.divide(away, active, out=np.zeros_like(away), where=active > 0), 0, 1)


def _stalled(flows: PlatformFlows, watching: np.ndarray) -> np.ndarray:
    """Riders whose player stalls per tick: failed or late segments (a live one's while its
    origin is down) and the riders away reconnecting; without reconnect flows, the live
    riders whose origin drops their segments."""
    compiled = flows.compiled
    if flows.reconnects is not None:
        return flows.reconnects.stall * watching + flows.reconnects.away
    stalled = np.zeros(flows.ticks)
    for spec in compiled.services.values():
        if spec.egress_bps is not None and spec.origin in flows.index:
            lost = flows.laws[flows.index[spec.origin]].drop_fraction
            stalled = np.maximum(stalled, compiled.live_segment_share * watching * lost)
    return stalled


def video_degraded(flows: PlatformFlows) -> tuple[float, float]:
    """(share of rider-seconds of video degraded, the worst share over spans holding enough
    viewing to be a share, `twin.sim.video_peak`): the riders the CDN's egress cannot serve
    at their rendition (the ABR rule) and the riders whose player stalls, counted once,
    among the riders still watching."""
    compiled = flows.compiled
    by_rendition = compiled.riders_by_rendition * kept(flows)
    watching = by_rendition.sum(axis=0)
    degraded = np.zeros(flows.ticks)
    wanted_bps = compiled.bytes_per_s * 8.0 * kept(flows)
    for spec in compiled.services.values():
        if spec.egress_bps is None:
            continue
        for k in np.flatnonzero(wanted_bps > spec.egress_bps):
            d = downshift(
                by_rendition[:, k], float(spec.egress_bps[k]), adaptive=compiled.adaptive_bitrate
            )
            degraded[k] += d.downshifted + d.rebuffering
    stalled = _stalled(flows, watching)
    degraded += stalled * (1.0 - np.minimum(degraded / np.maximum(watching, 1e-9), 1.0))
    degraded = np.minimum(degraded, watching)
    flows.degraded_riders = degraded
    total = float(watching.sum())
    peak = peak_share(watching, degraded, flows.tick_s)
    return (float(degraded.sum()) / total if total > 0 else 0.0), peak


def sessions(flows: PlatformFlows) -> dict[str, Any]:
    """Sessions, the share spoiled and by what, and reconnects (twin.sim.fluid.spoiled); empty
    without session flows."""
    compiled, recon = flows.compiled, flows.reconnects
    if compiled.session_flows is None or recon is None or "join" not in flows.clients:
        return {}
    join = flows.clients["join"]
    attempts = join.attempts
    failing = np.divide(join.failed, attempts, out=np.zeros_like(attempts), where=attempts > 0)
    rode = 1.0 - np.clip(failing, 0.0, 1.0) ** (join.max_generation + 1)  # joined, per start tick
    stall = recon.stall  # the riders who reconnect are counted by how their join ended
    by = {
        "join": join.gave_up,
        "stream_lost": recon.rejoin.gave_up,
        "video": stalled_sessions(compiled.session_flows, stall, recon.segment_s, rode),
        "leaderboard": expected_stale_sessions(compiled.session_flows, flows.stale, rode),
    }
    count = session_count(compiled.session_flows)
    answered = sum(recon.rejoin.succeeded(k) for k in range(flows.ticks))
    return {
        "sessions": round(count),
        "sessions_spoiled_fraction": round(min(sum(by.values()) / count, 1.0), 6) if count else 0.0,
        "sessions_spoiled_by": {k: round(v) for k, v in by.items()},
        "reconnects": round(answered),
    }


def experience(flows: PlatformFlows, seed: int) -> dict[str, Any]:
    """The summary's `experience` block."""
    fraction, worst = video_degraded(flows)
    minutes = float(flows.degraded_riders.sum()) * flows.tick_s / 60.0
    block = {
        "leaderboard_lag_s": leaderboard_lag(flows, seed),
        "join_failures": join_failures(flows),
        "video_degraded_fraction": round(fraction, 6),
        "video_degraded_peak_fraction": round(worst, 6),
        "video_degraded_rider_minutes": round(minutes),
    }
    view = sessions(flows)
    view.pop("sessions", None)
    return {**block, **view}


def usage(flows: PlatformFlows) -> dict[str, dict[str, float]]:
    """Mean instances per service, CDN egress per month and mean shards: what cost prices."""
    return platform_usage(flows.compiled, flows.instances)
