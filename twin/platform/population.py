"""The rider population: one NumPy array per attribute, one element per rider.

Millions of riders are never millions of Python objects: a `Population` is a handful of
small-integer and float32 arrays (about 16 bytes a rider), drawn in bulk from one generator.
Region shares, device mix, preferred class types and times of day are assumptions where the
seeds are silent, and say so beside the number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np

from twin.config.vocabulary import DEVICES, REGION_CODES, REGIONS
from twin.platform.catalog import CLASS_TYPES

__all__ = [
    "ZONES",
    "Population",
    "Zone",
    "build_population",
    "concatenate",
    "device_mix",
    "region_shares",
]

# Assumption: device mix of a connected-fitness membership: bikes dominate (seed 001: the
# bike came first; treads joined in phase 2), an app-only share as in the digital expansion.
DEFAULT_DEVICE_MIX: dict[str, float] = {"bike": 0.60, "tread": 0.10, "app": 0.30}


@dataclass(frozen=True, slots=True)
class Zone:
    """One IANA time zone of a region and its share of the region's riders."""

    region: int
    tz: str
    share: float


ZONES: tuple[Zone, ...] = tuple(
    Zone(r, tz, weight) for r, region in enumerate(REGIONS) for tz, weight in region.zones
)
_ZONE_REGION = np.array([z.region for z in ZONES], dtype=np.uint8)

# Assumption: what a rider of each device prefers (probabilities over CLASS_TYPES, in order
# cycling, running, strength, yoga, meditation, cardio, outdoor running). Bike owners mostly
# ride, tread owners mostly run, app-only riders take the equipment-free types (seed 003).
_TYPE_PREFERENCE = np.array(
    [
        [0.70, 0.00, 0.12, 0.07, 0.04, 0.05, 0.02],  # bike
        [0.05, 0.60, 0.12, 0.06, 0.04, 0.05, 0.08],  # tread
        [0.00, 0.00, 0.35, 0.22, 0.12, 0.18, 0.13],  # app
    ]
)
# Assumption: preferred local start time is bimodal, before work and after work, with evening
# the larger peak (the seeds' "peak workout hours"); a midday share is spread 09:00-16:00.
_MORNING = (6.5, 1.0, 0.35)  # mean hour, sd, share
_EVENING = (18.5, 1.3, 0.50)
# Assumption: rides per week ~ gamma with mean 3.5 and cv 0.6 (a member works out a few
# times a week), clipped to [0.25, 14].
_WEEKLY_MEAN, _WEEKLY_CV = 3.5, 0.6
# Assumption: access bandwidth lognormal with a 40 Mb/s median and sigma 0.9: about 4% of
# riders have under 8 Mb/s, so some cannot hold 1080p and most can hold 4K (16 Mb/s).
_BANDWIDTH_MEDIAN_MBPS, _BANDWIDTH_SIGMA = 40.0, 0.9


@dataclass(frozen=True, slots=True)
class Population:
    """Riders as parallel read-only arrays; rider `i` is element `i` of each.

    `device`: code into DEVICES. `region`: code into REGIONS. `zone`: code into ZONES.
    `preferred_types`: code into CLASS_TYPES. `preferred_hour`: local hour (float, 0-24).
    `weekly_rides`: mean workouts a week. `bandwidth_mbps`: access bandwidth for bitrate.
    `segment`: for a scenario's population built from segments, each rider's segment index
    (None for a population of one kind).
    """

    device: np.ndarray
    region: np.ndarray
    zone: np.ndarray
    preferred_types: np.ndarray
    preferred_hour: np.ndarray
    weekly_rides: np.ndarray
    bandwidth_mbps: np.ndarray
    segment: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.device.shape[0])

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays, in bytes."""
        arrays = (getattr(self, f.name) for f in fields(self))
        return sum(a.nbytes for a in arrays if a is not None)

    def counts(self, attribute: str, n_codes: int) -> np.ndarray:
        """How many riders hold each code of an integer attribute (`device`, `region`, ...)."""
        return np.bincount(getattr(self, attribute), minlength=n_codes)

    def subset(self, mask: np.ndarray) -> Population:
        """The riders where `mask` is true (or at the given indices)."""
        return Population(**{k: _frozen(v[mask]) for k, v in self._arrays().items()})

    def _arrays(self) -> dict[str, np.ndarray]:
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }


def concatenate(parts: list[Population]) -> Population:
    """One population of `parts` in order, each rider's `segment` set to its part's index."""
    if not parts:
        raise ValueError("concatenate needs at least one population")
    names = [f.name for f in fields(Population) if f.name != "segment"]
    merged = {n: _frozen(np.concatenate([getattr(p, n) for p in parts])) for n in names}
    codes = np.concatenate([np.full(len(p), i, dtype=np.uint8) for i, p in enumerate(parts)])
    return Population(**merged, segment=_frozen(codes))


def device_mix(mix: Mapping[str, float] | None) -> np.ndarray:
    """Device probabilities in DEVICES order from a {device: share} mapping (normalised)."""
    return _shares(mix or DEFAULT_DEVICE_MIX, DEVICES, "device")


def region_shares(regions: Mapping[str, float] | None) -> np.ndarray:
    """Region probabilities in REGIONS order from a {code: share} mapping (normalised)."""
    default = {r.code: r.share for r in REGIONS}
    return _shares(regions or default, REGION_CODES, "region")


def _shares(mapping: Mapping[str, float], names: tuple[str, ...], what: str) -> np.ndarray:
    unknown = sorted(set(mapping) - set(names))
    if unknown:
        raise ValueError(f"unknown {what} {unknown[0]!r} (known: {', '.join(names)})")
    values = np.array([float(mapping.get(name, 0.0)) for name in names])
    if (values < 0).any() or values.sum() <= 0:
        raise ValueError(f"{what} shares must be >= 0 and not all zero")
    return values / values.sum()


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def _codes(rng: np.random.Generator, p: np.ndarray, n: int) -> np.ndarray:
    """n draws of codes 0..len(p)-1 with probabilities p, as uint8 (one byte a rider)."""
    cum = np.cumsum(p)
    cum[-1] = 1.0
    return np.searchsorted(cum, rng.random(n, dtype=np.float32), side="right").astype(np.uint8)


def _zone_probabilities(region_p: np.ndarray) -> np.ndarray:
    """P(zone) = P(region) x the zone's weight within its region."""
    return np.array([region_p[z.region] * z.share for z in ZONES])


def _conditional_codes(
    rng: np.random.Generator, table: np.ndarray, given: np.ndarray
) -> np.ndarray:
    """One draw per rider from row `given[i]` of a probability table, in one searchsorted.

    Row r's cumulative probabilities are shifted to [r, r + 1], so `given + u` lands in its
    own row's interval and the column is the position found minus the row's start.
    """
    rows, cols = table.shape
    cum = np.cumsum(table, axis=1)
    cum[:, -1] = 1.0
    shifted = (cum + np.arange(rows)[:, None]).ravel()
    u = rng.random(given.shape[0]) + given
    found = np.searchsorted(shifted, u, side="right")
    return (found - given.astype(np.int64) * cols).clip(0, cols - 1).astype(np.uint8)


def _preferred_hour(rng: np.random.Generator, n: int) -> np.ndarray:
    u = rng.random(n, dtype=np.float32)
    normal = rng.standard_normal(n, dtype=np.float32)
    morning = np.float32(_MORNING[0]) + np.float32(_MORNING[1]) * normal
    evening = np.float32(_EVENING[0]) + np.float32(_EVENING[1]) * normal
    midday = np.float32(9.0) + np.float32(7.0) * rng.random(n, dtype=np.float32)
    hour = np.where(
        u < _MORNING[2], morning, np.where(u < _MORNING[2] + _EVENING[2], evening, midday)
    )
    return np.mod(hour, np.float32(24.0)).astype(np.float32)


def _weekly_rides(rng: np.random.Generator, n: int) -> np.ndarray:
    shape = 1.0 / _WEEKLY_CV**2
    rides = rng.standard_gamma(shape, n, dtype=np.float32) * np.float32(_WEEKLY_MEAN / shape)
    return np.clip(rides, 0.25, 14.0).astype(np.float32)


def _bandwidth(rng: np.random.Generator, n: int) -> np.ndarray:
    normal = rng.standard_normal(n, dtype=np.float32)
    return (
        np.float32(_BANDWIDTH_MEDIAN_MBPS) * np.exp(np.float32(_BANDWIDTH_SIGMA) * normal)
    ).astype(np.float32)


def build_population(
    n: int,
    rng: np.random.Generator,
    *,
    mix: Mapping[str, float] | None = None,
    regions: Mapping[str, float] | None = None,
) -> Population:
    """`n` riders drawn in bulk: `mix` is the device mix, `regions` the market shares."""
    if n < 0:
        raise ValueError("n (riders) must be >= 0")
    zone = _codes(rng, _zone_probabilities(region_shares(regions)), n)
    device = _codes(rng, device_mix(mix), n)
    arrays = {
        "device": device,
        "region": _ZONE_REGION[zone],
        "zone": zone,
        "preferred_types": _conditional_codes(rng, _TYPE_PREFERENCE, device),
        "preferred_hour": _preferred_hour(rng, n),
        "weekly_rides": _weekly_rides(rng, n),
        "bandwidth_mbps": _bandwidth(rng, n),
    }
    assert len(CLASS_TYPES) == _TYPE_PREFERENCE.shape[1]
    return Population(**{k: _frozen(v) for k, v in arrays.items()})
