"""Open queueing networks solved by Jackson's theorem: `twin analyze` and the engines' oracle.

The traffic equations lambda = gamma + P^T lambda (gamma the external arrival rates, P the
routing matrix between stations) give each station's arrival rate; each station is then
solved on its own: M/M/c by Erlang C when service is exponential (exact, by Jackson's
product form), M/G/1 by Pollaczek-Khinchine or M/G/c by Allen-Cunneen otherwise, and
M/M/c/K when it has a finite queue. The last three are decomposition approximations inside
a network (a station's arrivals are Poisson only if it is fed by sources alone) and are
flagged `approximate`; blocking at finite queues thins the flow downstream, which is solved
as a fixed point of the blocking probabilities (the "reduced load" approximation).

A source's mean end-to-end latency is the sum over stations of its expected visits times
the station's mean sojourn. Time-varying sources are analysed at their mean rate over
`duration_s` or, on request, each at its own peak.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from twin.analytic.erlang import mmc
from twin.analytic.finite import mmck
from twin.analytic.pk import mg1, mgc_allen_cunneen
from twin.config.network import EXIT, NetworkScenario, RateSchedule, Station
from twin.errors import UnstableError

__all__ = [
    "MMC",
    "MMCK",
    "MMCK_APPROX",
    "NetworkResult",
    "SourceResult",
    "StationResult",
    "analyze_network",
    "mean_rate",
    "station_model",
]

MMC = "M/M/c"
MMCK = "M/M/c/K"
MMCK_APPROX = "M/M/c/K (approx.)"
_DAMPING = 0.5  # blocking fixed point: half steps converge even when feedback oscillates
_MAX_ROUNDS = 2000
_TOLERANCE = 1e-13
FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class StationResult:
    """One station's steady state (seconds, per second).

    `arrival_rate` is what is offered (including requests a full queue drops); `blocking`
    is None for an unbounded queue. `approximate` is True when `method` is not exact here.
    """

    name: str
    arrival_rate: float
    servers: int
    utilization: float
    wait_mean: float
    sojourn_mean: float
    method: str
    approximate: bool
    blocking: float | None = None


@dataclass(frozen=True, slots=True)
class SourceResult:
    """One source's requests end to end: expected visits per station and mean latency.

    `visits` counts arrivals at each station per request (a request dropped by a full
    queue counts that arrival, then leaves); `latency_mean` is the mean end-to-end time of
    the requests that complete, the fraction `completed_fraction` of them (1 without drops).
    """

    name: str
    rate: float
    entry: str
    latency_mean: float
    completed_fraction: float
    visits: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class NetworkResult:
    """The whole network: stations and sources by name, and the rates they were solved at."""

    scenario: str
    at_peak: bool
    stations: Mapping[str, StationResult]
    sources: Mapping[str, SourceResult]

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (`twin analyze --json`, `summary.json` "analytic"): times in ms."""
        return {
            "scenario": self.scenario,
            "rates": "peak" if self.at_peak else "mean",
            "stations": {name: _station_dict(st) for name, st in self.stations.items()},
            "sources": {name: _source_dict(src) for name, src in self.sources.items()},
        }


def analyze_network(scenario: NetworkScenario, *, at_peak: bool = False) -> NetworkResult:
    """Solve a `kind: network` scenario. Raises `UnstableError` for the most loaded station
    at utilization >= 1 without a finite queue, and `InputError` when requests can enter
    a part of the network that has no route to exit."""
    net = scenario.network
    names = _live_stations(scenario)
    index = {name: i for i, name in enumerate(names)}
    routing = _routing_matrix(net.stations, names)
    rates = {s.name: _source_rate(s.rate_per_s, scenario.duration_s, at_peak) for s in net.sources}
    gamma = np.zeros(len(names))
    for src in net.sources:
        gamma[index[src.to]] += rates[src.name]
    lam, blocking = _flows(net.stations, names, routing, gamma)
    all_lam = {name: float(lam[index[name]]) if name in index else 0.0 for name in net.stations}
    _refuse_unstable(net.stations, all_lam)
    stations = {name: station_model(name, st, all_lam[name]) for name, st in net.stations.items()}
    stations = _mark_fed_by_network(stations, routing, names)
    sojourn = np.array([stations[n].sojourn_mean for n in names])
    paths = _Paths(names, routing, blocking, sojourn)
    sources = {s.name: paths.source(s.name, rates[s.name], s.to) for s in net.sources}
    return NetworkResult(
        scenario=scenario.name,
        at_peak=at_peak,
        stations=MappingProxyType(stations),
        sources=MappingProxyType(sources),
    )


def station_model(name: str, station: Station, arrival_rate: float) -> StationResult:
    """Solve one station at `arrival_rate` with the model its service and queue call for."""
    service, c = station.service, station.servers
    exponential = service.dist == "exponential"
    if station.queue_capacity is not None:
        k = mmck(arrival_rate, 1.0 / service.mean, c, station.queue_capacity)
        method = MMCK if exponential else MMCK_APPROX
        return StationResult(
            name, arrival_rate, c, k.utilization, k.wait_mean, k.sojourn_mean,
            method, not exponential, k.blocking,
        )  # fmt: skip
    if exponential:
        e = mmc(arrival_rate, 1.0 / service.mean, c, name=name)
        return StationResult(
            name, arrival_rate, c, e.utilization, e.wait_mean, e.sojourn_mean, MMC, False
        )
    if c == 1:
        g = mg1(arrival_rate, service.mean, service.scv, name=name)
    else:
        g = mgc_allen_cunneen(arrival_rate, service.mean, service.scv, c, name=name)
    return StationResult(
        name, arrival_rate, c, g.utilization, g.wait_mean, g.sojourn_mean, g.method, g.approximate
    )


def mean_rate(schedule: RateSchedule, duration_s: float) -> float:
    """Time average of a piecewise-constant rate over [0, duration_s]."""
    return schedule.total(duration_s) / duration_s


def _source_rate(schedule: RateSchedule, duration_s: float, at_peak: bool) -> float:
    return schedule.peak if at_peak else mean_rate(schedule, duration_s)


def _live_stations(scenario: NetworkScenario) -> list[str]:
    """Stations a source can reach, in file order (each has a route out: the scenario's
    validation refuses a reached station that cannot leave)."""
    reached = scenario.network.reached()
    return [name for name in scenario.network.stations if name in reached]


def _routing_matrix(stations: Mapping[str, Station], names: list[str]) -> FloatArray:
    index = {name: i for i, name in enumerate(names)}
    routing = np.zeros((len(names), len(names)))
    for name in names:
        for target, p in stations[name].routes.items():
            if target != EXIT:
                routing[index[name], index[target]] += p
    return routing


def _flows(
    stations: Mapping[str, Station], names: list[str], routing: FloatArray, gamma: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Arrival rates and blocking probabilities, blocking thinning the routed flow."""
    finite = [i for i, n in enumerate(names) if stations[n].queue_capacity is not None]
    blocking = np.zeros(len(names))
    for _ in range(_MAX_ROUNDS):
        lam = _solve_traffic((1.0 - blocking)[:, None] * routing, gamma)
        target = blocking.copy()
        for i in finite:
            st = stations[names[i]]
            assert st.queue_capacity is not None
            target[i] = mmck(lam[i], 1.0 / st.service.mean, st.servers, st.queue_capacity).blocking
        if np.max(np.abs(target - blocking), initial=0.0) < _TOLERANCE:
            break
        blocking += _DAMPING * (target - blocking)
    return lam, blocking


def _solve_traffic(routing: FloatArray, gamma: FloatArray) -> FloatArray:
    """lambda = gamma + routing^T lambda."""
    if routing.size == 0:
        return gamma.copy()
    return np.asarray(np.linalg.solve(np.eye(len(gamma)) - routing.T, gamma), dtype=np.float64)


def _refuse_unstable(stations: Mapping[str, Station], lam: Mapping[str, float]) -> None:
    loads = {
        name: lam[name] * st.service.mean / st.servers
        for name, st in stations.items()
        if st.queue_capacity is None
    }
    worst = max(loads, key=lambda n: loads[n], default=None)
    if worst is not None and loads[worst] >= 1.0:
        raise UnstableError(worst, loads[worst])


def _mark_fed_by_network(
    stations: dict[str, StationResult], routing: FloatArray, names: list[str]
) -> dict[str, StationResult]:
    """Flag stations whose arrivals are not Poisson, so their formula is approximate.

    Jackson's theorem makes M/M/c exact anywhere in a network without losses. P-K,
    Allen-Cunneen and M/M/c/K assume Poisson arrivals, true only for a station fed by
    sources alone; and once a finite queue drops requests that would have been routed on,
    no station downstream has the product form either.
    """
    fed = {names[j] for j in range(len(names)) if routing[:, j].any()}
    lossy = any(
        stations[names[i]].blocking is not None and routing[i].any() for i in range(len(names))
    )
    return {
        name: replace(st, approximate=True) if name in fed and (st.method != MMC or lossy) else st
        for name, st in stations.items()
    }


class _Paths:
    """A request's journey: expected visits from an entry, and its chance of leaving served.

    With no finite queue every request leaves served and its mean latency is the sum of
    visits times mean sojourn. A full queue drops a request part-way; the latency reported
    is that of the requests that complete (as an engine measures it): E[T; served] / P(served),
    where after service at i a request is eventually served with probability h_i,
    h = p_exit + P diag(1 - b) h.
    """

    def __init__(
        self, names: list[str], routing: FloatArray, blocking: FloatArray, sojourn: FloatArray
    ) -> None:
        self.names = names
        self.admitted = 1.0 - blocking
        self.forward = self.admitted[:, None] * routing  # arrive at i, admitted, routed to j
        leave = 1.0 - routing.sum(axis=1)
        self.served_after = _solve_traffic(self.admitted[:, None] * routing.T, leave)
        self.weighted = self.admitted * sojourn * self.served_after

    def source(self, name: str, rate: float, entry: str) -> SourceResult:
        e = self.names.index(entry)
        start = np.zeros(len(self.names))
        start[e] = 1.0
        visits = _solve_traffic(self.forward, start)
        served = self.admitted[e] * self.served_after[e]
        return SourceResult(
            name=name,
            rate=rate,
            entry=entry,
            latency_mean=float(visits @ self.weighted) / served,
            completed_fraction=float(served),
            visits=MappingProxyType({n: float(v) for n, v in zip(self.names, visits, strict=True)}),
        )


def _station_dict(st: StationResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "arrival_rate_per_s": st.arrival_rate,
        "servers": st.servers,
        "utilization": st.utilization,
        "wait_ms_mean": st.wait_mean * 1000.0,
        "latency_ms_mean": st.sojourn_mean * 1000.0,
        "method": st.method,
        "approximate": st.approximate,
    }
    if st.blocking is not None:
        out["blocking_probability"] = st.blocking
    return out


def _source_dict(src: SourceResult) -> dict[str, Any]:
    return {
        "rate_per_s": src.rate,
        "to": src.entry,
        "latency_ms_mean": src.latency_mean * 1000.0,
        "completed_fraction": src.completed_fraction,
        "visits": dict(src.visits),
    }
