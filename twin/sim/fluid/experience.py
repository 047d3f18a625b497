"""What a platform run means for riders and the bill: leaderboard lag, failed joins, degraded
video, and the usage (instances, egress, shards) that the cost model prices.

- Leaderboard lag: a sample waits on the bike for its batch (uniform over the batch period),
  then crosses the telemetry route (the stream's backlog is where lag grows) and the ingest
  path after it (processor, leaderboard store). Probe samples walk it; a probe still in the
  pipeline when the run ends counts with the lag it has so far (a lower bound). The same
  probes say when the leaderboard was stale (`twin.sim.leaderboard_stale`), and the sessions
  that spoiled, in expectation (`twin.sim.fluid.stale_sessions`).
- Join failures: riders who gave up joining: joins lost at any hop of their route (a full
  queue, a timeout, a service down) come back as retries until the rider's patience runs out
  (twin.sim.fluid.clients).
- Degraded video: riders whose player must downshift or rebuffer because CDN egress is short
  (twin.platform.workload.downshift), plus live riders whose origin drops their segments.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from twin.config.architecture import HOURS_PER_MONTH
from twin.config.vocabulary import TELEMETRY_BATCH_S
from twin.rng import component_rng
from twin.sim.abr import downshift
from twin.sim.fluid.platform_flows import PlatformFlows, probe_network, report_interval
from twin.sim.fluid.probes import births, probes_per_interval, walk_route
from twin.sim.fluid.stale_sessions import expected_sessions, expected_stale_sessions
from twin.sim.leaderboard_stale import stale_by_tick
from twin.sim.records import Grid
from twin.sim.sketch import hist_quantile, histogram_of
from twin.sim.video_peak import peak_share

__all__ = [
    "experience",
    "join_failures",
    "leaderboard_lag",
    "usage",
    "video_degraded",
]


def leaderboard_lag(flows: PlatformFlows, seed: int) -> dict[str, float | None]:
    """p50, p99 and max of sample-to-leaderboard lag (seconds) over the run."""
    compiled = flows.compiled
    hops = [(flows.index[h], s) for h, s in compiled.visits.get("telemetry", [])]
    for name in (compiled.ingest.processor, compiled.ingest.store):
        if name in flows.index and all(flows.index[name] != i for i, _ in hops):
            hops.append((flows.index[name], hops[-1][1] if hops else 1.0))
    counts = compiled.telemetry_records_per_s * flows.tick_s
    if not hops or counts.sum() <= 0:
        return {"p50": None, "p99": None, "max": None}
    rng = component_rng(seed, "probe", "leaderboard-lag")
    grid = Grid.for_run(flows.duration_s, report_interval(flows.duration_s))
    born, weight = births(rng, counts, grid, flows.tick_s, probes_per_interval(grid))
    t, dropped, _ = walk_route(probe_network(flows, seed, 0), hops, born, rng)
    lag = np.minimum(t, flows.duration_s) - born + rng.random(len(born)) * TELEMETRY_BATCH_S
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


def video_degraded(flows: PlatformFlows) -> tuple[float, float]:
    """(share of rider-seconds of video degraded, the worst share over spans holding enough
    viewing to be a share, `twin.sim.video_peak`)."""
    compiled = flows.compiled
    watching = compiled.riders_by_rendition.sum(axis=0)
    degraded = np.zeros(flows.ticks)
    for spec in compiled.services.values():
        if spec.egress_bps is None:
            continue
        for k in np.flatnonzero(compiled.bytes_per_s * 8.0 > spec.egress_bps):
            d = downshift(
                compiled.riders_by_rendition[:, k],
                float(spec.egress_bps[k]),
                adaptive=compiled.adaptive_bitrate,
            )
            degraded[k] += d.downshifted + d.rebuffering
        if spec.origin in flows.index:
            lost = flows.laws[flows.index[spec.origin]].drop_fraction
            live = compiled.live_segment_share * watching * lost
            degraded += live * (1.0 - np.minimum(degraded / np.maximum(watching, 1e-9), 1.0))
    degraded = np.minimum(degraded, watching)
    flows.degraded_riders = degraded
    total = float(watching.sum())
    peak = peak_share(watching, degraded, flows.tick_s)
    return (float(degraded.sum()) / total if total > 0 else 0.0), peak


def experience(flows: PlatformFlows, seed: int) -> dict[str, Any]:
    """The summary's `experience` block."""
    fraction, worst = video_degraded(flows)
    minutes = float(flows.degraded_riders.sum()) * flows.tick_s / 60.0
    return {
        "leaderboard_lag_s": leaderboard_lag(flows, seed),
        "join_failures": join_failures(flows),
        "video_degraded_fraction": round(fraction, 6),
        "video_degraded_peak_fraction": round(worst, 6),
        "video_degraded_rider_minutes": round(minutes),
        **_spoiled(flows),
    }


def _spoiled(flows: PlatformFlows) -> dict[str, Any]:
    """The causes of spoiled sessions the fluid engine counts (it has no session's stalls):
    riders who gave up joining, and sessions a stale leaderboard spoiled, in expectation."""
    sessions = flows.compiled.session_flows
    if sessions is None:
        return {}
    stale = expected_stale_sessions(sessions, flows.stale)
    flows.sessions = expected_sessions(sessions)
    return {"sessions_spoiled_by": {"join": join_failures(flows), "leaderboard": round(stale)}}


def usage(flows: PlatformFlows) -> dict[str, dict[str, float]]:
    """Mean instances per service, CDN egress per month and mean shards: what cost prices."""
    compiled = flows.compiled
    seconds_per_month = HOURS_PER_MONTH * 3600.0
    egress: dict[str, float] = {}
    shards: dict[str, float] = {}
    for name, spec in compiled.services.items():
        if spec.egress_bps is not None:
            delivered = np.minimum(compiled.bytes_per_s, spec.egress_bps / 8.0)
            egress[name] = round(float(delivered.mean()) * seconds_per_month / 1e9, 3)
        if spec.shards is not None:
            shards[name] = round(float(np.mean(spec.shards)), 3)
    return {
        "instances": {n: round(float(a.mean()), 3) for n, a in flows.instances.items()},
        "instances_peak": {n: float(a.max(initial=0.0)) for n, a in flows.instances.items()},
        "egress_gb_month": egress,
        "shards": shards,
    }
