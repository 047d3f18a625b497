"""The bare open-queueing-network scenario (`kind: network`).

This is the form the engines are checked against queueing theory with, and the form an
architect uses for a design that is not a connected-fitness platform. Every model is frozen
and refuses unknown keys, so a typo in a file is an error naming the field, not a default.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from twin.config.limits import MAX_RATE_PER_S, MAX_ROWS, NetworkServers, Seed, over
from twin.config.paths import unknown_message

__all__ = [
    "EXIT",
    "FieldError",
    "Network",
    "NetworkScenario",
    "RateSchedule",
    "ServiceTime",
    "Source",
    "Station",
    "visits_per_arrival",
]

EXIT = "exit"
_ROUTE_TOLERANCE = 1e-6
# What a file may write for `rate_per_s` (the model holds it as a RateSchedule).
_RATE_SCHEMA = {
    "anyOf": [
        {"type": "number", "minimum": 0},
        {
            "type": "array",
            "minItems": 1,
            "items": {"type": "array", "items": [{"type": "number"}] * 2, "minItems": 2,
                      "maxItems": 2},
        },
    ]
}  # fmt: skip
# A network scenario's SLO entries (read by `twin.results.slo.from_mapping`).
_SLO_OPS = ["<=", "<", ">=", ">", "==", "!="]
_SLO_LIST_SCHEMA = {
    "type": "array",
    "items": {
        "anyOf": [
            {"type": "object", "required": ["metric", "op", "target"], "properties": {
                "name": {"type": "string"}, "metric": {"type": "string"},
                "op": {"enum": _SLO_OPS}, "target": {"type": "number"}}},
            {"type": "object", "required": ["expr"], "properties": {
                "name": {"type": "string"}, "expr": {"type": "string"}}},
        ]
    },
}  # fmt: skip


class Frozen(BaseModel):
    """Base for every scenario model: immutable, strict about unknown keys, finite numbers.

    An unknown key is named as unknown with the nearest valid names, before any field is
    checked (so `duraton_s` is not reported as a missing `duration_s`); `.inf` and `.nan` are
    refused in every float field.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: object) -> object:
        if isinstance(data, dict):
            for key in data:
                if key not in cls.model_fields:
                    raise FieldError(str(key), unknown_message(str(key), cls.model_fields))
        return data


class ServiceTime(Frozen):
    """A service-time distribution by name, mean and coefficient of variation.

    `exponential` has cv 1 and `deterministic` cv 0 by definition; `lognormal` and `gamma`
    need `cv`; `empirical` draws uniformly from `values` (seconds) and needs no mean.
    """

    dist: Literal["exponential", "deterministic", "lognormal", "gamma", "empirical"] = Field(
        description="The distribution: exponential (cv 1), deterministic (cv 0), lognormal or "
        "gamma (give cv), or empirical (give values)."
    )
    mean_s: Annotated[float, Field(gt=0)] | None = Field(
        default=None,
        description="Mean service time (s); every distribution but empirical needs it.",
    )
    cv: Annotated[float, Field(ge=0)] | None = Field(
        default=None, description="Coefficient of variation (sd / mean); lognormal and gamma only."
    )
    values: list[Annotated[float, Field(ge=0)]] | None = Field(
        default=None, description="Empirical only: service times (s) drawn uniformly."
    )

    @model_validator(mode="after")
    def _fits_distribution(self) -> ServiceTime:
        if self.dist == "empirical":
            if not self.values:
                raise ValueError("empirical service time needs a non-empty 'values' list")
            if sum(self.values) <= 0:
                raise ValueError("empirical 'values' must not all be zero")
            return self
        if self.values is not None:
            raise ValueError(f"'values' only applies to dist: empirical, not {self.dist}")
        if self.mean_s is None:
            raise ValueError(f"dist: {self.dist} needs 'mean_s' (seconds, > 0)")
        if self.dist in ("lognormal", "gamma") and (self.cv is None or self.cv <= 0):
            raise ValueError(f"dist: {self.dist} needs 'cv' > 0")
        if self.dist == "exponential" and self.cv not in (None, 1.0):
            raise ValueError("an exponential distribution has cv 1; leave 'cv' out")
        if self.dist == "deterministic" and self.cv not in (None, 0.0):
            raise ValueError("a deterministic distribution has cv 0; leave 'cv' out")
        return self

    @property
    def mean(self) -> float:
        """Mean service time in seconds."""
        if self.dist == "empirical":
            assert self.values is not None
            return sum(self.values) / len(self.values)
        assert self.mean_s is not None
        return self.mean_s

    @property
    def scv(self) -> float:
        """Squared coefficient of variation, as the M/G/1 formulas want it."""
        if self.dist == "exponential":
            return 1.0
        if self.dist == "deterministic":
            return 0.0
        if self.dist == "empirical":
            assert self.values is not None
            m = self.mean
            var = sum((v - m) ** 2 for v in self.values) / len(self.values)
            return var / (m * m)
        assert self.cv is not None
        return self.cv * self.cv


class RateSchedule(Frozen):
    """A piecewise-constant rate: `points[i] = (t_s, rate)` holds from t_s to the next t_s."""

    points: tuple[tuple[float, float], ...]

    def rate_at(self, t: float) -> float:
        rate = self.points[0][1]
        for start, value in self.points:
            if start > t:
                break
            rate = value
        return rate

    @property
    def peak(self) -> float:
        return max(r for _, r in self.points)

    def total(self, duration_s: float) -> float:
        """Expected arrivals over [0, duration_s]: the integral of the rate."""
        total = 0.0
        for i, (start, rate) in enumerate(self.points):
            if start >= duration_s:
                break
            end = self.points[i + 1][0] if i + 1 < len(self.points) else duration_s
            total += rate * (min(end, duration_s) - start)
        return total


def _as_schedule(value: object) -> object:
    """Accept `3.6` or `[[0, 1.0], [600, 5.0]]` and normalise both to a RateSchedule."""
    if isinstance(value, RateSchedule):
        return value
    if isinstance(value, bool):
        raise ValueError("rate_per_s must be a number or a list of [t_s, rate] pairs")
    if isinstance(value, int | float):
        return {"points": ((0.0, _finite(value)),)}
    if isinstance(value, list | tuple):
        points = []
        for item in value:
            if not isinstance(item, list | tuple) or len(item) != 2:
                raise ValueError("each rate_per_s entry must be a [t_s, rate] pair")
            points.append((_finite(item[0]), _finite(item[1])))
        return {"points": tuple(points)}
    raise ValueError("rate_per_s must be a number or a list of [t_s, rate] pairs")


def _finite(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"rate_per_s must be finite numbers, not {value}")
    return value


class Source(Frozen):
    """A Poisson source of requests entering the network at one station."""

    name: str = Field(description="Its requests are `requests.<name>` in the summary.")
    rate_per_s: Annotated[RateSchedule, WithJsonSchema(_RATE_SCHEMA)] = Field(
        description="Poisson arrivals per second: a number, or [[t_s, rate], ...] holding each "
        "rate from t_s (s) to the next, starting at 0."
    )
    to: str = Field(description="The station its requests enter.")

    @field_validator("rate_per_s", mode="before")
    @classmethod
    def _schedule(cls, value: object) -> object:
        return _as_schedule(value)

    @field_validator("rate_per_s")
    @classmethod
    def _non_negative(cls, value: RateSchedule) -> RateSchedule:
        if not value.points:
            raise ValueError("rate_per_s needs at least one [t_s, rate] pair")
        times = [t for t, _ in value.points]
        if times[0] != 0:
            raise ValueError("a rate_per_s schedule must start at t_s 0")
        if any(b <= a for a, b in itertools.pairwise(times)):
            raise ValueError("rate_per_s times must be strictly increasing")
        if any(r < 0 for _, r in value.points):
            raise ValueError("rate_per_s must be >= 0")
        if value.peak > MAX_RATE_PER_S:
            raise ValueError(over("rate_per_s", value.peak, MAX_RATE_PER_S, "MAX_RATE_PER_S"))
        return value


class Station(Frozen):
    """A multi-server FIFO station with an optional finite queue and probabilistic routing."""

    servers: NetworkServers = Field(description="Servers sharing one FIFO queue.")
    service: ServiceTime = Field(description="Time one server takes for a request.")
    queue_capacity: Annotated[int, Field(ge=0)] | None = Field(
        default=None,
        description="Requests that may wait; null: unbounded. A full queue drops arrivals.",
    )
    routes: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=lambda: {EXIT: 1.0},
        description="After service: station name (or `exit`) to probability, summing to 1. "
        "Default: all exit.",
    )

    @field_validator("routes")
    @classmethod
    def _sums_to_one(cls, value: dict[str, float]) -> dict[str, float]:
        total = sum(value.values())
        if abs(total - 1.0) > _ROUTE_TOLERANCE:
            raise ValueError(f"routing probabilities must sum to 1, they sum to {total:g}")
        return value


class Network(Frozen):
    """Sources feeding stations; stations routing to stations or out."""

    sources: list[Source] = Field(min_length=1, description="Where requests come from.")
    stations: dict[str, Station] = Field(
        min_length=1,
        description="Each station by name (`exit` is reserved).",
        json_schema_extra={"propertyNames": {"title": "name"}},
    )

    @model_validator(mode="after")
    def _references_exist(self) -> Network:
        names = set(self.stations)
        if EXIT in names:
            raise ValueError(f"{EXIT!r} is reserved for leaving the network; rename the station")
        seen: set[str] = set()
        for i, src in enumerate(self.sources):
            if src.to not in names:
                raise FieldError(f"sources.{i}.to", f"unknown station {src.to!r}")
            if src.name in seen:
                raise FieldError(f"sources.{i}.name", f"duplicate source name {src.name!r}")
            seen.add(src.name)
        for name, st in self.stations.items():
            for target in st.routes:
                if target != EXIT and target not in names:
                    raise FieldError(f"stations.{name}.routes.{target}", "unknown station")
        self._check_absorbing()
        return self

    def reached(self) -> set[str]:
        """The stations the sources' requests can reach (along routes with p > 0)."""

        def onward(name: str) -> set[str]:
            return _targets(self.stations[name].routes) - {EXIT}

        return _closure({s.to for s in self.sources}, onward)

    def _check_absorbing(self) -> None:
        """Every station a source's requests can reach must have a way out: a request caught
        in a closed class never leaves, so the run would simulate it for ever (and queueing
        theory has no solution). Stations no source reaches stay idle, whatever their routes."""
        leaving = _leaving({name: st.routes for name, st in self.stations.items()})
        reached = self.reached()
        trapped = [name for name in self.stations if name in reached and name not in leaving]
        if trapped:
            raise FieldError(
                f"stations.{trapped[0]}.routes",
                f"requests at {', '.join(trapped)} can never leave the network: "
                f"every station they reach needs a route (p > 0) that leads to {EXIT}",
            )


def _targets(routes: Mapping[str, float]) -> set[str]:
    return {target for target, p in routes.items() if p > 0}


def _closure(start: set[str], step: Callable[[str], set[str]]) -> set[str]:
    seen, todo = set(start), list(start)
    while todo:
        for nxt in step(todo.pop()) - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def _leaving(routes: Mapping[str, Mapping[str, float]]) -> set[str]:
    """The stations from which some route with p > 0 leads to the exit."""
    into: dict[str, set[str]] = {}
    for name, targets in routes.items():
        for target in _targets(targets):
            into.setdefault(target, set()).add(name)
    return _closure({EXIT}, lambda n: into.get(n, set())) - {EXIT}


def visits_per_arrival(routes: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Expected station visits of a request entering at each station, exit excluded: the row
    sums of (I - P)^-1 for the routing matrix P (the traffic equations), over the stations
    that can leave (`Network` refuses any other that a source reaches), so it exists."""
    names = [name for name in routes if name in _leaving(routes)]
    index = {name: i for i, name in enumerate(names)}
    matrix = np.eye(len(names))
    for name, targets in routes.items():
        for target, p in targets.items():
            if target in index:
                matrix[index[name], index[target]] -= p
    totals = np.linalg.inv(matrix).sum(axis=1)
    return {name: float(totals[index[name]]) for name in names}


class FieldError(ValueError):
    """A cross-field error that knows the dotted path (below the model) it is about."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"@{path}@ {message}")


class NetworkScenario(Frozen):
    """A whole `kind: network` scenario file."""

    name: str = Field(description="The scenario's name (`scenario` in the summary).")
    kind: Literal["network"] = Field(
        default="network", description="`network`: a bare open queueing network (the default)."
    )
    description: str = Field(default="", description="One line about it, for people.")
    duration_s: Annotated[float, Field(gt=0)] = Field(description="Simulated time (s).")
    warmup_s: Annotated[float, Field(ge=0)] | Literal["auto"] = Field(
        default=0.0, description="Left out of the statistics at the start (s), or `auto` (MSER-5)."
    )
    interval_s: Annotated[float, Field(gt=0)] | None = Field(
        default=None, description="Width of a `timeseries.csv` row (s); null: duration_s / 100."
    )
    seed: Seed = Field(
        default=1, description="Random seed: same seed, same inputs, same summary."
    )
    network: Network = Field(description="The sources and stations.")
    slo: Annotated[list[dict[str, object]], WithJsonSchema(_SLO_LIST_SCHEMA)] = Field(
        default_factory=list,
        description="Promises checked against the summary: {name, metric, op, target} or "
        "{name, expr} (`expr`: e.g. requests.requests.latency_ms.p99<=500).",
    )

    @model_validator(mode="after")
    def _warmup_inside(self) -> NetworkScenario:
        if isinstance(self.warmup_s, float) and self.warmup_s >= self.duration_s:
            raise FieldError("warmup_s", "must be shorter than duration_s")
        rows = self.duration_s / self.timeseries_interval_s
        if rows > MAX_ROWS:
            message = over("duration_s / interval_s =", rows, MAX_ROWS, "MAX_ROWS", " rows")
            raise FieldError("interval_s", message)
        return self

    def expected_visits(self) -> float:
        """Station visits the run is expected to hold: each source's arrivals over the run
        times the visits a request makes from its entry station."""
        per_arrival = visits_per_arrival({n: st.routes for n, st in self.network.stations.items()})
        sources = self.network.sources
        return sum(s.rate_per_s.total(self.duration_s) * per_arrival[s.to] for s in sources)

    @property
    def timeseries_interval_s(self) -> float:
        """Width of one row of timeseries.csv: given, or 1/100 of the run."""
        return self.interval_s if self.interval_s is not None else self.duration_s / 100.0
