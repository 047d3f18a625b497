"""What the exact engine's riders lived through, as the summary's `experience` block.

Counted from the sessions themselves (`twin.sim.exact.riders.Outcomes`), pooled over the
replications (counts are per replication, on average):

- leaderboard lag: every batch that reached the store, from sample to answer;
- join failures: riders who gave up joining (after retries, past their patience);
- degraded video: rider-seconds of stalled segments (failed, or later than their
  duration; a reconnect stalls until the rider is back), plus the riders the CDN's egress
  cannot serve at the rendition they ask for, by the same ABR rule as the fluid engine
  (`twin.sim.abr.downshift`) applied to the riders watching at each tick; its peak is the
  worst share over spans holding enough viewing (`twin.sim.video_peak`), in the worst
  replication;
- per rider: the share of sessions spoiled (gave up joining, lost the stream, 10 % or more
  of their segments stalled, or 10 % or more of their leaderboard polls found it stale,
  `twin.sim.leaderboard_stale`) and by what, each session under the first of these.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from twin.config.vocabulary import BITRATE_MBPS
from twin.sim.abr import downshift
from twin.sim.exact.rider_run import RiderReplication
from twin.sim.leaderboard_stale import STALE_SHARE, stale_by_tick
from twin.sim.platform_input import CompiledPlatform
from twin.sim.rider_columns import LagSamples
from twin.sim.sketch import hist_quantile, histogram_of
from twin.sim.video_peak import peak_share

__all__ = [
    "CAUSES",
    "SPOILED_STALL_SHARE",
    "RiderSeries",
    "rider_experience",
    "rider_series",
    "watching_by_rendition",
]

SPOILED_STALL_SHARE = 0.10  # a session with this share of its segments stalled is spoiled
CAUSES = ("join", "stream_lost", "video", "leaderboard")  # in the order a session is counted


def watching_by_rendition(rep: RiderReplication, compiled: CompiledPlatform) -> np.ndarray:
    """Riders playing video per (rendition, tick): each session from when it played to when it
    stopped, in tick units (a rider playing half a tick counts one half)."""
    ticks, tick_s = len(compiled.t), float(compiled.tick_s)
    out = np.zeros((compiled.riders_by_rendition.shape[0], ticks + 1))
    start, stop = rep.outcomes.play_from, rep.outcomes.play_to
    playing = ~np.isnan(start)
    stop = np.where(np.isnan(stop), ticks * tick_s, stop)
    for edge, sign in ((start, 1.0), (stop, -1.0)):
        pos = np.clip(edge[playing] / tick_s, 0.0, ticks)
        whole = np.floor(pos).astype(int)
        frac = pos - whole
        rend = rep.table.rendition[playing]
        np.add.at(out, (rend, whole), sign * (1.0 - frac))
        np.add.at(out, (rend, np.minimum(whole + 1, ticks)), sign * frac)
    return np.cumsum(out, axis=1)[:, :ticks]


def _egress_degraded(watching: np.ndarray, compiled: CompiledPlatform) -> np.ndarray:
    """Riders per tick the CDN egress cannot serve at their rendition (downshifted or stalled)."""
    out = np.zeros(watching.shape[1])
    wanted_bps = (BITRATE_MBPS * 1e6) @ watching
    for spec in compiled.services.values():
        if spec.egress_bps is None:
            continue
        for k in np.flatnonzero(wanted_bps > spec.egress_bps):
            d = downshift(
                watching[:, k], float(spec.egress_bps[k]), adaptive=compiled.adaptive_bitrate
            )
            out[k] += d.downshifted + d.rebuffering
    return out


def _video(rep: RiderReplication, compiled: CompiledPlatform) -> tuple[np.ndarray, np.ndarray]:
    """(riders watching, riders degraded) per tick."""
    tick_s, seg = float(compiled.tick_s), compiled.journey.segment_s  # type: ignore[union-attr]
    by_rendition = watching_by_rendition(rep, compiled)
    watching = by_rendition.sum(axis=0)
    stalls = np.bincount(
        np.clip((np.asarray(rep.outcomes.stall_times) / tick_s).astype(int), 0, len(watching) - 1),
        minlength=len(watching),
    )
    stalled = stalls * (seg / tick_s)  # a stalled segment: one rider for its duration
    degraded = np.minimum(stalled + _egress_degraded(by_rendition, compiled), watching)
    return watching, degraded


def _spoiled(rep: RiderReplication) -> dict[str, int]:
    out = rep.outcomes
    rode = out.joined & ~out.lost
    stalled = rode & (out.stalled >= np.maximum(SPOILED_STALL_SHARE * out.segments, 1))
    stale = out.stale_polls >= np.maximum(STALE_SHARE * out.polls, 1)
    return {
        "join": int((~out.joined).sum()),
        "stream_lost": int(out.lost.sum()),
        "video": int(stalled.sum()),
        "leaderboard": int((rode & ~stalled & stale).sum()),
    }


def _stale(rep: RiderReplication, ticks: int, tick_s: float) -> np.ndarray:
    """Whether the leaderboard was stale at each tick of this replication."""
    out = rep.outcomes
    return stale_by_tick(np.asarray(out.lag_born), np.asarray(out.lag_at), ticks, tick_s)


class RiderSeries(NamedTuple):
    """Per tick (averaged over the replications): riders watching, riders with degraded
    video, riders in class while the leaderboard was stale; and every leaderboard sample
    (birth, lag, weight 1 / replications)."""

    watching: np.ndarray
    degraded: np.ndarray
    stale: np.ndarray
    lag: LagSamples


def rider_series(reps: Sequence[RiderReplication], compiled: CompiledPlatform) -> RiderSeries:
    """The time series' rider columns (twin.sim.rider_columns) of a rider-by-rider run."""
    video = [_video(r, compiled) for r in reps]
    n, ticks, tick_s = len(reps), len(compiled.t), float(compiled.tick_s)
    born = np.concatenate([np.asarray(r.outcomes.lag_born, float) for r in reps])
    lag = np.concatenate([np.asarray(r.outcomes.lag_s, float) for r in reps])
    stale = [w * _stale(r, ticks, tick_s) for (w, _), r in zip(video, reps, strict=True)]
    return RiderSeries(
        watching=np.sum([w for w, _ in video], axis=0) / n,
        degraded=np.sum([d for _, d in video], axis=0) / n,
        stale=np.sum(stale, axis=0) / n,
        lag=(born, lag, np.full(len(lag), 1.0 / n)),
    )


def rider_experience(
    reps: Sequence[RiderReplication], compiled: CompiledPlatform
) -> dict[str, Any]:
    """The `experience` block of a rider-by-rider run."""
    n = len(reps)
    lag = np.concatenate([np.asarray(r.outcomes.lag_s, float) for r in reps])
    hist = histogram_of(lag) if len(lag) else None
    video = [_video(r, compiled) for r in reps]
    watched = sum(float(w.sum()) for w, _ in video)
    degraded = sum(float(d.sum()) for _, d in video)
    peak = max(peak_share(w, d, float(compiled.tick_s)) for w, d in video)
    spoiled = [_spoiled(r) for r in reps]
    sessions = sum(len(r.table) for r in reps)
    by = {k: sum(s[k] for s in spoiled) for k in CAUSES}
    return {
        "leaderboard_lag_s": {
            "p50": _q(hist, 0.5),
            "p99": _q(hist, 0.99),
            "max": round(float(lag.max()), 3) if len(lag) else None,
        },
        "join_failures": round(by["join"] / n),
        "video_degraded_fraction": round(degraded / watched, 6) if watched > 0 else 0.0,
        "video_degraded_peak_fraction": round(peak, 6),
        "video_degraded_rider_minutes": round(degraded * float(compiled.tick_s) / 60.0 / n),
        "sessions_spoiled_fraction": round(sum(by.values()) / sessions, 6) if sessions else 0.0,
        "sessions_spoiled_by": {k: round(v / n) for k, v in by.items()},
        "reconnects": round(sum(int(r.outcomes.reconnects.sum()) for r in reps) / n),
    }


def _q(hist: np.ndarray | None, q: float) -> float | None:
    if hist is None:
        return None
    value = hist_quantile(hist, q)
    return None if np.isnan(value) else round(float(value), 3)
