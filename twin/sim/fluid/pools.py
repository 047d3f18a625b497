"""Connection pools in the fluid engine: a service's connections to a database as a station.

A request going on from a service X to a database D holds one of X's connections for its
whole stay at D (`twin.sim.exact.pool` in the exact engine). As counts per tick, the pool is a
station in front of D whose "servers" are the connections and whose service time is the stay
at D: size_per_instance x X's instances (after incidents and autoscaling) connections, each
held for D's mean service time plus its backlog delay (smoothed over `SMOOTHING_S`). It drains
connections / hold requests a second; what it cannot take waits, up to the pool's
`acquire_timeout_s`, and the rest fail (a fluid queue's abandonment, as a station's timeout).
Its latency law is the wait for a connection alone: its probes draw no service time (the stay
at D is D's own hop). Pools are not services: they appear in no service table, and their
wait and failures count in the request types that pass through them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twin.sim.fluid.flow import FluidStation

__all__ = ["Pool", "pool_stations", "with_pools"]


@dataclass
class Pool:
    """The pool of service `service` to database `database`, and its station."""

    service: str
    database: str
    station: FluidStation

    @property
    def name(self) -> str:
        return f"pool:{self.service}>{self.database}"


def _connections(spec: Any, instances: Callable[[int], float]) -> Callable[[int], float]:
    size = float(spec.connection_pool.size_per_instance)
    return lambda k: size * instances(k)


SMOOTHING_S = 10.0  # the hold time follows the database's delay over about this long


def _hold(db: FluidStation, mean_s: float, tick_s: float) -> Callable[[int], float]:
    """Seconds a connection is held at tick k: the database's service time plus the delay
    behind its backlog, smoothed over `SMOOTHING_S` (the delay of the tick before alone
    feeds back at once into what the pool lets through, and the two swing)."""
    alpha = min(tick_s / SMOOTHING_S, 1.0)
    state = {"k": 0, "delay": 0.0}

    def hold(k: int) -> float:
        while state["k"] < k:
            j = state["k"]
            log = db.log
            capacity = float(log.servers[j]) * db.rate
            backlog = float(log.backlog[j])
            delay = 0.0 if backlog <= 0 else (backlog / capacity if capacity > 0 else 3600.0)
            state["delay"] += alpha * (delay - state["delay"])
            state["k"] = j + 1
        return mean_s + state["delay"]

    return hold


def pool_stations(
    compiled: Any,
    stations: dict[str, FluidStation],
    instances: dict[str, Callable[[int], float]],
) -> list[Pool]:
    """A pool station per service with a connection pool to one of the platform's databases.

    `instances[name](k)` is the service's instances serving at tick k."""
    ticks, tick_s = len(compiled.t), float(compiled.tick_s)
    pools = []
    for name, spec in compiled.services.items():
        pool = spec.connection_pool
        if pool is None or pool.to not in stations:
            continue
        mean_s = float(compiled.services[pool.to].service.mean)
        connections = _connections(spec, instances[name])
        hold = _hold(stations[pool.to], mean_s, tick_s)

        def servers(k: int, connections=connections, hold=hold, mean_s=mean_s) -> float:
            return connections(k) * mean_s / hold(k)

        station = FluidStation(
            ticks=ticks,
            tick_s=tick_s,
            mean_s=mean_s,
            queue_capacity=None,
            servers=servers,
            timeout_s=float(pool.acquire_timeout_s),
        )
        station.passes_served = True  # the database gets what the pool lets through
        pools.append(Pool(name, pool.to, station))
    return pools


def with_pools(hops: list[tuple[str, float]], pools: list[Pool]) -> list[tuple[str | Pool, float]]:
    """A route's hops with the pool between a service and the database it connects to."""
    by_pair = {(p.service, p.database): p for p in pools}
    out: list[tuple[str | Pool, float]] = []
    previous = None
    for hop, share in hops:
        pool = by_pair.get((previous, hop)) if previous is not None else None
        if pool is not None:
            out.append((pool, share))
        out.append((hop, share))
        previous = hop
    return out
