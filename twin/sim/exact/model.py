"""What the exact engine simulates: stations and sources, built from a bare network or a
compiled platform, so one engine serves both kinds of scenario.

A source's requests either follow the probabilistic `routes` of the stations they visit (a
bare network), or a fixed `path` of stations where each hop is reached by a share of the
requests (a platform's request type: after a CDN, only the misses go on to the origin).
A station's servers may follow a schedule (incidents, scheduled scaling) or a reactive
autoscaler (twin.sim.exact.autoscale), and its service time may depend on the request's
source (a platform's request type with its own time there).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from twin.config.network import NetworkScenario, RateSchedule, ServiceTime
from twin.sim.caps import record_rate, request_cap
from twin.sim.exact.autoscale import Scaling

__all__ = [
    "CHAIN",
    "ExactModel",
    "PoolModel",
    "SourceModel",
    "StationModel",
    "chain_path",
    "from_network",
    "from_platform",
    "ingest_source",
    "schedule_of",
]


@dataclass(frozen=True)
class StationModel:
    """A multi-server FIFO station; `servers_schedule` holds (t_s, servers) changes.

    `service_by_source` holds (source name, service time) for sources served in their own
    time; requests of every other source take `service`. All share the one FIFO queue. With
    `timeout_s` a request that waited longer gives up (an error). With `gate_rate`, requests
    of `gate_sources` pass a rate limit first (a database's writes, a stream's records).
    """

    name: str
    servers: int
    service: ServiceTime
    queue_capacity: int | None = None
    routes: tuple[tuple[str, float], ...] = (("exit", 1.0),)
    servers_schedule: tuple[tuple[float, int], ...] = ()
    service_by_source: tuple[tuple[str, ServiceTime], ...] = ()
    timeout_s: float | None = None
    gate_rate: Any = None  # np.ndarray of per-tick rates (twin.sim.exact.gate), or None
    gate_sources: tuple[str, ...] = ()
    gate_burst_s: float = 0.0  # the gate lets rate x this through at once (0: a pacer)
    scaling: Scaling | None = None  # reactive autoscaling (then no servers_schedule)
    pool: PoolModel | None = None  # connections to a database (twin.sim.exact.pool)
    # the kind's cap in servers' worth per tick of `cap_tick_s` (twin.sim.caps), or None
    cap_servers: Any = None
    cap_tick_s: float = 1.0
    wake: tuple[float, float] | None = None  # (penalty_s, tau_s): twin.sim.exact.station

    def capacity_area(self, start: float, end: float) -> float:
        """Server-seconds available between `start` and `end`: the servers', or fewer where
        the kind's cap (a stream's shards, a database's writes) leaves less, as the fluid
        engine reads capacity (`twin.sim.caps`)."""
        if self.cap_servers is None:
            return self._server_area(start, end)
        tick = self.cap_tick_s
        cap = np.asarray(self.cap_servers, dtype=float)
        k0 = max(int(start // tick), 0)
        k1 = min(int(np.ceil(end / tick - 1e-9)), len(cap))
        area = 0.0
        for k in range(k0, k1):
            a, b = max(start, k * tick), min(end, (k + 1) * tick)
            if b > a:
                area += min(self._server_area(a, b), float(cap[k]) * (b - a))
        return area

    def _server_area(self, start: float, end: float) -> float:
        if not self.servers_schedule:
            return self.servers * (end - start)
        times = [t for t, _ in self.servers_schedule] + [np.inf]
        area = 0.0
        for (t, n), t_next in zip(self.servers_schedule, times[1:], strict=True):
            overlap = min(end, t_next) - max(start, t)
            if overlap > 0:
                area += n * overlap
        return area


@dataclass(frozen=True)
class PoolModel:
    """A station's connection pool to the database station `to`."""

    to: str
    size_per_instance: int
    servers_per_instance: int
    acquire_timeout_s: float


@dataclass(frozen=True)
class SourceModel:
    """Poisson arrivals; with `path`, each hop is (station, share of requests reaching it).

    A `driven` source has no arrivals of its own: riders (twin.sim.exact.riders) send its
    requests, and hear back when each is answered or lost. `bursts` are arrivals on top of
    the schedule at instants: (seconds, expected count), a Poisson number at each; at one
    instant, sources' bursts arrive in `burst_rank` order."""

    name: str
    schedule: RateSchedule
    entry: str
    path: tuple[tuple[str, float], ...] = ()
    driven: bool = False
    bursts: tuple[tuple[float, float], ...] = ()
    burst_rank: int = 0
    awake: float = 0.0  # share of its requests that find the processes awake (no wake-up)
    # its own random streams' name when it is one part of a request type (`from_platform`
    # splits a type into the requests sent right behind a response and the others): the parts
    # report as one source, `name`
    stream: str = ""


@dataclass(frozen=True)
class ExactModel:
    """A whole run for the exact engine."""

    name: str
    kind: str
    duration_s: float
    interval_s: float
    warmup_s: float | str
    seed: int
    stations: tuple[StationModel, ...]
    sources: tuple[SourceModel, ...]


def from_network(scenario: NetworkScenario) -> ExactModel:
    """The model of a bare open network."""
    stations = tuple(
        StationModel(
            name=name,
            servers=st.servers,
            service=st.service,
            queue_capacity=st.queue_capacity,
            routes=tuple(st.routes.items()),
        )
        for name, st in scenario.network.stations.items()
    )
    sources = tuple(
        SourceModel(name=s.name, schedule=s.rate_per_s, entry=s.to)
        for s in scenario.network.sources
    )
    return ExactModel(
        name=scenario.name,
        kind="network",
        duration_s=scenario.duration_s,
        interval_s=scenario.timeseries_interval_s,
        warmup_s=scenario.warmup_s,
        seed=scenario.seed,
        stations=stations,
        sources=sources,
    )


def schedule_of(t: np.ndarray, values: np.ndarray) -> RateSchedule:
    """Per-tick values as a piecewise-constant schedule, merging equal neighbours."""
    values = np.maximum(np.asarray(values, dtype=float), 0.0)
    keep = np.concatenate(([True], values[1:] != values[:-1]))
    points = tuple((float(a), float(b)) for a, b in zip(t[keep] - t[0], values[keep], strict=True))
    return RateSchedule(points=points)


def spread_rate(t: np.ndarray, tick_s: float, rate: np.ndarray,
                bursts: tuple[tuple[float, float], ...]) -> np.ndarray:  # fmt: skip
    """A tick's rate less what its `bursts` bring at their instants (never below 0)."""
    out = np.asarray(rate, dtype=float).copy()
    for at, count in bursts:
        k = int(np.searchsorted(t - t[0], at, side="right")) - 1
        if 0 <= k < out.size:
            out[k] -= count / tick_s
    return np.maximum(out, 0.0)


def _servers_schedule(t: np.ndarray, servers: np.ndarray) -> tuple[tuple[float, int], ...]:
    counts = np.maximum(np.round(servers), 0).astype(int)
    if (counts == counts[0]).all():
        return ()
    keep = np.concatenate(([True], counts[1:] != counts[:-1]))
    return tuple((float(a), int(b)) for a, b in zip(t[keep] - t[0], counts[keep], strict=True))


CHAIN = "ingest:chain"  # a telemetry batch through the stream's consumer to the leaderboard


def ingest_source(service: str) -> str:
    """The name of the source of the ingest flows the routes leave at `service` (a stream's
    records, a database's persistence writes)."""
    return f"ingest:{service}"


def chain_path(compiled: Any) -> tuple[tuple[str, float], ...]:
    """The hops a telemetry batch takes after its route: the stream's processor, then the
    leaderboard store (each once; empty when the architecture has neither)."""
    ingest, names = compiled.ingest, compiled.services
    hops = [n for n in dict.fromkeys((ingest.processor, ingest.store)) if n in names]
    return tuple((n, 1.0) for n in hops)


def _ingest_sources(
    compiled: Any, routed: dict[str, np.ndarray], *, riders_persist: bool
) -> list[SourceModel]:
    """A source per service for what its offered load has beyond `routed` (the routes and the
    chain). With `riders_persist`, what is left at the persistence target is the devices'
    metrics, written while each device rides (`twin.sim.exact.riders`), not a Poisson stream."""
    t, out = compiled.t, []
    for service, spec in compiled.services.items():
        extra = spec.arrivals - routed[service]
        if float(extra.max()) > 1e-6 * max(float(spec.arrivals.max()), 1.0):
            sched = schedule_of(t, np.where(extra > 1e-9, extra, 0.0))
            driven = riders_persist and service == compiled.ingest.persist
            out.append(SourceModel(ingest_source(service), sched, service, ((service, 1.0),),
                                   driven=driven))  # fmt: skip
    return out


def _gate(name: str, spec: Any, compiled: Any) -> dict[str, Any]:
    """A service kind's own rate limit as a gate: a database's write capacity for the types
    that write there (and the persistence flow), a stream's records/s and bytes/s limit for
    every record; a tick's worth passes at once, as the fluid engine drains per tick."""
    if spec.write_capacity_per_s is not None:
        persists = compiled.ingest.persist == name
        sources = (*spec.writers, ingest_source(name)) if persists else spec.writers
        return {
            "gate_rate": spec.write_capacity_per_s,
            "gate_sources": tuple(sources),
            "gate_burst_s": float(compiled.tick_s),
            **_cap(spec, compiled),
        }
    if spec.records_capacity_per_s is not None:
        rate = record_rate(spec, compiled)
        visiting = [t for t, hops in compiled.visits.items() if any(h == name for h, _ in hops)]
        return {
            "gate_rate": rate,
            "gate_sources": (*visiting, ingest_source(name)),
            "gate_burst_s": float(compiled.tick_s),
            **_cap(spec, compiled),
        }
    return {}


def _cap(spec: Any, compiled: Any) -> dict[str, Any]:
    """The kind's cap in servers' worth per tick, as the station's capacity reads it."""
    cap = request_cap(spec, compiled)
    if cap is None:
        return {}
    mean = float((spec.own_service or spec.service).mean)
    return {"cap_servers": np.asarray(cap, dtype=float) * mean,
            "cap_tick_s": float(compiled.tick_s)}  # fmt: skip


def _pool(spec: Any, compiled: Any) -> PoolModel | None:
    """A service's connection pool to a database of the platform (None without one)."""
    pool = spec.connection_pool
    if pool is None or pool.to not in compiled.services:
        return None
    return PoolModel(
        to=pool.to,
        size_per_instance=pool.size_per_instance,
        servers_per_instance=int(spec.servers_per_instance),
        acquire_timeout_s=pool.acquire_timeout_s,
    )


def _scaling(spec: Any, tick_s: float) -> Scaling | None:
    """A service's reactive autoscaling (None without: its servers follow the compile's)."""
    if spec.autoscaling is None:
        return None
    return Scaling(
        policy=spec.autoscaling,
        initial=float(spec.instances[0]),
        per_instance=int(spec.servers_per_instance),
        up=np.asarray(spec.up, dtype=float),
        tick_s=tick_s,
    )


def _untimed(hops: Any, timers: Any) -> tuple[tuple[str, float], ...]:
    """A route without the stations only requests sent on their own cross (`timers`)."""
    return tuple((hop, share) for hop, share in hops if hop not in timers) or tuple(hops)


def _type_sources(compiled: Any, rtype: str, hops: Any, riders: bool) -> list[SourceModel]:
    """The source of one request type along its route. A type some of whose requests are
    sent right behind a response (`compiled.awake`, a share strictly between 0 and 1) is two
    sources of its name: those, which find every waking station awake and skip the
    `compiled.timers`, and the others, sent on their own (a timer's), which cross the whole
    route and may find a station asleep. One draw decides both for a request, as the drill's
    journey does (a live player's reload waits for its timer and may find the server asleep;
    an on-demand session's playlist, right behind its master, does neither)."""
    t = compiled.t
    bursts = () if riders else tuple(compiled.bursts.get(rtype, ()))
    rate = spread_rate(t, float(compiled.tick_s), compiled.demand[rtype], bursts)
    rank = list(compiled.bursts).index(rtype) if bursts else 0
    awake = float(compiled.awake.get(rtype, 0.0))
    behind = _untimed(hops, getattr(compiled, "timers", ()))
    if riders or not 0.0 < awake < 1.0:
        path = behind if awake >= 1.0 and not riders else tuple(hops)
        return [SourceModel(rtype, schedule_of(t, rate), path[0][0], path, driven=riders,
                            bursts=bursts, burst_rank=rank, awake=awake)]  # fmt: skip
    return [
        SourceModel(rtype, schedule_of(t, rate * share), path[0][0], path,
                    bursts=tuple((at, mean * share) for at, mean in bursts), burst_rank=rank,
                    awake=1.0 if part != rtype else 0.0, stream=part)
        for part, share, path in ((rtype, 1.0 - awake, tuple(hops)),
                                  (f"{rtype}:behind", awake, behind))
    ]  # fmt: skip


def from_platform(
    compiled: Any, name: str, seed: int, interval_s: float, *, riders: bool = False
) -> ExactModel:
    """The model of a compiled platform: a source per request type along its route, plus a
    source per service for the ingest flows the compile adds beyond the routes (stream
    processing, leaderboard writes, persistence), so every service sees its offered load.
    A request type with its own service time at a service (`service_by_request`) draws it
    there; the other types and the ingest flows draw the service's own (not the mixture).

    A type only some of whose requests are sent right behind a response is two sources of
    its name (`_type_sources`).

    With `riders`, the request types are driven by riders (twin.sim.exact.riders) and each
    telemetry batch goes on through `chain_path` as a driven source of its own, so the
    ingest sources keep only what is left: persistence, which the riding devices drive too
    (a device's metrics are written every `Journey.persist_s` while it rides, so riders who
    never joined or lost the class write none, as in the fluid engine's `Riding`)."""
    t = compiled.t
    stations = tuple(
        StationModel(
            name=service,
            servers=max(round(float(spec.servers[0])), 0),
            service=spec.own_service or spec.service,
            queue_capacity=spec.queue_capacity,
            servers_schedule=() if spec.autoscaling else _servers_schedule(t, spec.servers),
            service_by_source=tuple(spec.service_by_request.items()),
            timeout_s=spec.timeout_s if riders else None,
            wake=spec.wake,
            scaling=_scaling(spec, float(compiled.tick_s)),
            pool=_pool(spec, compiled) if riders else None,
            **(_gate(service, spec, compiled) if riders else {}),
        )
        for service, spec in compiled.services.items()
    )
    routed = {name: np.zeros_like(t, dtype=float) for name in compiled.services}
    sources = []
    for rtype, hops in compiled.visits.items():
        for hop, share in hops:
            routed[hop] += compiled.demand[rtype] * share
        sources += _type_sources(compiled, rtype, hops, riders)
    chain = chain_path(compiled) if riders else ()
    if chain:
        for hop, _ in chain:
            routed[hop] += compiled.telemetry_records_per_s
        schedule = schedule_of(t, compiled.telemetry_records_per_s)
        sources.append(SourceModel(CHAIN, schedule, chain[0][0], chain, driven=True))
    sources += _ingest_sources(compiled, routed, riders_persist=bool(chain))
    return ExactModel(
        name=name,
        kind="platform",
        duration_s=float(len(t) * compiled.tick_s),
        interval_s=interval_s,
        warmup_s=0.0,
        seed=seed,
        stations=stations,
        sources=tuple(sources),
    )
