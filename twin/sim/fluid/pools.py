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

import numpy as np

from twin.sim.fluid.flow import FluidStation

__all__ = ["Pool", "pool_stations", "waiting_bound", "with_pools"]


@dataclass
class Pool:
    """The pool of service `service` to database `database`, and its station."""

    service: str
    database: str
    station: FluidStation
    connections: np.ndarray  # per tick, filled as the station asks for its servers

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
    done, smoothed = [0], [0.0]  # ticks folded in so far, the smoothed delay

    def hold(k: int) -> float:
        while done[0] < k:
            j = done[0]
            log = db.log
            capacity = float(log.servers[j]) * db.rate
            backlog = float(log.backlog[j])
            delay = 0.0 if backlog <= 0 else (backlog / capacity if capacity > 0 else 3600.0)
            smoothed[0] += alpha * (delay - smoothed[0])
            done[0] = j + 1
        return mean_s + smoothed[0]

    return hold


class _Admission:
    """How much the pools in front of one database may let on to it per tick, together.

    Pools of K connections in front of c servers keep at most K - c requests waiting there
    (each holds a connection until it leaves). The hold time alone (`_hold`) steers the flow
    a step behind: the database's time constant (K / capacity, under a second) is shorter
    than the smoothing, so that loop swings (a backlog of 0 to 12 where 4 would stand). So
    each tick the pools together let on at most the database's capacity plus the gap between
    K - c and the backlog it is heading for (its backlog a tick ago, plus what the pools let
    on then, less what it serves), shared among the pools by their connections, a pool that
    wants less leaving the rest to the others (water filling).
    """

    def __init__(self, db: FluidStation, tick_s: float) -> None:
        self.db, self.tick_s = db, tick_s
        self.pools: list[tuple[FluidStation, Callable[[int], float]]] = []
        self._k, self._rates = -1, [0.0]

    def add(self, station: FluidStation, connections: Callable[[int], float]) -> int:
        """Add a pool; its index."""
        self.pools.append((station, connections))
        return len(self.pools) - 1

    def rate(self, k: int, i: int) -> float:
        """Requests a second pool `i` may let on at tick k."""
        if k == 0:
            return float("inf")
        if self._k != k:
            self._rates, self._k = self._share(k), k
        return self._rates[i]

    def _share(self, k: int) -> list[float]:
        j, db, dt = k - 1, self.db, self.tick_s
        servers = float(db.log.servers[j])
        capacity = servers * db.rate * dt
        passed = sum(float(st.log.served[j]) for st, _ in self.pools)
        heading = max(float(db.log.backlog[j]) + passed - capacity, 0.0)
        weights = [conn(k) for _, conn in self.pools]
        room = sum(weights) - servers - heading
        total = max(capacity + room, 0.0) / dt
        wants = [(float(st.backlog) + float(st.log.arrivals[k])) / dt for st, _ in self.pools]
        return water_fill(total, weights, wants)


def water_fill(total: float, weights: list[float], wants: list[float]) -> list[float]:
    """`total` shared in proportion to `weights`, none given more than it wants: what one
    leaves goes to the others, in proportion again."""
    out = [0.0] * len(weights)
    open_ = [i for i in range(len(weights)) if weights[i] > 0]
    while open_ and total > 1e-12:
        w = sum(weights[i] for i in open_)
        sated = [i for i in open_ if wants[i] - out[i] <= total * weights[i] / w]
        if not sated:
            for i in open_:
                out[i] += total * weights[i] / w
            break
        for i in sated:
            total -= wants[i] - out[i]
            out[i] = wants[i]
        open_ = [i for i in open_ if i not in sated]
    return out


def pool_stations(
    compiled: Any,
    stations: dict[str, FluidStation],
    instances: dict[str, Callable[[int], float]],
) -> list[Pool]:
    """A pool station per service with a connection pool to one of the platform's databases.

    `instances[name](k)` is the service's instances serving at tick k."""
    ticks, tick_s = len(compiled.t), float(compiled.tick_s)
    pools: list[Pool] = []
    admissions: dict[str, _Admission] = {}
    for name, spec in compiled.services.items():
        pool = spec.connection_pool
        if pool is None or pool.to not in stations:
            continue
        mean_s = float(compiled.services[pool.to].service.mean)
        connections = _connections(spec, instances[name])
        hold = _hold(stations[pool.to], mean_s, tick_s)

        held = np.zeros(ticks)
        admission = admissions.setdefault(pool.to, _Admission(stations[pool.to], tick_s))

        def servers(k: int, connections=connections, hold=hold, mean_s=mean_s, held=held,
                    admission=admission, i=len(admission.pools)) -> float:  # fmt: skip
            held[k] = connections(k)
            return min(held[k] / hold(k), admission.rate(k, i)) * mean_s

        station = FluidStation(
            ticks=ticks,
            tick_s=tick_s,
            mean_s=mean_s,
            queue_capacity=None,
            servers=servers,
            timeout_s=float(pool.acquire_timeout_s),
        )
        station.passes_served = True  # the database gets what the pool lets through
        admission.add(station, connections)
        pools.append(Pool(name, pool.to, station, held))
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


def waiting_bound(database: str, log: Any, pools: list[Pool]) -> np.ndarray | None:
    """Per tick, the most requests that can wait at `database` (its `TickLog` `log`) behind
    its pools: each pooled request holds a connection, so at most connections - servers of
    them wait, and the other flows there queue beside them in proportion (the pooled share
    of its arrivals, which come a tick after the pools let them on). None without pools.

    The stationary law alone would let an open queue grow at a utilization near 1 (528 ms
    at a database the exact engine, whose pools hold the excess, waits 65 ms at)."""
    mine = [p for p in pools if p.database == database]
    if not mine:
        return None
    ticks = len(log.served)
    connections = sum(p.connections for p in mine)
    passed = np.zeros(ticks)
    for p in mine:
        passed[1:] += p.station.log.served[: ticks - 1]
    arrivals = log.arrivals[:ticks]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(arrivals > 0, np.clip(passed / arrivals, 0.0, 1.0), 1.0)
    waiting = np.maximum(connections - np.maximum(np.rint(log.servers), 1.0), 1.0)
    return np.where(share > 0, waiting / np.maximum(share, 1e-9), np.inf)
