"""Admission control: shed, don't queue. A per-process limit on requests in progress.

Why a concurrency limit and not a queue deadline: an aiohttp server has no queue of its own to
time. Every request it parses becomes a running handler at once; under overload the waiting
happens in the handlers themselves (for the event loop, for SQLite's thread, for Redis), and
in the kernel's socket buffers before that, where no arrival time can be read. What the
process can bound is how many handlers run, and by Little's law an admitted request then
takes about `limit / throughput`. Throughput is what a busy machine changes, so the limit in
force adapts (`AdaptiveLimit`) on the deadline itself: the median time admitted requests
spend in the server, those still running included, against 50 ms; it is cut when that is
over, and grows back towards `--max-inflight` (128) only while requests in progress come near
it and the median is under half the target. Past the limit a request
is answered at once `503 {"error": "overloaded, retry"}` with `Retry-After: 1`, before its
token is verified or its body parsed: measured, a refusal costs the server about 0.1 ms of CPU
against 0.4 ms for an accepted telemetry batch of 50 samples. What no limit can bound is the
time before the process reads a request (in the kernel's buffers, when the process is starved
of CPU): `benchmarks/bench_overload.py` reports the server's own latency beside the client's.

Exempt: `/healthz`, `/metrics`, `/openapi.json` (a balancer and Prometheus must always get an
answer) and the admin API (a drill must always be able to clear the fault it injected).
`twin_inflight_requests`, `twin_admission_limit` (the limit in force),
`twin_shed_total{route}` and `twin_commit_wait_seconds{route}` (on Redis: each admitted
request's wait for the group commit, `twin.serve.backends.commit_wait`) are in `/metrics`.
On Redis the client's connection pool is sized from the ceiling (`redis_pool_size`), so the
pool can never be what fails first.
"""

from __future__ import annotations

import itertools
import time

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from twin.serve.backends import commit_wait
from twin.serve.backends.commit_wait import CommitWait
from twin.serve.metrics import LATENCY_BUCKETS

__all__ = [
    "ADMISSION",
    "DEFAULT_LIMIT",
    "EXEMPT_ROUTES",
    "RETRY_AFTER_S",
    "AdaptiveLimit",
    "Admission",
    "admission",
    "quantile",
    "redis_pool_size",
]

DEFAULT_LIMIT = 128
TARGET_S = 0.05  # the median time in the server, per window, the limit keeps admitted ones under
QUANTILE = 0.5  # the median: a few slow clients (a body sent slowly) do not move it
WINDOW_S = 0.2
MIN_CUT, MAX_CUT = 0.5, 0.9  # a window over the target cuts the limit by 10 % to 50 %
GROWTH = 0.25  # a window under half the target, the limit nearly reached: +25 %, at least one
NEAR = 0.75  # a window whose busiest moment had this share of the limit in progress came near it
FLOOR = 8
START_SHARE = 0.25  # a fresh process admits a quarter of its ceiling at once, then learns
LONG_ROUTES = frozenset({"segment"})  # streamed for as long as the bytes take: no queue signal
RETRY_AFTER_S = 1
EXEMPT_ROUTES = frozenset({"healthz", "metrics", "openapi"})
# Redis connections a process holds besides the requests': one blocking read per stream
# consumer (`shards`), the revocation watch, the fault-sharing subscription and its publisher,
# the recommender's retrain, the backlog gauge, and slack.
_BACKGROUND = 8
_REFUSAL = b'{"error": "overloaded, retry"}'
_REFUSAL_HEADERS = {"Retry-After": str(RETRY_AFTER_S), "Content-Type": "application/json"}


def redis_pool_size(limit: int, shards: int) -> int:
    """Connections one process may open: one per admitted request plus its own tasks'."""
    return limit + shards + _BACKGROUND


class AdaptiveLimit:
    """The limit in force, and the requests in progress it counts; pure: times are passed in.

    Its life: `admit(now)` gives a ticket, or None when `current` requests are in progress;
    `done(ticket, now)` ends it. At the end of each `WINDOW_S` the limit moves on the deadline
    itself: the median of the window's times in the server (the requests that ended in it, and
    the ages of those still running, so the limit reacts before slow requests end) against
    `target_s`. Over it, the limit is cut in proportion (`current * target / median`, by 10 %
    to 50 %); under half of it, and only if the window came near the limit (at its busiest,
    three quarters of it in progress), it grows by 25 % (at least one); otherwise it holds.
    It moves between `floor` and `ceiling` (`--max-inflight`) and starts at a quarter of the
    ceiling: a limit that has not been needed is not raised, so the next burst finds the
    limit the last one needed, not the ceiling (128 requests admitted at once take 128 /
    throughput each: 0.6 s on a machine doing 200 a second).

    Why not the shortest time against the shortest ever seen (CoDel's and TCP Vegas' signal,
    the rule this replaced): on Redis with `appendfsync always` most of a request's time is the
    wait for a group commit (Redis fsyncs once per pass of its event loop for every command it
    read), not a queue. A shared disk's fsync takes 4 to 60 ms, so every request of a window
    waited that long; the old rule read it as a standing queue and cut the limit, and each cut
    put fewer writes in each fsync, so throughput fell with the limit while the time per request
    did not, down to the floor: 56 % of the sustainable rate at 2x. A deadline rule cuts only
    when the deadline is in danger, and then only as far as meeting it takes.

    Tried and not kept (README, "Overload"): leaving Redis' commit waits out of the median,
    whole or only their window's shortest (the fsync), with a second median in all against
    150 ms. On the shared machine it met the 2x target in 1 run of 7 against 6 of 11 for this
    rule (client p99 1.5 s against 215 ms, medians): what it admitted more waited in Redis'
    slower fsyncs, and once cut by the 150 ms it grew back only while the median wait stayed
    under 75 ms.
    """

    def __init__(self, ceiling: int, floor: int = FLOOR, target_s: float = TARGET_S) -> None:
        self.ceiling, self.floor, self.target_s = ceiling, min(floor, ceiling), target_s
        self.current = max(self.floor, int(ceiling * START_SHARE))
        self.inflight = 0
        self._started: dict[int, float] = {}  # ticket -> start, for the timed requests
        self._tickets = itertools.count(1)
        self._window_end = 0.0
        self._times: list[float] = []
        self._peak = 0  # the most requests in progress at once in the window

    def admit(self, now: float, timed: bool = True) -> int | None:
        """A ticket for one more request in progress, or None if the limit is reached.

        `timed=False` (a segment, streamed as long as its bytes take) counts against the limit
        but gives no time.
        """
        self.tick(now)
        if self.inflight >= self.current:
            self._peak = self.current
            return None
        self.inflight += 1
        self._peak = max(self._peak, self.inflight)
        ticket = next(self._tickets)
        if timed:
            self._started[ticket] = now
        return ticket

    def done(self, ticket: int, now: float) -> None:
        """The request of `ticket` answered (or failed)."""
        self.inflight -= 1
        started = self._started.pop(ticket, None)
        if started is not None:
            self._times.append(now - started)
        self.tick(now)

    def tick(self, now: float) -> None:
        """At the end of a window, move the limit (`admit` and `done` call it)."""
        if now < self._window_end:
            return
        times = self._times + [now - started for started in self._started.values()]
        if times:
            self.current = self._next(quantile(times, QUANTILE))
        self._window_end, self._times, self._peak = now + WINDOW_S, [], self.inflight

    def _next(self, slow: float) -> int:
        if slow > self.target_s:
            cut = min(MAX_CUT, max(MIN_CUT, self.target_s / slow))
            return max(self.floor, int(self.current * cut))
        if slow < self.target_s / 2 and self._peak >= NEAR * self.current:
            return min(self.ceiling, self.current + max(1, int(self.current * GROWTH)))
        return self.current


def quantile(values: list[float], q: float) -> float:
    """The `q` quantile of `values` (nearest rank, no interpolation: a window is small)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Admission:
    """The app's admission gate: an `AdaptiveLimit`, its metrics, and the refusal.

    Its life: created with the app; the middleware below asks it for a ticket for every
    request that is not exempt, and gives the ticket back when the request has answered.
    """

    def __init__(self, limit: int, registry: CollectorRegistry) -> None:
        if limit < 1:
            raise ValueError(f'"limit" must be >= 1, got {limit}')
        self.limit = limit
        self.adaptive = AdaptiveLimit(limit)
        self.shed = Counter(
            "twin_shed", "Requests refused with 503 by admission control, by route",
            ["route"], registry=registry,
        )  # fmt: skip
        Gauge(
            "twin_inflight_requests", "Requests in progress (admission-controlled)",
            registry=registry,
        ).set_function(lambda: self.adaptive.inflight)  # fmt: skip
        Gauge(
            "twin_admission_limit", "Requests allowed in progress at once now, per process",
            registry=registry,
        ).set_function(lambda: self.adaptive.current)  # fmt: skip
        self.commit_wait = Histogram(
            "twin_commit_wait_seconds",
            "Time admitted requests waited for the store's group commit (Redis), by route",
            ["route"], buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip

    @property
    def inflight(self) -> int:
        return self.adaptive.inflight

    def refuse(self, route: str) -> web.Response:
        self.shed.labels(route).inc()
        return web.Response(body=_REFUSAL, status=503, headers=_REFUSAL_HEADERS)


ADMISSION = web.AppKey("twin_admission", Admission)


@web.middleware
async def admission(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Run the request if the process has room, else answer 503 at once."""
    route = request.match_info.route.name or "unmatched"
    if route in EXEMPT_ROUTES or route.startswith("admin"):
        return await handler(request)
    gate, wait = request.app[ADMISSION], CommitWait()
    ticket = gate.adaptive.admit(time.perf_counter(), timed=route not in LONG_ROUTES)
    if ticket is None:
        return gate.refuse(route)
    context = commit_wait.CURRENT.set(wait)
    try:
        return await handler(request)
    finally:
        commit_wait.CURRENT.reset(context)
        gate.adaptive.done(ticket, time.perf_counter())
        if wait.spent_s:
            gate.commit_wait.labels(route).observe(wait.spent_s)
