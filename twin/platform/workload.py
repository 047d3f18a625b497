"""From sessions to requests: per-tick rates of each request type, video bytes and telemetry.

Each session produces the request types of DESIGN.md: `recommend` when the app opens and
`join` when the class starts; `playlist` reloads every target duration while live (an
on-demand player loads its playlist once); one `segment` per segment duration, sized by
rendition; `telemetry` batches of 1 Hz samples from bikes and treads; `leaderboard` polls;
`workout` at the end and, for some riders, `feedback`; a session playing music that follows
its cadence (`music_share` of them) sends a `tempo` sample every `tempo_every_s`.

The rendition rule (adaptive bitrate): a player takes the best rendition its screen and the
architecture allow whose bitrate, with headroom, fits its bandwidth; `downshift` applies the
same rule when the CDN cannot deliver what riders ask for (`twin.sim.abr`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.config.vocabulary import BITRATE_MBPS, DEVICES, RENDITIONS, TELEMETRY_BATCH_S
from twin.platform.cohorts import Cohorts
from twin.platform.demand import Demand
from twin.platform.population import Population

__all__ = [
    "BAND_EDGES_MBPS",
    "Workload",
    "compute_workload",
    "rendition_for",
    "rendition_shares",
]

# A rendition fits when bandwidth >= 1.5 x its bitrate (Netflix asks 25 Mb/s for 16 Mb/s 4K).
HEADROOM = 1.5
BAND_EDGES_MBPS = HEADROOM * BITRATE_MBPS  # the bandwidths at which a rendition starts to fit
# Bike and tread screens are 1080p (public spec of the bike's 21.5" HD touchscreen); the app
# on a TV can show 4K.
SCREEN_MAX = {"bike": 1, "tread": 1, "app": 2}
SAMPLE_BYTES = 64  # ASSUMPTION: cadence, resistance, output, heart rate, speed, time, ids
RECORD_OVERHEAD_BYTES = 80  # ASSUMPTION: envelope of one stream record (one batch)
LEADERBOARD_LIVE_S = 5.0  # ASSUMPTION: the live leaderboard refreshes every 5 s
LEADERBOARD_OD_S = 10.0  # ASSUMPTION: on-demand "here now" board every 10 s
RECOMMEND_PER_START = 1.0  # one recommendation call per app open before a class
FEEDBACK_SHARE = 0.3  # ASSUMPTION: 30% of riders rate the class after it ends
_DEVICE_ROWS = np.array([d != "app" for d in DEVICES])  # devices that send telemetry


def rendition_for(bandwidth_mbps: np.ndarray, max_rendition: int) -> np.ndarray:
    """Best rendition index (into RENDITIONS) each bandwidth holds, capped at `max_rendition`.

    Below the lowest rendition's need the answer is still 0: the player tries 720p and stalls.
    """
    fits = np.asarray(bandwidth_mbps)[..., None] >= HEADROOM * BITRATE_MBPS[None, :]
    best = fits.sum(axis=-1) - 1
    return np.clip(best, 0, max_rendition)


def rendition_shares(population: Population | Cohorts, max_rendition: str) -> np.ndarray:
    """Share of each device's riders on each rendition (devices x renditions)."""
    cap = RENDITIONS.index(max_rendition)
    if isinstance(population, Cohorts):
        return _cohort_rendition_shares(population, cap)
    shares = np.zeros((len(DEVICES), len(RENDITIONS)))
    for d, device in enumerate(DEVICES):
        bw = population.bandwidth_mbps[population.device == d]
        if bw.size:
            best = rendition_for(bw, min(cap, SCREEN_MAX[device]))
            shares[d] = np.bincount(best, minlength=len(RENDITIONS)) / bw.size
    return shares


def _cohort_rendition_shares(cohorts: Cohorts, cap: int) -> np.ndarray:
    """As `rendition_shares`, from riders by bandwidth band: passing b edges holds rendition
    b - 1 (0 below the first: the player tries 720p and stalls), capped as a rider's."""
    if not np.allclose(cohorts.band_edges_mbps, BAND_EDGES_MBPS):
        raise ValueError("cohorts drawn on other bandwidth bands than the renditions need")
    shares = np.zeros((len(DEVICES), len(RENDITIONS)))
    counts = cohorts.device_band_counts()
    for d, device in enumerate(DEVICES):
        best = np.clip(np.arange(counts.shape[1]) - 1, 0, min(cap, SCREEN_MAX[device]))
        total = counts[d].sum()
        if total:
            shares[d] = np.bincount(best, weights=counts[d], minlength=len(RENDITIONS)) / total
    return shares


@dataclass(frozen=True)
class Workload:
    """Requests per second per type per tick, and the byte and record flows beside them."""

    rates: dict[str, np.ndarray]
    segment_bytes_per_s: np.ndarray
    riders_by_rendition: np.ndarray  # (renditions, ticks): riders watching each rendition
    telemetry_samples_per_s: np.ndarray
    telemetry_records_per_s: np.ndarray
    telemetry_bytes_per_s: np.ndarray
    device_riders: np.ndarray  # riders in session on a bike or tread, per tick


def compute_workload(
    demand: Demand,
    population: Population | Cohorts,
    *,
    max_rendition: str,
    segment_s: float,
    music_share: float = 0.0,
    tempo_every_s: float = 2.0,
) -> Workload:
    """Turn session flows into request, byte and telemetry rates per tick."""
    live = demand.active_live.sum(axis=0)
    od = demand.active_od.sum(axis=0)
    per_device = demand.active_live + demand.active_od
    device_riders = per_device[_DEVICE_ROWS].sum(axis=0)
    starts, ends = demand.starts, demand.ends
    rates = {
        "recommend": starts * RECOMMEND_PER_START,
        "join": starts,
        "playlist": live / segment_s + demand.starts_od.sum(axis=0),
        "segment": (live + od) / segment_s,
        "telemetry": device_riders / TELEMETRY_BATCH_S,
        "leaderboard": live / LEADERBOARD_LIVE_S + od / LEADERBOARD_OD_S,
        "workout": ends,
        "feedback": ends * FEEDBACK_SHARE,
        "tempo": (live + od) * music_share / tempo_every_s,
    }
    shares = rendition_shares(population, max_rendition)
    by_rendition = shares.T @ per_device
    segment_bytes = (BITRATE_MBPS * 1e6 / 8.0) @ by_rendition
    records = device_riders / TELEMETRY_BATCH_S
    record_bytes = RECORD_OVERHEAD_BYTES + SAMPLE_BYTES * TELEMETRY_BATCH_S
    return Workload(
        rates=rates,
        segment_bytes_per_s=segment_bytes,
        riders_by_rendition=by_rendition,
        telemetry_samples_per_s=device_riders.copy(),
        telemetry_records_per_s=records,
        telemetry_bytes_per_s=records * record_bytes,
        device_riders=device_riders,
    )
