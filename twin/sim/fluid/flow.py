"""Per-tick request flows through stations: the SimPy half of the fluid engine.

A `FluidStation` is a station as counts, not requests. At each tick it takes the requests
that arrived (from sources and, one tick late, from other stations), serves as many as its
servers can in a tick (servers x dt / mean service, or less where a `drain` cap such as a
database's write capacity binds), carries the rest over as a fluid backlog, drops what a
finite queue cannot hold or what would wait past a timeout, and hands its completions to the
stations its routes name. Counts are expected values, not Poisson draws: the stationary
formulas applied afterwards (twin.sim.fluid.latency) already hold the randomness of Poisson
arrivals, and sampling counts as well would count it twice. Every tick's numbers go into
a `TickLog`.

Sources and stations are SimPy processes (generator functions taking `env` first) that wake
once per tick; sources are started first, so at each tick they deliver before stations serve.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy
from scipy import special

__all__ = [
    "FluidStation",
    "TickLog",
    "full_probability",
    "progress_process",
    "source_process",
    "station_process",
    "tick_counts",
]


@dataclass
class TickLog:
    """What a station did at every tick (counts per tick; backlog at the tick's end)."""

    arrivals: np.ndarray
    served: np.ndarray
    dropped: np.ndarray
    backlog: np.ndarray
    servers: np.ndarray

    @classmethod
    def empty(cls, ticks: int) -> TickLog:
        z = np.zeros
        return cls(z(ticks + 1), z(ticks), z(ticks), z(ticks), z(ticks))


class FluidStation:
    """A station's fluid state: its inbox per tick, its backlog and its routing."""

    def __init__(
        self,
        *,
        ticks: int,
        tick_s: float,
        mean_s: float,
        queue_capacity: float | None,
        servers: Callable[[int], float],
        drain: Callable[[int, float], float] | None = None,
        timeout_s: float | None = None,
    ) -> None:
        self.tick_s = tick_s
        self.rate = 1.0 / mean_s
        self.queue_capacity = queue_capacity
        self.servers = servers
        self.drain = drain
        self.timeout_s = timeout_s
        self.log = TickLog.empty(ticks)
        self.backlog = 0.0
        self.outputs: list[tuple[FluidStation, float]] = []
        # What a route's next hop gets of what arrived here: all but the drops (the backlog
        # passes later), or, for a station whose service is the next hop's stay (a connection
        # pool), what it served.
        self.passes_served = False

    def passes(self, k: int) -> float:
        """Share of tick k's arrivals a route's next hop receives (see `passes_served`)."""
        log = self.log
        arrived = float(log.arrivals[k])
        if arrived <= 0:
            return 1.0
        if self.passes_served:
            return min(float(log.served[k]) / arrived, 1.0)
        return 1.0 - min(float(log.dropped[k]) / arrived, 1.0)

    def receive(self, k: int, count: float) -> None:
        """`count` requests arrive during tick k."""
        self.log.arrivals[k] += count

    def step(self, k: int) -> None:
        """Serve tick k: capacity, backlog, finite-queue drops, then route completions on."""
        log = self.log
        arrivals = log.arrivals[k]
        servers = self.servers(k)
        rate = servers * self.rate
        if self.drain is not None:
            rate = min(rate, self.drain(k, servers))
        blocked = self._blocked(arrivals, rate)
        total = self.backlog + arrivals - blocked
        served = min(total, rate * self.tick_s)
        backlog = total - served
        dropped = blocked + max(0.0, backlog - self._room(rate))
        self.backlog = backlog - (dropped - blocked)
        log.served[k], log.dropped[k], log.backlog[k] = served, dropped, self.backlog
        log.servers[k] = rate / self.rate  # servers' worth of capacity (a cap lowers it)
        for target, share in self.outputs:
            target.receive(k + 1, served * share)

    def _blocked(self, arrivals: float, rate: float) -> float:
        """Arrivals a finite queue turns away below saturation: M/M/c/K's full-queue chance.

        At or past saturation, or with a backlog standing, the fluid overflow does it instead
        (one of the two, never both).
        """
        if self.queue_capacity is None or self.backlog > 0 or arrivals <= 0 or rate <= 0:
            return 0.0
        load = arrivals / (self.tick_s * self.rate)
        servers = rate / self.rate
        if load >= servers:
            return 0.0
        return arrivals * full_probability(servers, load, self.queue_capacity)

    def _room(self, rate: float) -> float:
        """Most requests that may wait: the queue's capacity, and what drains in a timeout
        (requests behind more than that give up: a fluid queue's abandonment)."""
        room = np.inf if self.queue_capacity is None else float(self.queue_capacity)
        if self.timeout_s is not None:
            room = min(room, rate * self.timeout_s)
        return room


def full_probability(servers: float, load: float, room: float) -> float:
    """P(an arrival finds the queue full) in M/M/c/K below saturation (load < servers).

    With r = load / c and Erlang B for the states up to c, the stationary law gives
    r^K / ((1/B - 1) + (1 - r^(K+1)) / (1 - r)), K the waiting room (c may be fractional:
    Erlang B by the Poisson law, as in twin.analytic.erlang_batch).
    """
    c = max(servers, 1.0)
    r = load / c
    if room <= 0:
        return _erlang_b(c, load)
    log_top = room * math.log(r) if r > 0 else -math.inf
    if log_top < -700:
        return 0.0
    geometric = -math.expm1((room + 1) * math.log(r)) / -math.expm1(math.log(r))
    return math.exp(log_top) / (1.0 / _erlang_b(c, load) - 1.0 + geometric)


def _erlang_b(servers: float, load: float) -> float:
    """Erlang B = P(N = c) / P(N <= c) for N ~ Poisson(load)."""
    if load <= 0:
        return 0.0
    log_pmf = servers * math.log(load) - load - math.lgamma(servers + 1.0)
    cdf = float(special.pdtr(servers, load))
    return min(1.0, math.exp(log_pmf) / cdf) if cdf > 0 else 1.0


def source_process(
    env: simpy.Environment,
    counts: np.ndarray,
    tick_s: float,
    deliver: Callable[[int, float], None],
) -> Generator[simpy.Event, Any, None]:
    """Deliver `counts[k]` requests at each tick k."""
    for k, count in enumerate(counts.tolist()):
        yield env.timeout(k * tick_s - env.now)
        deliver(k, count)


def station_process(
    env: simpy.Environment, station: FluidStation, ticks: int
) -> Generator[simpy.Event, Any, None]:
    """Step `station` once per tick."""
    for k in range(ticks):
        yield env.timeout(k * station.tick_s - env.now)
        station.step(k)


def progress_process(
    env: simpy.Environment, ticks: int, tick_s: float, progress: Callable[[float], None]
) -> Generator[simpy.Event, Any, None]:
    """Report simulated seconds done, a hundred times over the run."""
    step = max(1, ticks // 100)
    for k in range(step, ticks + 1, step):
        yield env.timeout(k * tick_s - env.now)
        progress(step * tick_s)


def tick_counts(points: tuple[tuple[float, float], ...], ticks: int, tick_s: float) -> np.ndarray:
    """Expected arrivals per tick of a piecewise-constant rate: its integral over each tick."""
    edges = np.arange(ticks + 1) * tick_s
    starts = np.array([t for t, _ in points], dtype=float)
    rates = np.array([r for _, r in points], dtype=float)
    widths = np.diff(np.append(starts, np.inf))
    cumulative = np.concatenate(([0.0], np.cumsum(rates[:-1] * widths[:-1])))
    seg = np.searchsorted(starts, edges, side="right") - 1
    area = cumulative[seg] + rates[seg] * (edges - starts[seg])
    return np.diff(area)
