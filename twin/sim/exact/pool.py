"""A service's connection pool to a database, in the exact engine.

A request going on from the service to the database takes one of the pool's connections
first, and gives it back when it leaves the database (answered or dropped there). When none
is free it waits, first come first served, for `acquire_timeout_s` at most; one that waited
longer fails when a connection frees (an error to its sender, as a station's timeout). The
pool holds `size_per_instance` connections per instance of the service, its instances read
from the service's station as it runs (incidents and autoscaling change them): a pool
exhausted by a slow database is how "connection pool exhaustion" takes down the callers.
The wait for a connection is part of the request's time end to end, not of any station's.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import simpy

from twin.sim.exact.station import DROPPED, Request, Station

__all__ = ["ConnectionPool"]


class ConnectionPool:
    """Connections from `service` (its station) into the database (`enter` its arrival)."""

    def __init__(
        self,
        env: simpy.Environment,
        *,
        service: Station,
        servers_per_instance: int,
        size_per_instance: int,
        acquire_timeout_s: float,
        enter: Callable[[Request], None],
        on_leave: Callable[[Request, int], None],
        held: dict[int, ConnectionPool],
    ) -> None:
        self.env = env
        self.service = service
        self.per_instance = max(servers_per_instance, 1)
        self.size_per_instance = size_per_instance
        self.timeout_s = acquire_timeout_s
        self._enter = enter
        self._on_leave = on_leave
        self.held = held  # requests holding a connection (of any pool), by id
        self.in_use = 0
        self.waiting: deque[tuple[Request, float]] = deque()
        self.refused = 0

    @property
    def size(self) -> int:
        """Connections now: per instance, times the service's instances (servers / per)."""
        return math.ceil(self.service.servers / self.per_instance) * self.size_per_instance

    def acquire(self, request: Request) -> None:
        """The request wants a connection: it goes on at once, or waits for one."""
        if self.in_use < self.size:
            self.in_use += 1
            self.enter(request)
        else:
            self.waiting.append((request, self.env.now))

    def enter(self, request: Request) -> None:
        """The request has its connection: on into the database."""
        self.held[id(request)] = self
        self._enter(request)

    def release(self) -> None:
        """A connection comes back: the oldest waiter still within its timeout takes it."""
        limit = self.env.now - self.timeout_s
        while self.waiting and self.waiting[0][1] < limit:
            self.refused += 1
            self._on_leave(self.waiting.popleft()[0], DROPPED)
        if self.waiting and self.in_use <= self.size:
            self.enter(self.waiting.popleft()[0])
        else:
            self.in_use -= 1
