"""One replication of the exact engine: build the model in a fresh SimPy environment, run it,
and copy each statistics slice into a `ReplicationRecord` as the clock passes its boundary.

A station draws service times from one sampler on its own stream; a station with per-source
times (a platform's request types with their own service there) adds a sampler per such
source, all on that same stream, and picks by the request's source."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Generator
from typing import Any

import simpy

from twin.rng import component_rng
from twin.sim.autoscaling import Autoscaler
from twin.sim.distributions import BlockSampler, service_sampler
from twin.sim.exact.autoscale import scaler_process
from twin.sim.exact.gate import RateGate
from twin.sim.exact.model import ExactModel, SourceModel, StationModel
from twin.sim.exact.pool import ConnectionPool
from twin.sim.exact.routing import EXIT_INDEX, router
from twin.sim.exact.source import burst_source, poisson_source
from twin.sim.exact.station import DROPPED, MulticlassStation, Request, Station
from twin.sim.records import Grid, ReplicationRecord, SourceRecord, StationRecord
from twin.sim.sketch import histogram_of

__all__ = ["Network", "clock_process", "empty_record", "run_replication"]

# Told when a driven source's request is answered (True) or lost (False): request[4] is the
# sender's own token.
Settle = Callable[[Request, bool], None]


class _SourceStats:
    """Running end-to-end counters of one source for the current slice."""

    def __init__(self) -> None:
        self.reset_counters()

    def reset_counters(self) -> None:
        self.arrivals = 0
        self.completed = 0
        self.errors = 0
        self.latency_sum = 0.0
        self.latencies: list[float] = []


class _Path:
    """A source's fixed path: station indices and the chance of going on after each hop."""

    def __init__(self, source: SourceModel, index: dict[str, int], rng: Any) -> None:
        self.stations = [index[name] for name, _ in source.path]
        shares = [share for _, share in source.path]
        self.go_on = [b / a if a > 0 else 0.0 for a, b in itertools.pairwise(shares)]
        self.uniform = BlockSampler(lambda n: rng.random(n))


def _continue(request: Request, ok: bool) -> None:
    request[4](ok)


class Network:
    """Stations and sources wired together for one replication.

    Poisson sources start arriving at once; a driven source's requests come from `emit(i)`,
    and `settle`, when given, hears how each of them ended."""

    def __init__(
        self, env: simpy.Environment, model: ExactModel, rep: int, settle: Settle | None = None
    ) -> None:
        self.env = env
        self.model = model
        # without riders, a request's token is what to do when it ends (`burst_source`)
        self.settle = settle if settle is not None else _continue
        seed = model.seed
        index = {st.name: i for i, st in enumerate(model.stations)}
        self.names = [st.name for st in model.stations]
        # the parts of one request type (`SourceModel.stream`) count as one source
        self.by_name: dict[str, _SourceStats] = {}
        self.sources = [self.by_name.setdefault(src.name, _SourceStats()) for src in model.sources]
        self.stations = [
            self._station(
                st, i, component_rng(seed, "service", st.name, replication=rep), model.sources
            )
            for i, st in enumerate(model.stations)
        ]
        self.arrivers = [
            self._arriver(st, station, index)
            for st, station in zip(model.stations, self.stations, strict=True)
        ]
        self.routers = [
            router(dict(st.routes), index, component_rng(seed, "route", st.name, replication=rep))
            for st in model.stations
        ]
        self.paths: list[_Path | None] = [
            _Path(src, index, component_rng(seed, "path", src.stream or src.name, replication=rep))
            if src.path
            else None
            for src in model.sources
        ]
        self.held: dict[int, ConnectionPool] = {}  # requests holding a connection, by id
        self.pools = self._pools(index)
        self.emit = [self._emitter(i, index[src.entry]) for i, src in enumerate(model.sources)]
        for i, src in enumerate(model.sources):
            if src.driven:
                continue
            rng = component_rng(seed, "source", src.stream or src.name, replication=rep)
            env.process(poisson_source(env, src.schedule, rng, self.emit[i]))
        self._bursts(rep)
        self.scalers: dict[str, Autoscaler] = {}
        for st, station in zip(model.stations, self.stations, strict=True):
            if st.scaling is not None:
                self.scalers[st.name] = st.scaling.scaler()
                env.process(scaler_process(env, station, st.scaling, self.scalers[st.name]))
            elif st.servers_schedule:
                env.process(_server_changes(env, station, st.servers_schedule))

    def _bursts(self, rep: int) -> None:
        """One process sends every source's bursts, as riders who send a burst's types one
        after another in the sources' burst order (a ride's save, its rating, the next
        session's app open, its join)."""
        sources = self.model.sources
        by_time: dict[float, dict[tuple[int, int], float]] = {}
        for i, src in enumerate(sources):
            for at, mean in src.bursts:  # two bursts of a source at one instant: one step
                steps = by_time.setdefault(at, {})
                steps[(src.burst_rank, i)] = steps.get((src.burst_rank, i), 0.0) + mean
        if not by_time:
            return
        instants = [(at, [(i, mean) for (_, i), mean in sorted(steps.items())])
                    for at, steps in sorted(by_time.items())]  # fmt: skip
        rng = component_rng(self.model.seed, "burst", "riders", replication=rep)
        self.env.process(burst_source(self.env, instants, rng, self.emit))

    def _station(
        self, st: StationModel, i: int, rng: Any, sources: tuple[SourceModel, ...]
    ) -> Station:
        sampler = service_sampler(st.service, rng)
        if not st.service_by_source:
            return Station(
                self.env,
                servers=st.servers,
                sampler=sampler,
                queue_capacity=st.queue_capacity,
                index=i,
                on_leave=self.leave,
                timeout_s=st.timeout_s,
                wake=st.wake,
                awake=_awake(st, sources),
                rng=rng,
            )
        own = {name: service_sampler(service, rng) for name, service in st.service_by_source}
        return MulticlassStation(
            self.env,
            servers=st.servers,
            sampler=sampler,
            draws=[own.get(src.name, sampler).draw for src in sources],
            queue_capacity=st.queue_capacity,
            index=i,
            on_leave=self.leave,
            timeout_s=st.timeout_s,
            wake=st.wake,
            awake=_awake(st, sources),
            rng=rng,
        )

    def _pools(self, index: dict[str, int]) -> dict[tuple[int, int], ConnectionPool]:
        """The connection pools, by (service, database) station indices."""
        pools = {}
        for i, st in enumerate(self.model.stations):
            if st.pool is None or st.pool.to not in index:
                continue
            to = index[st.pool.to]
            pools[(i, to)] = ConnectionPool(
                self.env,
                service=self.stations[i],
                servers_per_instance=st.pool.servers_per_instance,
                size_per_instance=st.pool.size_per_instance,
                acquire_timeout_s=st.pool.acquire_timeout_s,
                enter=self.arrivers[to],
                on_leave=self.leave,
                held=self.held,
            )
        return pools

    def _arriver(
        self, st: StationModel, station: Station, index: dict[str, int]
    ) -> Callable[[Request], None]:
        """How a request arrives at `station`: straight in, or through its rate gate."""
        if st.gate_rate is None:
            return station.arrive
        sources = frozenset(
            i for i, s in enumerate(self.model.sources) if s.name in st.gate_sources
        )
        gate = RateGate(
            self.env,
            station,
            rate=st.gate_rate,
            tick_s=self.model.duration_s / max(len(st.gate_rate), 1),
            sources=sources,
            timeout_s=st.timeout_s,
            on_leave=self.leave,
            burst_s=st.gate_burst_s,
        )

        def arrive(request: Request) -> None:
            if request[0] in sources:
                gate.arrive(request)
            else:
                station.arrive(request)

        return arrive

    def _emitter(self, source: int, entry: int) -> Callable[..., None]:
        stats, arrive, env = self.sources[source], self.arrivers[entry], self.env

        def emit(token: Any = None) -> None:
            stats.arrivals += 1
            now = env.now
            arrive([source, now, now, 0] if token is None else [source, now, now, 0, token])

        return emit

    def leave(self, request: Request, station: int) -> None:
        if self.held:
            pool = self.held.pop(id(request), None)
            if pool is not None:  # it leaves the database: the connection goes back
                pool.release()
        if station == DROPPED:
            self.sources[request[0]].errors += 1
            if len(request) > 4 and self.settle is not None:
                self.settle(request, False)
            return
        path = self.paths[request[0]]
        target = self.routers[station]() if path is None else self._along(path, request)
        if target >= 0:
            pool = self.pools.get((station, target)) if self.pools else None
            if pool is None:
                self.arrivers[target](request)
            else:
                pool.acquire(request)
            return
        stats = self.sources[request[0]]
        latency = self.env.now - request[1]
        stats.completed += 1
        stats.latency_sum += latency
        stats.latencies.append(latency)
        if len(request) > 4 and self.settle is not None:
            self.settle(request, True)

    @staticmethod
    def _along(path: _Path, request: Request) -> int:
        hop = request[3]
        if hop >= len(path.go_on) or path.uniform.draw() >= path.go_on[hop]:
            return EXIT_INDEX
        request[3] = hop + 1
        return path.stations[hop + 1]


def _server_changes(
    env: simpy.Environment, station: Station, schedule: tuple[tuple[float, int], ...]
) -> Generator[simpy.Event, Any, None]:
    """Apply a station's scheduled server counts at their times."""
    for t, servers in schedule:
        if t > env.now:
            yield env.timeout(t - env.now)
        station.set_servers(servers)


def clock_process(
    env: simpy.Environment,
    net: Network,
    record: ReplicationRecord,
    progress: Callable[[float], None] | None,
) -> Generator[simpy.Event, Any, None]:
    """At every fine boundary, move the slice's counters into the record."""
    grid = record.grid
    for k in range(1, grid.n * grid.fine + 1):
        yield env.timeout(k * grid.fine_width_s - env.now)
        interval = (k - 1) // grid.fine
        for name, station in zip(net.names, net.stations, strict=True):
            _flush_station(station, record.stations[name], k - 1, interval, env.now)
            if k % grid.fine == 0:
                record.stations[name].in_system[interval + 1] = station.in_system
        for name, stats in net.by_name.items():
            _flush_source(stats, record.sources[name], k - 1, interval)
        if progress is not None:
            progress(grid.fine_width_s)


def _flush_station(st: Station, rec: StationRecord, fine: int, i: int, now: float) -> None:
    st.advance(now)
    rec.fine_completed[fine] = st.completed
    rec.fine_latency_sum[fine] = st.latency_sum
    rec.arrivals[i] += st.arrivals
    rec.completed[i] += st.completed
    rec.dropped[i] += st.dropped
    rec.wait_sum[i] += st.wait_sum
    rec.latency_sum[i] += st.latency_sum
    rec.queue_area[i] += st.queue_area
    rec.busy_area[i] += st.busy_area
    rec.system_area[i] += st.queue_area + st.busy_area
    if st.latencies:
        rec.latency_hist[i] += histogram_of(st.latencies)
    st.reset_counters()


def _flush_source(stats: _SourceStats, rec: SourceRecord, fine: int, i: int) -> None:
    rec.fine_completed[fine] = stats.completed
    rec.fine_latency_sum[fine] = stats.latency_sum
    rec.arrivals[i] += stats.arrivals
    rec.completed[i] += stats.completed
    rec.errors[i] += stats.errors
    rec.latency_sum[i] += stats.latency_sum
    if stats.latencies:
        rec.latency_hist[i] += histogram_of(stats.latencies)
    stats.reset_counters()


def empty_record(model: ExactModel, grid: Grid) -> ReplicationRecord:
    record = ReplicationRecord(
        grid=grid,
        stations={st.name: StationRecord.empty(grid, st.servers) for st in model.stations},
        sources={src.name: SourceRecord.empty(grid) for src in model.sources},
    )
    for st in model.stations:
        rec = record.stations[st.name]
        for i in range(grid.n):
            rec.capacity_area[i] = st.capacity_area(i * grid.width_s, (i + 1) * grid.width_s)
    return record


def run_replication(
    model: ExactModel,
    grid: Grid,
    *,
    replication: int,
    progress: Callable[[float], None] | None = None,
) -> ReplicationRecord:
    """Simulate one replication of `model` and return what it measured."""
    env = simpy.Environment()
    net = Network(env, model, replication)
    record = empty_record(model, grid)
    env.process(clock_process(env, net, record, progress))
    env.run(until=grid.duration_s + grid.fine_width_s * 1e-6)
    return record


def _awake(st: StationModel, sources: tuple[SourceModel, ...]) -> list[float] | None:
    """Each source's share of requests that find a waking station awake (None: no wake)."""
    if st.wake is None or not any(src.awake for src in sources):
        return None
    return [src.awake for src in sources]
