"""The class catalogue: instructors, class types, the on-demand library and the live schedule.

One catalogue serves the simulation (which class a joining rider picks), the reference
platform (`/v1/classes`, HLS per class) and the recommender. It is built once from a
generator and is then a pure function of that draw: `live_schedule` for any window returns
the same classes, because each half-hour slot draws from its own generator derived from the
catalogue's seed and the slot's time, never from a shared stream.

Live class ids carry their slot, type and instructor (`live-20261121T1300-cycling-07`), so
`Catalog.get` can rebuild a live class from its id alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

__all__ = [
    "CLASS_TYPES",
    "EQUIPMENT",
    "LIVE_SLOT_S",
    "Catalog",
    "ClassInfo",
    "Instructor",
    "InstructorNames",
    "build_catalog",
    "live_class_id",
    "live_duration_pmf",
    "zipf_shares",
]

# Class types: cycling (bike) and running (tread) from seed 001 ("bikes, treadmills"); the
# app-only types strength, cardio, yoga, meditation, outdoor running from seed 003.
CLASS_TYPES: tuple[str, ...] = (
    "cycling",
    "running",
    "strength",
    "yoga",
    "meditation",
    "cardio",
    "outdoor running",
)
# The device a class type needs; None = any device, the app included (seed 003: the partner's
# classes "do not require specialist equipment, specifically excluding ... bike workouts").
EQUIPMENT: dict[str, str | None] = {
    "cycling": "bike",
    "running": "tread",
    "strength": None,
    "yoga": None,
    "meditation": None,
    "cardio": None,
    "outdoor running": None,
}
LIVE_SLOT_S = 1800  # live classes start at :00 and :30 (DESIGN.md)

# Assumption: class lengths in minutes as a connected-fitness library offers them, with weights
# that favour 20-45 min rides; meditation is short. Not from the seeds.
_DURATIONS_MIN = np.array([5, 10, 15, 20, 30, 45, 60, 75, 90])
_DURATION_WEIGHTS = np.array([0.04, 0.12, 0.10, 0.20, 0.28, 0.16, 0.07, 0.02, 0.01])
_LIVE_DURATIONS_MIN = np.array([20, 30, 45, 60])
_LIVE_DURATION_WEIGHTS = np.array([0.25, 0.40, 0.25, 0.10])
_MEDITATION_MIN = np.array([5, 10, 15, 20])
# Assumption: the share of the on-demand library by type (bike classes dominate, seed 001).
_LIBRARY_MIX = np.array([0.38, 0.17, 0.15, 0.10, 0.06, 0.08, 0.06])
# Zipf exponent of instructor popularity. Assumption: a handful of star instructors draw most
# riders, so one popular live class draws tens of thousands at millions of riders (issue 3).
ZIPF_EXPONENT = 1.1
_THEMES = (
    "Pop",
    "Rock",
    "80s",
    "90s",
    "Hip Hop",
    "Latin",
    "EDM",
    "Country",
    "Intervals",
    "HIIT",
    "Tabata",
    "Climb",
    "Power Zone",
    "Low Impact",
    "Recovery",
    "Endurance",
)
_NOUNS = {
    "cycling": "Ride",
    "running": "Run",
    "strength": "Full Body Strength",
    "yoga": "Yoga Flow",
    "meditation": "Meditation",
    "cardio": "Cardio",
    "outdoor running": "Outdoor Run",
}
_LIVE_ID = re.compile(r"^live-(\d{8}T\d{4})-([a-z-]+)-(\d{2,})$")


class InstructorNames:
    """The instructors' names, made by Faker from its seed the first time one is read.

    A run never reads them, and Faker takes about a second to import on a busy machine; the
    reference platform's API does. The names are the same whenever they are made: Faker's
    seeded instance draws them in instructor order, from no other generator.
    """

    __slots__ = ("_n", "_names", "_seed")

    def __init__(self, seed: int, n: int) -> None:
        self._seed, self._n = seed, n
        self._names: tuple[str, ...] | None = None

    def __getitem__(self, index: int) -> str:
        if self._names is None:
            from faker import Faker  # deferred: see the class docstring

            fake = Faker("en_US")
            fake.seed_instance(self._seed)
            self._names = tuple(f"{fake.first_name()} {fake.last_name()}" for _ in range(self._n))
        return self._names[index]

    def __getstate__(self) -> tuple[int, int]:
        return self._seed, self._n

    def __setstate__(self, state: tuple[int, int]) -> None:
        self._seed, self._n = state
        self._names = None


@dataclass(frozen=True, slots=True)
class Instructor:
    """One instructor: a name, the types they teach, and their share of riders (sums to 1)."""

    index: int
    types: tuple[str, ...]
    popularity: float
    names: InstructorNames = field(repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.names[self.index]


@dataclass(frozen=True, slots=True)
class ClassInfo:
    """One class. `starts_at` is tz-aware UTC for live classes and None for on-demand ones.

    `popularity` is the instructor's share of riders times the class's own appeal, so classes
    compare by it: a slot's live riders split between its classes in proportion to it.
    """

    id: str
    title: str
    teacher: Instructor
    type: str
    starts_at: datetime | None
    duration_s: int
    live: bool
    popularity: float

    @property
    def instructor(self) -> str:
        """The instructor's name."""
        return self.teacher.name


def _slug(class_type: str) -> str:
    return class_type.replace(" ", "-")


def live_class_id(starts_at: datetime, class_type: str, instructor_index: int) -> str:
    """The id of a live class: its UTC slot, its type and its instructor."""
    stamp = starts_at.astimezone(UTC).strftime("%Y%m%dT%H%M")
    return f"live-{stamp}-{_slug(class_type)}-{instructor_index:02d}"


@dataclass(frozen=True)
class Catalog:
    """Instructors, the on-demand library and the rule that lays out live classes.

    Built by `build_catalog`; immutable afterwards. Each slot (every :00 and :30 UTC) has a
    cycling class, a running class on the hour, and one app-friendly class; the instructor of
    each is drawn by popularity from those who teach the type.
    """

    instructors: tuple[Instructor, ...]
    on_demand: tuple[ClassInfo, ...]
    seed: int
    types: tuple[str, ...] = CLASS_TYPES
    _by_id: dict[str, ClassInfo] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_id.update((c.id, c) for c in self.on_demand)

    def get(self, class_id: str) -> ClassInfo | None:
        """The class with this id (on-demand or live), or None if there is none."""
        found = self._by_id.get(class_id)
        if found is not None or not class_id.startswith("live-"):
            return found
        return self._live_from_id(class_id)

    def live_schedule(self, start: datetime, end: datetime) -> list[ClassInfo]:
        """Live classes starting in [start, end), in start order; the same for any window."""
        first = _ceil_slot(_utc(start, "start"))
        stop = _utc(end, "end")
        classes: list[ClassInfo] = []
        slot = first
        while slot < stop:
            classes.extend(self._slot_classes(slot))
            slot += timedelta(seconds=LIVE_SLOT_S)
        return classes

    def app_only(self) -> tuple[ClassInfo, ...]:
        """On-demand classes that need no bike or tread (what an app-only audience can take)."""
        return tuple(c for c in self.on_demand if EQUIPMENT[c.type] is None)

    def type_index(self, class_type: str) -> int:
        """The integer code of a class type (the code `Population.preferred_types` holds)."""
        return self.types.index(class_type)

    def teaching(self, class_type: str) -> tuple[Instructor, ...]:
        """Instructors who teach `class_type`."""
        return tuple(i for i in self.instructors if class_type in i.types)

    def _slot_classes(self, slot: datetime) -> list[ClassInfo]:
        rng = np.random.default_rng([self.seed, int(slot.timestamp()) // LIVE_SLOT_S])
        types = ["cycling"]
        if slot.minute == 0:
            types.append("running")
        app_types = [t for t in self.types if EQUIPMENT[t] is None]
        types.append(app_types[int(rng.integers(len(app_types)))])
        return [self._live_class(slot, t, rng) for t in types]

    def _live_class(self, slot: datetime, class_type: str, rng: np.random.Generator) -> ClassInfo:
        teachers = self.teaching(class_type)
        weights = np.array([i.popularity for i in teachers])
        teacher = teachers[int(rng.choice(len(teachers), p=weights / weights.sum()))]
        minutes = int(rng.choice(_LIVE_DURATIONS_MIN, p=_LIVE_DURATION_WEIGHTS))
        if class_type == "meditation":
            minutes = int(rng.choice(_MEDITATION_MIN))
        theme = _THEMES[int(rng.integers(len(_THEMES)))]
        return ClassInfo(
            id=live_class_id(slot, class_type, teacher.index),
            title=f"{minutes} min {theme} {_NOUNS[class_type]}",
            teacher=teacher,
            type=class_type,
            starts_at=slot,
            duration_s=minutes * 60,
            live=True,
            popularity=teacher.popularity,
        )

    def _live_from_id(self, class_id: str) -> ClassInfo | None:
        match = _LIVE_ID.match(class_id)
        if match is None:
            return None
        try:
            slot = datetime.strptime(match.group(1), "%Y%m%dT%H%M").replace(tzinfo=UTC)
        except ValueError:
            return None
        if slot.minute % 30:
            return None
        return next((c for c in self._slot_classes(slot) if c.id == class_id), None)


def _utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return moment.astimezone(UTC)


def _ceil_slot(moment: datetime) -> datetime:
    seconds = moment.timestamp()
    slot = -(-seconds // LIVE_SLOT_S) * LIVE_SLOT_S
    return datetime.fromtimestamp(slot, tz=UTC)


def live_duration_pmf(n_minutes: int) -> np.ndarray:
    """Probability a live class lasts k minutes (k = 0..n_minutes), meditation aside."""
    pmf = np.zeros(n_minutes + 1)
    pmf[np.minimum(_LIVE_DURATIONS_MIN, n_minutes)] = _LIVE_DURATION_WEIGHTS
    return pmf / pmf.sum()


def zipf_shares(n: int, exponent: float = ZIPF_EXPONENT) -> np.ndarray:
    """Shares 1/rank**exponent normalised to sum to 1, most popular first."""
    weights = 1.0 / np.arange(1, n + 1, dtype=float) ** exponent
    return weights / weights.sum()


def _instructors(rng: np.random.Generator, n: int) -> tuple[Instructor, ...]:
    names = InstructorNames(int(rng.integers(2**31)), n)  # made when first read
    shares = zipf_shares(n)
    order = rng.permutation(n)  # popularity rank is not tied to the index
    result = []
    for index in range(n):
        # Every instructor has a main type; a third of them also teach a second one. Types
        # are dealt round-robin first so every type has at least one instructor.
        main = CLASS_TYPES[index % len(CLASS_TYPES)] if index < len(CLASS_TYPES) else None
        if main is None:
            main = CLASS_TYPES[int(rng.choice(len(CLASS_TYPES), p=_LIBRARY_MIX))]
        types = [main]
        if rng.random() < 1 / 3:
            extra = CLASS_TYPES[int(rng.integers(len(CLASS_TYPES)))]
            if extra != main:
                types.append(extra)
        result.append(Instructor(index, tuple(types), float(shares[order[index]]), names))
    return tuple(result)


def _library(
    rng: np.random.Generator, instructors: tuple[Instructor, ...], n: int
) -> tuple[ClassInfo, ...]:
    type_codes = rng.choice(len(CLASS_TYPES), size=n, p=_LIBRARY_MIX)
    minutes = rng.choice(_DURATIONS_MIN, size=n, p=_DURATION_WEIGHTS)
    # A class's own appeal on top of its instructor's: lognormal, a few classes are hits.
    appeal = rng.lognormal(0.0, 1.0, size=n)
    themes = rng.integers(len(_THEMES), size=n)
    picks = rng.random(n)
    teachers_of = {t: [i for i in instructors if t in i.types] for t in CLASS_TYPES}
    raw: list[tuple[str, str, Instructor, int, float]] = []
    for k in range(n):
        class_type = CLASS_TYPES[int(type_codes[k])]
        teachers = teachers_of[class_type]
        cum = np.cumsum([i.popularity for i in teachers])
        teacher = teachers[min(int(np.searchsorted(cum, picks[k] * cum[-1])), len(teachers) - 1)]
        length = int(minutes[k]) if class_type != "meditation" else min(int(minutes[k]), 20)
        title = f"{length} min {_THEMES[int(themes[k])]} {_NOUNS[class_type]}"
        raw.append((class_type, title, teacher, length, teacher.popularity * float(appeal[k])))
    total = sum(r[4] for r in raw) or 1.0
    return tuple(
        ClassInfo(f"od-{k:05d}", title, t, ct, None, length * 60, False, pop / total)
        for k, (ct, title, t, length, pop) in enumerate(raw)
    )


def build_catalog(
    rng: np.random.Generator,
    *,
    n_instructors: int = 40,
    n_on_demand: int = 2000,
    names_now: bool = True,
) -> Catalog:
    """A catalogue of `n_instructors` (Zipf popularity) and `n_on_demand` library classes.

    `names_now=False` leaves the instructors' names to be made when first read (a run never
    reads them); a server makes them now, so that no request waits for Faker.

    Seed 001 gives the library's size by phase (500, 5K, 50K classes); seed 003 the 1,400
    partner classes. The default 2,000 sits between phases 1 and 2 and keeps start-up fast.
    """
    if n_instructors < len(CLASS_TYPES):
        raise ValueError(f"n_instructors must be >= {len(CLASS_TYPES)} (one per class type)")
    if n_on_demand < 0:
        raise ValueError("n_on_demand must be >= 0")
    seed = int(rng.integers(2**62))
    instructors = _instructors(rng, n_instructors)
    if names_now:
        _ = instructors[0].name
    return Catalog(
        instructors=instructors, on_demand=_library(rng, instructors, n_on_demand), seed=seed
    )
