"""A multi-server FIFO station of the exact engine, driven by SimPy events.

A request may arrive, may wait in the queue (or be dropped when a finite queue is full, or
when the station is down: no servers, and a timeout its wait would pass), is
going to be served by one of `servers` servers for a sampled time (or gives up, with a
`timeout_s`, when it waited longer: dropped from the head of the queue when a server frees),
and has left when its completion event fires; it is then routed to another station or out of
the network. Each
service is one SimPy `Timeout`; the station keeps running sums and buffers latencies for the
histogram, so memory does not grow with the number of requests. A `MulticlassStation` draws
each request's service time by its source (per-class service demands in one FIFO queue).

A station with `wake` (penalty_s, tau_s) is a process that sleeps while idle: a request that
finds every server idle, `g` seconds after the last one left, is served `penalty_s * (1 -
exp(-g / tau_s))` longer (`twin.config.architecture.Wake`). With Poisson arrivals at rate
`lam` the idle period is exponential whatever the service law, so a request that finds one
server idle adds `penalty_s / (1 + lam * tau_s)` on average.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, cast

import simpy

from twin.sim.distributions import BlockSampler

__all__ = ["DROPPED", "MulticlassStation", "Request", "Station"]

# A request is a small mutable list:
# [source index, network arrival time, station arrival time, hop index along a path].
Request = list[Any]
DROPPED = -2


class Station:
    """Servers, a FIFO queue and the running statistics of one station."""

    def __init__(
        self,
        env: simpy.Environment,
        *,
        servers: int,
        sampler: BlockSampler,
        queue_capacity: int | None,
        index: int,
        on_leave: Callable[[Request, int], None],
        timeout_s: float | None = None,
        wake: tuple[float, float] | None = None,
        awake: Sequence[float] | None = None,
        rng: Any = None,
    ) -> None:
        self.env = env
        self._wake = wake
        self._awake = awake
        self._rng = rng
        self._idle_since = -math.inf  # asleep before the run
        self._timeout = timeout_s
        self.servers = servers
        self.index = index
        self._draw = sampler.draw
        self._capacity = queue_capacity
        self._on_leave = on_leave
        self.queue: deque[Request] = deque()
        self.busy = 0
        self._t_last = 0.0
        self.busy_done = 0.0  # busy server-seconds of the slices before this one
        self.reset_counters()

    def reset_counters(self) -> None:
        """Start a new statistics slice (the clock process calls this at each boundary)."""
        self.busy_done += getattr(self, "busy_area", 0.0)
        self.arrivals = 0
        self.dropped = 0
        self.completed = 0
        self.wait_sum = 0.0
        self.latency_sum = 0.0
        self.queue_area = 0.0
        self.busy_area = 0.0
        self.latencies: list[float] = []

    def advance(self, now: float) -> None:
        """Integrate queue length and busy servers up to `now`."""
        dt = now - self._t_last
        if dt > 0:
            self.queue_area += len(self.queue) * dt
            self.busy_area += self.busy * dt
            self._t_last = now

    def busy_seconds(self, now: float) -> float:
        """Busy server-seconds since the start, up to `now` (an autoscaler's utilization)."""
        self.advance(now)
        return self.busy_done + self.busy_area

    @property
    def in_system(self) -> int:
        return len(self.queue) + self.busy

    def arrive(self, request: Request, since: float | None = None) -> None:
        """A request arrives now (its wait counted from `since`, when a gate held it): serve
        it, queue it, or drop it."""
        now = self.env.now
        self.advance(now)
        self.arrivals += 1
        request[2] = now if since is None else since
        if self.busy < self.servers:
            self.busy += 1
            woken = self._wake is not None and self.busy == 1  # it was idle, and sleeps
            self._serve(request, now, self._woken(request, now) if woken else 0.0)
        elif (self._capacity is not None and len(self.queue) >= self._capacity) or (
            self.servers == 0 and self._timeout is not None
        ):  # a full queue; or a component down, which refuses (its timeout would pass)
            self.dropped += 1
            self._on_leave(request, DROPPED)
        else:
            self.queue.append(request)

    def _woken(self, request: Request, now: float) -> float:
        """What waking the idle station adds to `request`, arriving `now`: nothing when it
        was sent right behind a response (a share `awake` of its source's)."""
        assert self._wake is not None
        if self._awake is not None and self._rng.random() < self._awake[request[0]]:
            return 0.0
        penalty, tau = self._wake
        return penalty * -math.expm1(-(now - self._idle_since) / tau)

    def _serve(self, request: Request, now: float, extra: float = 0.0) -> None:
        self.wait_sum += now - request[2]
        done = self.env.timeout(self._draw() + extra, value=request)
        done.callbacks.append(self._finish)

    def _finish(self, event: simpy.Event) -> None:
        request = cast(Request, event.value)
        now = self.env.now
        self.advance(now)
        latency = now - request[2]
        self.completed += 1
        self.latency_sum += latency
        self.latencies.append(latency)
        if self._timeout is not None:
            self._renege(now)
        if self.queue and self.busy <= self.servers:
            self._serve(self.queue.popleft(), now)
        else:
            self.busy -= 1
            if self.busy == 0:
                self._idle_since = now
        self._on_leave(request, self.index)

    def _renege(self, now: float) -> None:
        """Drop the requests at the head of the queue that waited past the timeout: they gave
        up (an error to their sender). The oldest wait at the head, so the rest stay."""
        limit, queue = now - cast(float, self._timeout), self.queue
        while queue and queue[0][2] < limit:
            self.dropped += 1
            self._on_leave(queue.popleft(), DROPPED)

    def set_servers(self, servers: int) -> None:
        """Change the number of servers now; extra servers start on the queue at once, and
        removed ones finish the request they hold before they go."""
        now = self.env.now
        self.advance(now)
        self.servers = servers
        if self._timeout is not None:
            self._renege(now)
            while servers == 0 and self.queue:  # down: what waits there fails
                self.dropped += 1
                self._on_leave(self.queue.popleft(), DROPPED)
        while self.busy < self.servers and self.queue:
            self.busy += 1
            self._serve(self.queue.popleft(), now)


class MulticlassStation(Station):
    """A station whose service time depends on the request's source: `draws[source]()`.

    `draws` has one entry per source of the model: that source's own sampler, or the
    station's `sampler` for sources without their own time. Only `_serve` differs from
    `Station`, so a station without per-source times keeps the plain fast path.
    """

    def __init__(
        self,
        env: simpy.Environment,
        *,
        servers: int,
        sampler: BlockSampler,
        draws: Sequence[Callable[[], float]],
        queue_capacity: int | None,
        index: int,
        on_leave: Callable[[Request, int], None],
        timeout_s: float | None = None,
        wake: tuple[float, float] | None = None,
        awake: Sequence[float] | None = None,
        rng: Any = None,
    ) -> None:
        super().__init__(
            env,
            servers=servers,
            sampler=sampler,
            queue_capacity=queue_capacity,
            index=index,
            on_leave=on_leave,
            timeout_s=timeout_s,
            wake=wake,
            awake=awake,
            rng=rng,
        )
        self._draws = list(draws)

    def _serve(self, request: Request, now: float, extra: float = 0.0) -> None:
        self.wait_sum += now - request[2]
        done = self.env.timeout(self._draws[request[0]]() + extra, value=request)
        done.callbacks.append(self._finish)
