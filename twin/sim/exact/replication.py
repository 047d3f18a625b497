"""One replication of the exact engine: build the network in a fresh SimPy environment, run it,
and copy each statistics slice into a `ReplicationRecord` as the clock passes its boundary."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import simpy

from twin.config.network import NetworkScenario
from twin.sim.distributions import service_sampler
from twin.sim.exact.routing import EXIT_INDEX, router
from twin.sim.exact.source import poisson_source
from twin.sim.exact.station import Request, Station
from twin.sim.records import Grid, ReplicationRecord, SourceRecord, StationRecord
from twin.sim.rng import component_rng
from twin.sim.sketch import histogram_of

__all__ = ["run_replication"]


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


class _Network:
    """Stations and sources wired together for one replication."""

    def __init__(self, env: simpy.Environment, scenario: NetworkScenario, seed: int, rep: int):
        self.env = env
        spec = scenario.network
        names = list(spec.stations)
        index = {name: i for i, name in enumerate(names)}
        self.names = names
        self.sources = [_SourceStats() for _ in spec.sources]
        self.stations = [
            Station(
                env,
                servers=st.servers,
                sampler=service_sampler(
                    st.service, component_rng(seed, "service", n, replication=rep)
                ),
                queue_capacity=st.queue_capacity,
                route=router(st.routes, index, component_rng(seed, "route", n, replication=rep)),
                on_leave=self.leave,
            )
            for n, st in spec.stations.items()
        ]
        for i, src in enumerate(spec.sources):
            rng = component_rng(seed, "source", src.name, replication=rep)
            env.process(poisson_source(env, src.rate_per_s, rng, self._emitter(i, index[src.to])))

    def _emitter(self, source: int, entry: int) -> Callable[[], None]:
        stats, station, env = self.sources[source], self.stations[entry], self.env

        def emit() -> None:
            stats.arrivals += 1
            now = env.now
            station.arrive([source, now, now])

        return emit

    def leave(self, request: Request, target: int) -> None:
        if target >= 0:
            self.stations[target].arrive(request)
            return
        stats = self.sources[request[0]]
        if target == EXIT_INDEX:
            latency = self.env.now - request[1]
            stats.completed += 1
            stats.latency_sum += latency
            stats.latencies.append(latency)
        else:
            stats.errors += 1


def _clock(
    env: simpy.Environment,
    net: _Network,
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
        for stats, name in zip(net.sources, record.sources, strict=True):
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


def run_replication(
    scenario: NetworkScenario,
    grid: Grid,
    *,
    seed: int,
    replication: int,
    progress: Callable[[float], None] | None = None,
) -> ReplicationRecord:
    """Simulate one replication of `scenario` and return what it measured."""
    env = simpy.Environment()
    net = _Network(env, scenario, seed, replication)
    record = ReplicationRecord(
        grid=grid,
        stations={
            n: StationRecord.empty(grid, st.servers) for n, st in scenario.network.stations.items()
        },
        sources={src.name: SourceRecord.empty(grid) for src in scenario.network.sources},
    )
    for rec in record.stations.values():
        rec.capacity_area[:] = rec.servers * grid.width_s
    env.process(_clock(env, net, record, progress))
    env.run(until=grid.duration_s + grid.fine_width_s * 1e-6)
    return record
