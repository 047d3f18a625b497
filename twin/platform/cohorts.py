"""A scenario's riders as cohorts: how many riders of each kind, never one record a rider.

The demand and the workload read a population only through a few counts: weekly rides by
(segment, zone, device, quarter hour of preferred start), riders by (device, preferred class
type), riders by (device, bandwidth band). `Cohorts` holds exactly those counts, drawn from
the same laws as `twin.platform.population` draws each rider from (the same device mix,
markets, type preferences, start-time mixture, weekly rides and bandwidth), by multinomial
draws of the riders in each cell. So its size and its drawing time do not grow with riders:
100 million riders cost what 30 thousand do. A rider's weekly rides enter as the law's mean
(clipped gamma) times the riders in the cell, which is what a sum of millions of them is.

Per-rider records (`Population`) remain for what needs a rider: the drill's rider pool and
the recommender's history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import gammainc, ndtr

from twin.config.vocabulary import DEVICES
from twin.platform import population as laws
from twin.platform.population import ZONES, device_mix, region_shares

__all__ = ["BINS_PER_DAY", "Cohorts", "draw_cohorts", "stack"]

BINS_PER_DAY = 96  # quarter hours of preferred start, as the demand bins them


@dataclass(frozen=True)
class Cohorts:
    """Riders by kind. Axes: segment (S), zone (Z, into ZONES), device (D, into DEVICES).

    `rides_by_hour` (S, Z, D, 96): weekly rides summed over the riders preferring each
    quarter hour. `by_type` (S, Z, D, T): riders preferring each class type. `by_band`
    (S, D, B + 1): riders whose bandwidth passes 0..B of `band_edges_mbps` (ascending).
    """

    riders: int
    rides_by_hour: np.ndarray
    by_type: np.ndarray
    by_band: np.ndarray
    band_edges_mbps: tuple[float, ...]

    def __len__(self) -> int:
        return self.riders

    @property
    def nbytes(self) -> int:
        """Memory held by the counts, in bytes (independent of riders)."""
        return self.rides_by_hour.nbytes + self.by_type.nbytes + self.by_band.nbytes

    def device_type_counts(self) -> np.ndarray:
        """Riders by (device, preferred type)."""
        return self.by_type.sum(axis=(0, 1))

    def device_band_counts(self) -> np.ndarray:
        """Riders by (device, bandwidth band)."""
        return self.by_band.sum(axis=0)

    def miniature(self, factor: float) -> Cohorts:
        """These riders at `factor` of their number, every proportion kept exactly: the weekly
        rides of each cell times `factor` (the counts by type and band are read only as shares,
        so they stay). What similarity scaling needs: a redraw of `factor` x riders would be a
        smaller sample, whose load is off by its sampling error (5 % at 1,500 riders)."""
        if not 0.0 < factor <= 1.0:
            raise ValueError(f"factor must be in (0, 1], not {factor!r}")
        return Cohorts(
            riders=max(1, round(self.riders * factor)),
            rides_by_hour=self.rides_by_hour * factor,
            by_type=self.by_type,
            by_band=self.by_band,
            band_edges_mbps=self.band_edges_mbps,
        )


def hour_bin_probabilities() -> np.ndarray:
    """P(preferred start in each quarter hour) under the population's start-time mixture:
    morning and evening normals (wrapped round the day) and a uniform midday."""
    edges = np.arange(BINS_PER_DAY + 1) / 4.0
    p = np.zeros(BINS_PER_DAY)
    for mean, sd, share in (laws._MORNING, laws._EVENING):
        for wrap in (-24.0, 0.0, 24.0):
            p += share * np.diff(ndtr((edges + wrap - mean) / sd))
    midday_share = 1.0 - laws._MORNING[2] - laws._EVENING[2]
    lo, hi = np.clip(edges[:-1], 9.0, 16.0), np.clip(edges[1:], 9.0, 16.0)
    p += midday_share * (hi - lo) / 7.0
    return p / p.sum()


def mean_weekly_rides() -> float:
    """E[min(max(G, 0.25), 14)] for the gamma law of a rider's weekly rides."""
    k = 1.0 / laws._WEEKLY_CV**2
    theta = laws._WEEKLY_MEAN / k
    a, b = 0.25 / theta, 14.0 / theta
    inside = k * theta * (gammainc(k + 1, b) - gammainc(k + 1, a))
    return float(0.25 * gammainc(k, a) + 14.0 * (1.0 - gammainc(k, b)) + inside)


def band_probabilities(edges_mbps: Sequence[float]) -> np.ndarray:
    """P(bandwidth passes exactly 0..B of the edges) under the lognormal bandwidth law."""
    z = np.log(np.asarray(edges_mbps, dtype=float) / laws._BANDWIDTH_MEDIAN_MBPS)
    below = ndtr(z / laws._BANDWIDTH_SIGMA)  # P(bandwidth < edge)
    return np.diff(np.concatenate(([0.0], below, [1.0])))


def draw_cohorts(
    n: int,
    rng: np.random.Generator,
    *,
    band_edges_mbps: Sequence[float],
    mix: Mapping[str, float] | None = None,
    regions: Mapping[str, float] | None = None,
) -> Cohorts:
    """`n` riders of one segment as cohorts (`mix`: device mix, `regions`: market shares)."""
    if n < 0:
        raise ValueError("n (riders) must be >= 0")
    zone_p = np.array([region_shares(regions)[z.region] * z.share for z in ZONES])
    cell_p = np.outer(zone_p / zone_p.sum(), device_mix(mix)).ravel()
    cells = rng.multinomial(n, cell_p).reshape(len(ZONES), len(DEVICES))
    prefs = np.broadcast_to(laws._TYPE_PREFERENCE, (len(ZONES), *laws._TYPE_PREFERENCE.shape))
    by_type = rng.multinomial(cells, prefs / prefs.sum(axis=-1, keepdims=True))
    by_hour = rng.multinomial(cells, hour_bin_probabilities())
    bands = rng.multinomial(cells.sum(axis=0), band_probabilities(band_edges_mbps))
    return Cohorts(
        riders=int(n),
        rides_by_hour=(by_hour * mean_weekly_rides())[None].astype(np.float64),
        by_type=by_type[None].astype(np.int64),
        by_band=bands[None].astype(np.int64),
        band_edges_mbps=tuple(float(e) for e in band_edges_mbps),
    )


def stack(parts: Sequence[Cohorts]) -> Cohorts:
    """The segments' cohorts as one, segment i being `parts[i]`."""
    if not parts:
        raise ValueError("stack needs at least one segment")
    return Cohorts(
        riders=sum(p.riders for p in parts),
        rides_by_hour=np.concatenate([p.rides_by_hour for p in parts]),
        by_type=np.concatenate([p.by_type for p in parts]),
        by_band=np.concatenate([p.by_band for p in parts]),
        band_edges_mbps=parts[0].band_edges_mbps,
    )
