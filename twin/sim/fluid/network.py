"""The fluid engine on a bare network (`kind: network`): flows, laws, records.

One SimPy environment holds a process per source (delivering its expected arrivals per
tick) and a process per station (serving them, routing completions on). The flows are
deterministic, so they are computed once; replications differ only in their probe requests.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import simpy

from twin.config.network import EXIT, NetworkScenario
from twin.rng import component_rng
from twin.sim.fluid.collect import station_record
from twin.sim.fluid.flow import (
    FluidStation,
    TickLog,
    progress_process,
    source_process,
    station_process,
    tick_counts,
)
from twin.sim.fluid.latency import StationTicks, station_ticks
from twin.sim.fluid.probes import ProbeNetwork, probe_source
from twin.sim.fluid.service import ServiceShape
from twin.sim.records import Grid, ReplicationRecord

__all__ = ["NetworkFlows", "network_flows", "network_replication"]

Progress = Callable[[float], None]


class NetworkFlows:
    """The solved flows of a network scenario: per-station tick laws and source counts."""

    def __init__(self, scenario: NetworkScenario, ticks: int, tick_s: float) -> None:
        spec = scenario.network
        self.names = list(spec.stations)
        self.index = {name: i for i, name in enumerate(self.names)}
        self.tick_s, self.ticks = tick_s, ticks
        self.shapes = [ServiceShape.of(st.service) for st in spec.stations.values()]
        self.counts = {
            s.name: tick_counts(s.rate_per_s.points, ticks, tick_s) for s in spec.sources
        }
        self.entry = {s.name: self.index[s.to] for s in spec.sources}
        self.routing = self._routing(scenario)
        self.laws: list[StationTicks] = []
        self.logs: list[TickLog] = []

    def _routing(self, scenario: NetworkScenario) -> np.ndarray:
        n = len(self.names)
        routing = np.zeros((n, n + 1))
        for name, st in scenario.network.stations.items():
            for target, share in st.routes.items():
                routing[self.index[name], n if target == EXIT else self.index[target]] += share
        return routing


def network_flows(
    scenario: NetworkScenario, ticks: int, tick_s: float, progress: Progress | None = None
) -> NetworkFlows:
    """Run the SimPy tick processes and derive every station's per-tick law."""
    flows = NetworkFlows(scenario, ticks, tick_s)
    env = simpy.Environment()
    stations = [
        FluidStation(
            ticks=ticks,
            tick_s=tick_s,
            mean_s=st.service.mean,
            queue_capacity=st.queue_capacity,
            servers=_constant(float(st.servers)),
        )
        for st in scenario.network.stations.values()
    ]
    n = len(stations)
    for i, station in enumerate(stations):
        station.outputs = [
            (stations[j], flows.routing[i, j]) for j in range(n) if flows.routing[i, j] > 0
        ]
    for name, counts in flows.counts.items():
        env.process(source_process(env, counts, tick_s, stations[flows.entry[name]].receive))
    for station in stations:
        env.process(station_process(env, station, ticks))
    if progress is not None:
        env.process(progress_process(env, ticks, tick_s, progress))
    env.run()
    flows.logs = [s.log for s in stations]
    flows.laws = [
        station_ticks(s.log, shape, tick_s, st.queue_capacity)
        for s, shape, st in zip(
            stations, flows.shapes, scenario.network.stations.values(), strict=True
        )
    ]
    return flows


def _constant(servers: float) -> Callable[[int], float]:
    return lambda _k: servers


def network_replication(
    scenario: NetworkScenario, flows: NetworkFlows, grid: Grid, *, seed: int, replication: int
) -> ReplicationRecord:
    """One replication's records: station records from the flows, sources from fresh probes."""
    stations = {
        name: station_record(law, shape, grid, flows.tick_s)
        for name, law, shape in zip(flows.names, flows.laws, flows.shapes, strict=True)
    }
    probe_rng = component_rng(seed, "probe-service", replication=replication)
    samplers = [_sampler(shape, probe_rng) for shape in flows.shapes]
    net = ProbeNetwork.of(flows.laws, flows.routing, samplers, flows.tick_s)
    sources = {
        name: probe_source(
            net,
            flows.entry[name],
            counts,
            grid,
            component_rng(seed, "probe", name, replication=replication),
        )
        for name, counts in flows.counts.items()
    }
    return ReplicationRecord(grid=grid, stations=stations, sources=sources)


def _sampler(
    shape: ServiceShape, rng: np.random.Generator
) -> Callable[[np.random.Generator, int], np.ndarray]:
    draw = shape.sampler(rng)
    return lambda _rng, n: draw(n)
