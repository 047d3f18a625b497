"""The fluid engine's clients: failed requests come back as retries, as the exact engine's do.

Per request type, a tick's attempts fail in the share its route loses that tick: a request
reaching hop h (with the share of the type that reaches it) is lost with the hop's drop
fraction, so P(fail) = 1 - prod_h (1 - share_h x drop_h); and every attempt fails when the
backlog delay along the route passes the client's timeout (the server keeps the request: only
the client stops waiting); a client waits only for the hops before a stream, which takes the
record and answers at once. The failed attempts of retry generation j come back as generation
j + 1 after the timeout (when they timed out) plus a backoff uniform over [0, the ceiling of
retry j] (full jitter), spread over the ticks that window covers, or give up: after `retries`
retries, or for a join past the rider's patience (the generations whose mean backoffs fit in
it); periodic calls (playlist, segment, leaderboard) are not retried. The policy is the
scenario's `clients` block (twin.config.clients.Clients), the one the exact engine's riders
follow.

Everything is an expected count, as elsewhere in the fluid engine. Riders who give up
joining leave the offered load of the types a riding rider makes (`twin.sim.fluid.riding`):
a client may be given `keep` (the share of its first attempts whose riders still ride) and
`on_give_up` (told the give-ups of each tick).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Sequence
from typing import Any

import numpy as np
import simpy

from twin.config.clients import NO_RETRY, Clients
from twin.sim.fluid.flow import FluidStation

__all__ = ["FluidClient", "client_process", "generations"]


def generations(policy: Clients, request_type: str) -> int:
    """Retries a failed call of `request_type` gets: none for periodic calls; a join's fit its
    rider's patience (mean backoff of retry i: half its ceiling); the budget otherwise."""
    if request_type in NO_RETRY:
        return 0
    if request_type != "join":
        return policy.retries
    spent, n = 0.0, 0
    while n < 1000:
        spent += policy.backoff_ceiling(n + 1) / (2.0 if policy.jitter else 1.0)
        if spent > policy.join_patience_s:
            break
        n += 1
    return n


class FluidClient:
    """One request type's attempts per tick: first tries, and retries by generation."""

    def __init__(
        self,
        request_type: str,
        base: np.ndarray,
        legs: Sequence[tuple[FluidStation, float]],
        policy: Clients,
        timeout_s: float,
        tick_s: float,
        waits_for: int | None = None,
        keep: Callable[[int], float] | None = None,
        on_give_up: Callable[[int, float], None] | None = None,
    ) -> None:
        self.request_type = request_type
        self.base = np.asarray(base, dtype=float)  # first attempts per tick
        self.legs = list(legs)  # (station, share of the type reaching it)
        # the hops the client waits for (the rest, from a stream on, are asynchronous to it)
        self.waited = self.legs[: len(self.legs) if waits_for is None else waits_for]
        self.policy = policy
        self.timeout_s = timeout_s
        self.tick_s = tick_s
        self.max_generation = generations(policy, request_type)
        ticks = len(self.base)
        self.pending = np.zeros((self.max_generation + 1, ticks + 1))  # retries due per tick
        self.pending[0, :ticks] = self.base
        self.retries = 0.0
        self.timeouts = 0.0
        self.gave_up = 0.0
        self.failed = np.zeros(ticks)  # attempts failed per tick (all generations)
        self.timed_out = np.zeros(ticks, dtype=bool)  # tick's failures were time-outs
        self.gave_up_at = np.zeros(ticks)  # give-ups per tick
        self.keep = keep
        self.on_give_up = on_give_up

    @property
    def attempts(self) -> np.ndarray:
        """Attempts per tick (first tries and retries)."""
        return self.pending[:, :-1].sum(axis=0)

    def deliver(self, k: int) -> None:
        """Tick k's attempts go along the route: each hop gets the share that reaches it and
        got through the hops before (by their drop fractions at the last tick: a retry lost at
        the API never reaches the stream behind it)."""
        if self.keep is not None:
            self.pending[0, k] *= self.keep(k)
        count = float(self.pending[:, k].sum())
        if count <= 0:
            return
        passed = 1.0
        for station, share in self.legs:
            station.receive(k, count * share * passed)
            if k > 0:
                log = station.log
                arrived = float(log.arrivals[k - 1])
                if arrived > 0:
                    passed *= station.passes(k - 1)

    def succeeded(self, k: int) -> float:
        """Tick k's attempts the client heard answered (settled: neither lost nor timed out)."""
        return max(float(self.pending[:, k].sum()) - float(self.failed[k]), 0.0)

    def through(self, k: int) -> float:
        """Tick k's attempts the whole route served (the network's answer, whether or not
        the client still waited for it): what goes on to a stream's consumer."""
        count = float(self.pending[:, k].sum())
        for station, share in self.legs:
            arrived = float(station.log.arrivals[k])
            if arrived > 0:
                count *= 1.0 - share * min(float(station.log.dropped[k]) / arrived, 1.0)
        return count

    def first_tick(self, k: int) -> int:
        """The tick the calls whose last retry went out at tick k first went out: k less each
        retry's mean wait (the timeout, when tick k's failures timed out, and half the
        backoff ceiling with jitter, the whole without)."""
        wait = self.timeout_s if self.timed_out[k] else 0.0
        share = 0.5 if self.policy.jitter else 1.0
        span = sum(wait + share * self.policy.backoff_ceiling(i)
                   for i in range(1, self.max_generation + 1))  # fmt: skip
        return max(k - round(span / self.tick_s), 0)

    def retry_delay(self, ticks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Seconds between the first attempt and the one sent at each of `ticks`, drawn: the
        attempt's generation in proportion to the tick's attempts by generation, then each
        retry's wait (the timeout, when the tick's failures timed out) and jittered backoff."""
        ticks = np.asarray(ticks, dtype=int)
        delay = np.zeros(len(ticks))
        if self.max_generation == 0 or len(ticks) == 0:
            return delay
        weights = self.pending[:, ticks]
        total = weights.sum(axis=0)
        cum = np.cumsum(weights, axis=0) / np.where(total > 0, total, 1.0)
        generation = (cum < rng.random(len(ticks))[None, :]).sum(axis=0)
        wait = np.where(self.timed_out[ticks], self.timeout_s, 0.0)
        for i in range(1, self.max_generation + 1):
            later = generation >= i
            ceiling = self.policy.backoff_ceiling(i)
            backoff = ceiling * rng.random(len(ticks)) if self.policy.jitter else ceiling
            delay += later * (wait + backoff)
        return delay

    def settle(self, k: int) -> None:
        """After the stations served tick k: fail, retry or give up its attempts."""
        lost, timed_out = self._failure(k)
        if lost <= 0:
            return
        wait = self.timeout_s if timed_out else 0.0
        self.timed_out[k] = timed_out
        for j in range(self.max_generation + 1):
            failed = float(self.pending[j, k]) * lost
            if failed <= 0:
                continue
            self.failed[k] += failed
            if timed_out:
                self.timeouts += failed
            if j == self.max_generation:
                self.gave_up += failed
                self.gave_up_at[k] += failed
                if self.on_give_up is not None:
                    self.on_give_up(k, failed)
                continue
            self.retries += failed
            self._schedule(j + 1, k, failed, wait)

    def _failure(self, k: int) -> tuple[float, bool]:
        """(share of tick k's attempts that fail, whether they failed by timing out)."""
        through, delay = 1.0, 0.0
        for station, share in self.waited:
            log = station.log
            arrived = float(log.arrivals[k])
            if arrived > 0:
                through *= 1.0 - share * min(float(log.dropped[k]) / arrived, 1.0)
            capacity = float(log.servers[k]) * station.rate
            if log.backlog[k] > 0:
                delay += float(log.backlog[k]) / capacity if capacity > 0 else math.inf
        if delay > self.timeout_s:
            return 1.0, True
        return 1.0 - through, False

    def _schedule(self, generation: int, k: int, count: float, wait: float) -> None:
        """`count` retries come back after `wait` plus a backoff uniform over its ceiling."""
        ceiling = self.policy.backoff_ceiling(generation)
        if not self.policy.jitter:
            start = (k + 1) * self.tick_s + wait + ceiling
            self._add(generation, start, start, count)
            return
        start = (k + 1) * self.tick_s + wait
        self._add(generation, start, start + ceiling, count)

    def _add(self, generation: int, lo: float, hi: float, count: float) -> None:
        ticks = self.pending.shape[1] - 1
        first, last = int(lo // self.tick_s), int(hi // self.tick_s)
        if first >= ticks:
            return  # past the run's end
        if hi <= lo or first == last:
            self.pending[generation, first] += count
            return
        edges = np.arange(first, min(last, ticks - 1) + 2) * self.tick_s
        share = np.diff(np.clip(edges, lo, hi)) / (hi - lo)
        self.pending[generation, first : first + len(share)] += count * share


def client_process(
    env: simpy.Environment, client: FluidClient, ticks: int, tick_s: float
) -> Generator[simpy.Event, Any, None]:
    """At each tick: settle the last tick's attempts (the stations have served it), then
    deliver this tick's."""
    for k in range(ticks):
        yield env.timeout(k * tick_s - env.now)
        if k > 0:
            client.settle(k - 1)
        client.deliver(k)
