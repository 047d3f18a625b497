"""A segment's service time where it is charged by the MB: the MB follow the rendition mix.

Segments of one run are not one size: a 4 s segment is 1.5 MB at 720p, 3 MB at 1080p and
8 MB at 4K (`twin.platform.workload.BITRATE_MBPS`), in the shares of the riders watching each
rendition. A station that charges `service_per_mb_s` therefore serves segments a *mixture*:
its base time plus the per-MB cost of a 720p, 1080p or 4K segment. Charging every segment the
mean MB instead puts the median segment where no segment is (between 1080p and 4K) and cuts
off the 4K tail, so its p50 comes out too high and its p95 too low.

The mixture is handed to the engines as an `empirical` service time: `points` values, each
rendition getting its share of them (largest remainder), each value the base time's quantile
at a stratified probability plus that rendition's per-MB cost. Its mean is the base mean plus
`per_mb_s` times the run's mean MB per segment, exactly up to the base's stratification.
"""

from __future__ import annotations

import numpy as np

from twin.config.network import ServiceTime
from twin.config.vocabulary import BITRATE_MBPS
from twin.sim.distributions import quantiles

__all__ = ["MIX_POINTS", "plus_segment_mb", "segment_mb_mix"]

MIX_POINTS = 400


def segment_mb_mix(mean_mb: float, riders_by_rendition: np.ndarray) -> list[tuple[float, float]]:
    """`(MB, share)` of each rendition's segments, for segments of `mean_mb` MB on average.

    Every segment lasts the same, so its size is proportional to its rendition's bitrate and
    the shares are those of the riders watching (`riders_by_rendition`, renditions x ticks)."""
    watched = np.asarray(riders_by_rendition, dtype=float).reshape(len(BITRATE_MBPS), -1)
    weights = watched.sum(axis=1)
    if mean_mb <= 0 or weights.sum() <= 0:
        return [(max(mean_mb, 0.0), 1.0)]
    shares = weights / weights.sum()
    per_bitrate = mean_mb / float(shares @ BITRATE_MBPS)
    return [(float(per_bitrate * b), float(s)) for b, s in zip(BITRATE_MBPS, shares, strict=True)
            if s > 0]  # fmt: skip


def _allocate(shares: list[float], points: int) -> list[int]:
    """`points` split in proportion to `shares` (largest remainder), at least one each."""
    raw = np.asarray(shares, dtype=float) / sum(shares) * points
    counts = np.maximum(np.floor(raw).astype(int), 1)
    order = np.argsort(-(raw - np.floor(raw)))
    for i in order[: max(0, points - int(counts.sum()))]:
        counts[i] += 1
    return [int(c) for c in counts]


def plus_segment_mb(
    base: ServiceTime, per_mb_s: float, mix: list[tuple[float, float]], points: int = MIX_POINTS
) -> ServiceTime:
    """`base` plus `per_mb_s` seconds per MB of a segment drawn from the rendition `mix`."""
    if per_mb_s <= 0 or not mix:
        return base
    values: list[float] = []
    for (mb, _share), n in zip(mix, _allocate([s for _, s in mix], points), strict=True):
        probs = (np.arange(n) + 0.5) / n
        values.extend((quantiles(base, probs) + per_mb_s * mb).tolist())
    return ServiceTime(dist="empirical", values=values)
