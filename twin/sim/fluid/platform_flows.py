"""A compiled platform's flows (twin.runs.compile.CompiledPlatform), solved tick by tick.

One SimPy environment: a client process per request type delivering its attempts (first
tries and retries, twin.sim.fluid.clients) to every service its route visits (the share that
reaches each hop: after a CDN only the misses), one for the ingest flows that follow the
stream (processor, leaderboard store, database persistence: what the compile adds beyond
the routes), an autoscaler process per
service that scales reactively, and a process per service. A service drains at its servers'
rate, capped where its kind has a harder limit: a stream at its shards' records/s and
bytes/s, a database at its write capacity for the share of its requests that write. Requests
that would wait past a service's timeout give up (they are errors); a finite queue drops.
Offered loads are the compile's, so a hop downstream of a failing one still sees the
offered load: a conservative reading for the downstream service. Where request types have
their own service times (`service_by_request`), a service drains and queues with the mixture
the compile weighs from the offered load (the shared FIFO wait); a type's probes draw its own
service time there (twin.sim.fluid.platform).

`platform_flows` returns the solution, `PlatformFlows`: each service's tick law and instances.
What reads it: the run (twin.sim.fluid.platform) and the riders' experience
(twin.sim.fluid.experience), both through `probe_network` and the time series' row width,
`report_interval`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from functools import partial
from typing import Any

import numpy as np
import simpy

from twin.rng import component_rng
from twin.sim.autoscaling import Autoscaler
from twin.sim.caps import request_cap
from twin.sim.fluid.autoscale import autoscaler_process
from twin.sim.fluid.clients import FluidClient, client_process
from twin.sim.fluid.flow import FluidStation, progress_process, station_process
from twin.sim.fluid.latency import StationTicks, station_ticks
from twin.sim.fluid.pools import Pool, pool_stations, waiting_bound, with_pools
from twin.sim.fluid.probes import ProbeNetwork
from twin.sim.fluid.reconnects import Reconnects, reconnect_process
from twin.sim.fluid.riding import RIDING, Riding
from twin.sim.fluid.service import ServiceShape
from twin.sim.platform_input import origin_up

__all__ = ["PlatformFlows", "drawn_sampler", "platform_flows", "probe_network", "report_interval"]

INTERVAL_S = 60.0  # one timeseries row per simulated minute...
MAX_INTERVALS = 720  # ...or per whole minutes when that keeps a long run within 720 rows


class PlatformFlows:
    """The solved platform: per-service tick laws, instances and the route structure."""

    def __init__(self, compiled: Any) -> None:
        self.compiled = compiled
        self.names = list(compiled.services)
        self.index = {n: i for i, n in enumerate(self.names)}
        self.tick_s = float(compiled.tick_s)
        self.ticks = len(compiled.t)
        self.shapes = [ServiceShape.of(s.service) for s in compiled.services.values()]
        self.laws: list[StationTicks] = []
        self.instances: dict[str, np.ndarray] = {}
        # Filled by twin.sim.fluid.experience for the time series: lag probes
        # (birth time, lag, weight), riders with degraded video per tick and whether the
        # leaderboard was stale at each tick.
        self.lag_probes: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.degraded_riders = np.zeros(self.ticks)
        self.stale = np.zeros(self.ticks, bool)
        # Each request type's clients: attempts, retries and give-ups per tick.
        self.clients: dict[str, FluidClient] = {}
        # Riders out of the offered load after giving up (None without session flows), and
        # the players who drop the stream and join again.
        self.riding: Riding | None = None
        self.reconnects: Reconnects | None = None
        # Connection pools (twin.sim.fluid.pools) and their laws: probe stations after the
        # services (index len(names) + j), in no service table.
        self.pools: list[Pool] = []
        self.pool_laws: list[StationTicks] = []

    def probe_hops(self, hops: list[tuple[str, float]]) -> list[tuple[int, float]]:
        """A route as probe-network indices, with the pools between services and databases."""
        out = []
        for hop, share in with_pools(hops, self.pools):
            if isinstance(hop, str):
                out.append((self.index[hop], share))
            else:
                out.append((len(self.names) + self.pools.index(hop), share))
        return out

    @property
    def duration_s(self) -> float:
        return self.ticks * self.tick_s


def _drain(spec: Any, compiled: Any) -> Callable[[int, float], float] | None:
    """The kind's own cap on requests/s at tick k (`twin.sim.caps`), or None when servers
    are the only limit."""
    cap = request_cap(spec, compiled)
    if cap is None:
        return None
    return partial(_capped, cap)


def _capped(cap: np.ndarray, k: int, _servers: float) -> float:
    return float(cap[k])


def _instances(
    compiled: Any, scalers: dict[str, Autoscaler]
) -> dict[str, Callable[[int], float]]:
    """Each service's instances serving at tick k (its scaler's, or the compile's), times
    the share incidents leave up."""
    out: dict[str, Callable[[int], float]] = {}
    for name, spec in compiled.services.items():
        up = np.asarray(spec.up, dtype=float)
        if name in scalers:
            out[name] = partial(_scaled_up, scalers[name], up)
        else:
            out[name] = partial(_at, np.asarray(spec.instances, dtype=float) * up)
    return out


def _scaled_up(scaler: Autoscaler, up: np.ndarray, k: int) -> float:
    return scaler.in_service * float(up[k])


def _at(values: np.ndarray, k: int) -> float:
    return float(values[k])


def _fixed(servers: np.ndarray) -> Callable[[int], float]:
    values = servers.astype(float)
    return lambda k: float(values[k])


def _scaled(scaler: Autoscaler, spec: Any) -> Callable[[int], float]:
    per, up = spec.servers_per_instance, spec.up
    return lambda k: scaler.in_service * per * float(up[k])


def _station(
    spec: Any, compiled: Any, ticks: int, tick_s: float, scaler: Autoscaler | None
) -> FluidStation:
    count = _fixed(spec.servers) if scaler is None else _scaled(scaler, spec)
    return FluidStation(
        ticks=ticks,
        tick_s=tick_s,
        mean_s=spec.service.mean,
        queue_capacity=spec.queue_capacity,
        servers=count,
        drain=_drain(spec, compiled),
        timeout_s=spec.timeout_s,
    )


def chain_hops(compiled: Any) -> list[str]:
    """The services a telemetry batch visits after its route: the stream's processor, then
    the leaderboard store (each once), as the exact engine's `chain_path`."""
    ingest = compiled.ingest
    return [n for n in dict.fromkeys((ingest.processor, ingest.store)) if n in compiled.services]


def _ingest(compiled: Any, names: list[str]) -> list[tuple[str, np.ndarray]]:
    """(service, requests per tick) of the ingest flows the compile adds beyond the routes
    and the telemetry chain (`chain_process` sends that: what got through the route)."""
    tick = float(compiled.tick_s)
    routed = {n: np.zeros(len(compiled.t)) for n in names}
    for rtype, hops in compiled.visits.items():
        for hop, share in hops:
            routed[hop] += compiled.demand[rtype] * share
    if "telemetry" in compiled.visits:
        for hop in chain_hops(compiled):
            routed[hop] += compiled.telemetry_records_per_s
    return [
        (n, np.maximum(spec.arrivals - routed[n], 0.0) * tick)
        for n, spec in compiled.services.items()
        if np.any(spec.arrivals - routed[n] > 1e-9)
    ]


def chain_process(
    env: simpy.Environment,
    telemetry: FluidClient,
    hops: list[FluidStation],
    records_per_batch: np.ndarray,
    ticks: int,
    tick_s: float,
) -> Generator[simpy.Event, Any, None]:
    """At each tick, the records of the batches the telemetry route served the tick before go
    on through the chain's hops, a pool included (each hop gets what got through the ones
    before it)."""
    for k in range(1, ticks):
        yield env.timeout(k * tick_s - env.now)
        count = telemetry.through(k - 1) * float(records_per_batch[k - 1])
        for station in hops:
            if count <= 0:
                break
            station.receive(k, count)
            count *= station.passes(k - 1)


def request_source(
    env: simpy.Environment,
    legs: list[tuple[str, np.ndarray]],
    stations: dict[str, FluidStation],
    ticks: int,
    tick_s: float,
    riding: Riding | None = None,
) -> Generator[simpy.Event, Any, None]:
    """At each tick, deliver the ingest flows' requests to their services (of the riders
    still riding)."""
    for k in range(ticks):
        yield env.timeout(k * tick_s - env.now)
        keep = 1.0 if riding is None else riding.keep(k)
        for name, counts in legs:
            stations[name].receive(k, float(counts[k]) * keep)


def _legs(
    hops: list[tuple[str, float]], stations: dict[str, FluidStation], pools: list[Pool]
) -> list[tuple[FluidStation, float]]:
    """A route's stations, with the pool between a service and a database it connects to."""
    return [
        (stations[hop] if isinstance(hop, str) else hop.station, share)
        for hop, share in with_pools(hops, pools)
    ]


def _clients(
    compiled: Any,
    stations: dict[str, FluidStation],
    riding: Riding | None,
    pools: list[Pool],
) -> dict[str, FluidClient]:
    """A client per request type, sending its first attempts and its retries along its route;
    with `riding`, the riding riders' types send only for those still riding, and the
    riders who give up joining leave."""
    segment_s = compiled.journey.segment_s if compiled.journey is not None else 4.0
    clients = {
        rtype: FluidClient(
            rtype,
            compiled.demand[rtype] * float(compiled.tick_s),
            _legs(hops, stations, pools),
            compiled.clients,
            compiled.clients.timeout_for(rtype, segment_s),
            float(compiled.tick_s),
            waits_for=acknowledged_hops(compiled, hops, pools),
            keep=riding.keep if riding is not None and rtype in RIDING else None,
        )
        for rtype, hops in compiled.visits.items()
    }
    join = clients.get("join")
    if riding is not None and join is not None:
        join.on_give_up = partial(_gave_up_joining, riding, join)
    return clients


def _gave_up_joining(riding: Riding, join: FluidClient, k: int, count: float) -> None:
    """Riders who gave up joining at tick k leave what was left of the session they began
    trying to join (`FluidClient.first_tick`)."""
    riding.leave(k, count, started=join.first_tick(k))


def _reconnects(
    compiled: Any,
    clients: dict[str, FluidClient],
    stations: dict[str, FluidStation],
    riding: Riding | None,
) -> Reconnects | None:
    """The reconnect flows, where riders watch segments and join (None otherwise)."""
    if riding is None or "segment" not in clients or "join" not in clients:
        return None
    join = clients["join"]
    rejoin = FluidClient(
        "join",
        np.zeros(len(compiled.t)),
        join.legs,
        compiled.clients,
        join.timeout_s,
        float(compiled.tick_s),
        waits_for=len(join.waited),
    )
    reconnects = Reconnects(compiled, join, clients["segment"], rejoin, riding, origin_up(compiled))
    rejoin.on_give_up = reconnects.give_up
    return reconnects


def acknowledged_hops(
    compiled: Any, hops: list[tuple[str, float]], pools: list[Pool] | None = None
) -> int:
    """How many legs of a route (pools included) a client waits for: up to a stream, which
    takes the record and answers at once (the write and what follows are asynchronous)."""
    legs = with_pools(hops, pools or [])
    for i, (hop, _) in enumerate(legs):
        if isinstance(hop, str) and compiled.services[hop].records_capacity_per_s is not None:
            return i
    return len(legs)


def platform_flows(compiled: Any, progress: Callable[[float], None] | None = None) -> PlatformFlows:
    """Run the SimPy tick processes over a compiled platform and derive each service's law."""
    flows = PlatformFlows(compiled)
    ticks, tick_s = flows.ticks, flows.tick_s
    env = simpy.Environment()
    scalers = {
        n: Autoscaler(s.autoscaling, float(s.instances[0]), ticks, tick_s)
        for n, s in compiled.services.items()
        if s.autoscaling is not None
    }
    stations = {
        n: _station(s, compiled, ticks, tick_s, scalers.get(n))
        for n, s in compiled.services.items()
    }
    riding = None
    if compiled.session_flows is not None:
        riding = Riding(compiled.session_flows, compiled.active_riders)
    flows.riding = riding
    env.process(
        request_source(env, _ingest(compiled, flows.names), stations, ticks, tick_s, riding)
    )
    flows.pools = pool_stations(compiled, stations, _instances(compiled, scalers))
    flows.clients = _clients(compiled, stations, riding, flows.pools)
    telemetry = flows.clients.get("telemetry")
    if telemetry is not None and chain_hops(compiled):
        per_batch = compiled.telemetry_records_per_s / np.maximum(
            compiled.demand["telemetry"], 1e-12
        )
        chain = [(n, 1.0) for n in chain_hops(compiled)]
        hops = [station for station, _ in _legs(chain, stations, flows.pools)]
        env.process(chain_process(env, telemetry, hops, per_batch, ticks, tick_s))
    for client in flows.clients.values():
        env.process(client_process(env, client, ticks, tick_s))
    flows.reconnects = _reconnects(compiled, flows.clients, stations, riding)
    if flows.reconnects is not None:
        env.process(reconnect_process(env, flows.reconnects, ticks, tick_s))
    for n, scaler in scalers.items():
        env.process(autoscaler_process(env, scaler, stations[n], ticks))
    for station in [*stations.values(), *(p.station for p in flows.pools)]:
        env.process(station_process(env, station, ticks))
    if progress is not None:
        env.process(progress_process(env, ticks, tick_s, progress))
    env.run()
    flows.laws = [
        station_ticks(
            stations[n].log, shape, tick_s, compiled.services[n].queue_capacity,
            waiting_bound(n, stations[n].log, flows.pools), _wake(compiled, n),
        )
        for n, shape in zip(flows.names, flows.shapes, strict=True)
    ]  # fmt: skip
    flows.pool_laws = [
        station_ticks(p.station.log, ServiceShape.of(compiled.services[p.database].service), tick_s)
        for p in flows.pools
    ]
    flows.instances = {
        n: (scalers[n].instances if n in scalers else np.asarray(s.instances, dtype=float))
        for n, s in compiled.services.items()
    }
    return flows


def probe_network(flows: PlatformFlows, seed: int, replication: int) -> ProbeNetwork:
    """The services as a probe network: their tick laws and a service-time sampler each, drawn
    from this replication's `probe-service` stream. Every service routes to the exit: a probe's
    route is given to `probe_route` or `walk_route` (twin.sim.fluid.probes) instead."""
    rng = component_rng(seed, "probe-service", replication=replication)
    draws = [shape.sampler(rng) for shape in flows.shapes]
    samplers: list[Callable[..., Any]] = [partial(drawn_sampler, draw) for draw in draws]
    samplers += [_no_service for _ in flows.pools]  # a pool's wait alone
    laws = [*flows.laws, *flows.pool_laws]
    routing = np.zeros((len(laws), len(laws) + 1))
    routing[:, -1] = 1.0
    return ProbeNetwork.of(laws, routing, samplers, flows.tick_s)


def report_interval(duration_s: float) -> float:
    """Width of a timeseries row: a minute, or whole minutes past 720 rows (memory stays flat:
    every row holds a latency histogram per service and request type)."""
    if duration_s <= INTERVAL_S:
        return duration_s
    minutes = math.ceil(duration_s / (MAX_INTERVALS * INTERVAL_S))
    return minutes * INTERVAL_S


def drawn_sampler(draw: Callable[[int], np.ndarray], _rng: Any, n: int) -> np.ndarray:
    """A probe sampler from a service-time draw (the generator is the draw's own)."""
    return draw(n)


def _no_service(_rng: Any, n: int) -> np.ndarray:
    return np.zeros(n)


def _wake(compiled: Any, name: str) -> tuple[float, float] | None:
    """A station's wake-up (penalty, tau), its penalty lowered by the share of its requests
    that find it awake (`CompiledPlatform.awake`), weighted by each type's requests there."""
    wake = compiled.services[name].wake
    if wake is None or not compiled.awake:
        return wake
    total = awake = 0.0
    for rtype, hops in compiled.visits.items():
        for hop, share in hops:
            if hop == name:
                n = float(np.sum(compiled.demand[rtype])) * share
                total += n
                awake += n * compiled.awake.get(rtype, 0.0)
    return (wake[0] * (1.0 - awake / total), wake[1]) if total > 0 else wake
