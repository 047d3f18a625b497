"""The riders' workout history the recommender starts from, drawn from the twin's population.

A rider takes mostly classes of their preferred type and otherwise any class their device can
play; within a type, classes are picked in proportion to their catalogue popularity. The draw
is vectorised (one array per attribute, never one object per ride) and a pure function of
the population, the catalogue and the generator.

Rider `i` of the population is `rider-{i}` everywhere in the reference platform.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.config.vocabulary import DEVICES
from twin.platform.catalog import EQUIPMENT, Catalog
from twin.platform.population import Population

__all__ = ["History", "generate_history", "rider_id", "rider_index"]

_PREFIX = "rider-"
# Assumption (the seeds give no figure): four weeks of history at each rider's own weekly
# rate, and 80% of rides of the preferred type, the rest exploring what the device can play.
DEFAULT_WEEKS = 4.0
DEFAULT_PREFERRED_SHARE = 0.8


def rider_id(index: int) -> str:
    """The public id of population rider `index`."""
    return f"{_PREFIX}{index}"


def rider_index(rider: str) -> int | None:
    """The population index in a `rider-{i}` id, or None for any other id."""
    digits = rider.removeprefix(_PREFIX)
    if digits == rider or not digits.isdigit() or (len(digits) > 1 and digits[0] == "0"):
        return None
    return int(digits)


@dataclass(frozen=True, slots=True)
class History:
    """Rides as parallel arrays: population rider index, catalogue item index, weight.

    Items index `class_ids` (the on-demand library, in catalogue order). Per population rider:
    `rider_region` and `rider_device` (codes into REGIONS and DEVICES); `playable[d, k]`: class
    k can be played on device d (the cold-start fallback offers only those).
    """

    rider: np.ndarray
    item: np.ndarray
    weight: np.ndarray
    n_riders: int
    class_ids: tuple[str, ...]
    item_types: np.ndarray
    rider_region: np.ndarray
    rider_device: np.ndarray
    playable: np.ndarray


def generate_history(
    population: Population,
    catalog: Catalog,
    rng: np.random.Generator,
    *,
    weeks: float = DEFAULT_WEEKS,
    preferred_share: float = DEFAULT_PREFERRED_SHARE,
) -> History:
    """Draw every rider's rides: Poisson(weekly_rides x weeks), at least one each."""
    classes = catalog.on_demand
    types = np.array([catalog.type_index(c.type) for c in classes], dtype=np.int64)
    popularity = np.array([c.popularity for c in classes], dtype=float)
    n = len(population)
    rides = np.maximum(1, rng.poisson(population.weekly_rides.astype(float) * weeks))
    rider = np.repeat(np.arange(n), rides)
    wanted = population.preferred_types[rider].astype(np.int64)
    preferred = rng.random(rider.size) < preferred_share
    preferred &= np.isin(wanted, types)  # a type with no class in the library cannot be taken
    item = np.empty(rider.size, dtype=np.int64)
    for t in np.unique(wanted[preferred]):
        chosen = preferred & (wanted == t)
        item[chosen] = _draw(rng, np.flatnonzero(types == t), popularity, int(chosen.sum()))
    for d, device in enumerate(DEVICES):
        chosen = ~preferred & (population.device[rider] == d)
        playable = _playable(catalog.types, types, device)
        item[chosen] = _draw(rng, playable, popularity, int(chosen.sum()))
    weight = np.ones(rider.size, dtype=np.float32)
    ids = tuple(c.id for c in classes)
    playable = np.zeros((len(DEVICES), len(classes)), dtype=bool)
    for d, device in enumerate(DEVICES):
        playable[d, _playable(catalog.types, types, device)] = True
    region, device_codes = population.region.copy(), population.device.copy()
    return History(rider, item, weight, n, ids, types, region, device_codes, playable)


def _playable(type_names: tuple[str, ...], types: np.ndarray, device: str) -> np.ndarray:
    """Indices of the classes a rider on `device` can take (the app needs no equipment)."""
    ok = np.array([EQUIPMENT[name] in (None, device) for name in type_names])
    return np.flatnonzero(ok[types])


def _draw(
    rng: np.random.Generator, candidates: np.ndarray, popularity: np.ndarray, size: int
) -> np.ndarray:
    """`size` draws from `candidates`, each in proportion to its popularity."""
    if size == 0:
        return np.empty(0, dtype=np.int64)
    if candidates.size == 0:
        raise ValueError("no class in the catalogue can be drawn for these riders")
    weights = popularity[candidates]
    cum = np.cumsum(weights / weights.sum())
    picks = np.searchsorted(cum, rng.random(size), side="right")
    return candidates[np.minimum(picks, candidates.size - 1)]
