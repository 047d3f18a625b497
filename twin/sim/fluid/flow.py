"""Per-tick request flows through stations: the SimPy half of the fluid engine.

A `FluidStation` is a station as counts, not requests. At each tick it takes the requests
that arrived (from sources and, one tick late, from other stations), serves as many as its
servers can in a tick (servers x dt / mean service), carries the rest over as a fluid
backlog, drops what a finite queue cannot hold, and hands its completions to the stations its
routes name. Counts are expected values, not Poisson draws: the stationary formulas applied
afterwards (twin.sim.fluid.latency) already hold the randomness of Poisson arrivals, and
sampling counts as well would count it twice. Every tick's numbers go into a `TickLog`.

Sources and stations are SimPy processes (generator functions taking `env` first) that wake
once per tick; sources are started first, so at each tick they deliver before stations serve.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

__all__ = ["FluidStation", "TickLog", "source_process", "station_process", "tick_counts"]


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
        admit: Callable[[int, float, float], float] | None = None,
    ) -> None:
        self.tick_s = tick_s
        self.rate = 1.0 / mean_s
        self.queue_capacity = queue_capacity
        self.servers = servers
        self.admit = admit
        self.log = TickLog.empty(ticks)
        self.backlog = 0.0
        self.outputs: list[tuple[FluidStation, float]] = []

    def receive(self, k: int, count: float) -> None:
        """`count` requests arrive during tick k."""
        self.log.arrivals[k] += count

    def step(self, k: int) -> None:
        """Serve tick k: capacity, backlog, finite-queue drops, then route completions on."""
        log = self.log
        arrivals = log.arrivals[k]
        servers = self.servers(k)
        capacity = servers * self.rate * self.tick_s
        dropped = self.admit(k, arrivals, servers) if self.admit is not None else 0.0
        total = self.backlog + arrivals - dropped
        served = min(total, capacity)
        backlog = total - served
        if self.queue_capacity is not None and backlog > self.queue_capacity:
            dropped += backlog - self.queue_capacity
            backlog = self.queue_capacity
        self.backlog = backlog
        log.served[k], log.dropped[k], log.backlog[k], log.servers[k] = (
            served,
            dropped,
            backlog,
            servers,
        )
        for target, share in self.outputs:
            target.receive(k + 1, served * share)


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
