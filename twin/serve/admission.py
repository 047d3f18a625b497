"""Admission control: shed, don't queue. A per-process limit on requests in progress.

Why a concurrency limit and not a queue deadline: an aiohttp server has no queue of its own to
time. Every request it parses becomes a running handler at once; under overload the waiting
happens in the handlers themselves (for the event loop, for SQLite's thread, for Redis), and
in the kernel's socket buffers before that, where no arrival time can be read. What the
process can bound is how many handlers run, and by Little's law an admitted request then
takes about `limit / throughput`. Throughput is what a busy machine changes, so the limit in
force adapts (`AdaptiveLimit`) on the deadline itself: the median time admitted requests
spend in the server, those still running included, against 50 ms, each less the fsync of
a store's group commit (the shortest wait for a commit in the window,
`twin.serve.backends.commit_wait`: Redis' fsync, which no limit shortens), and the median in
all against 150 ms; it is cut when either is over, and grows back towards `--max-inflight`
(128) only while requests in progress come near it and both are under half their targets.
Past the limit a request is answered at once `503 {"error": "overloaded, retry"}` with
`Retry-After: 1`, before its token is verified or its body parsed: measured, a refusal costs
the server about 0.1 ms of CPU against 0.4 ms for an accepted telemetry batch of 50 samples.
What no limit can bound is the time before the process reads a request (in the kernel's
buffers, when the process is starved of CPU): `benchmarks/bench_overload.py` reports the
server's own latency beside the client's.

Exempt: `/healthz`, `/metrics`, `/openapi.json` (a balancer and Prometheus must always get an
answer) and the admin API (a drill must always be able to clear the fault it injected).
`twin_inflight_requests`, `twin_admission_limit` (the limit in force),
`twin_shed_total{route}` and `twin_commit_wait_seconds{route}` (on Redis: each request's wait
for the group commit) are in `/metrics`. On Redis the client's connection pool is sized from
the ceiling (`redis_pool_size`), so the pool can never be what fails first.
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
# ... and the median time with the waits for a group commit (Redis' fsync) counted: a commit's
# wait lies between one fsync and two, so a median here puts the p99 near the 250 ms target.
TOTAL_TARGET_S = 0.15
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
    the ages of those still running, so the limit reacts before slow requests end), each less
    the window's fsync (the shortest wait for a group commit of the requests that ended in
    it; a request's own wait if shorter), against `target_s`; and the median in all against
    `TOTAL_TARGET_S`. The later of the two, `late` = median / target, decides. Over
    1, the limit is cut in proportion (`current / late`, by 10 % to 50 %); under half, and
    only if the window came near the limit (at its busiest, three quarters of it in
    progress), it grows by 25 % (at least one); otherwise it holds. Without commit waits (the
    embedded backend) the first always decides: the rule is the one before them.
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

    Why the fsync is held apart: counted against the 50 ms, it still cut the limit whenever
    the shared disk was slow (a 30 ms fsync puts a write's wait at 30 to 60 ms), and goodput
    at 2x fell to 79 % of the sustainable rate on a quiet machine. Why only the window's
    shortest commit wait, not each request's whole wait: a round trip to Redis also holds the
    time our own event loop takes to resume the request once Redis answered, and on a starved
    machine that is most of it, and a queue our requests in flight do make; left out
    whole (tried), the limit never saw it: server p99 1 s and goodput 17 % at 2x under load
    average 8. The shortest wait is what even the luckiest write paid, the fsync; the spread
    above it is queueing. And the median in all against 150 ms: a Redis starved of CPU queues
    our commands on its side too, lengthening every wait alike, which the shortest would hide;
    150 ms is past what any fsync takes, and a group commit's median there puts its p99 near
    the 250 ms target.
    """

    def __init__(self, ceiling: int, floor: int = FLOOR, target_s: float = TARGET_S) -> None:
        self.ceiling, self.floor, self.target_s = ceiling, min(floor, ceiling), target_s
        self.current = max(self.floor, int(ceiling * START_SHARE))
        self.inflight = 0
        # ticket -> start and commit wait, for the timed requests
        self._started: dict[int, tuple[float, CommitWait | None]] = {}
        self._tickets = itertools.count(1)
        self._window_end = 0.0
        self._times: list[tuple[float, float]] = []  # (total, commit wait) of those ended
        self._peak = 0  # the most requests in progress at once in the window

    def admit(
        self, now: float, timed: bool = True, wait: CommitWait | None = None
    ) -> int | None:
        """A ticket for one more request in progress, or None if the limit is reached.

        `timed=False` (a segment, streamed as long as its bytes take) counts against the limit
        but gives no time. `wait`: the request's waits for a store's group commit
        (the window's fsync is left out of its time).
        """
        self.tick(now)
        if self.inflight >= self.current:
            self._peak = self.current
            return None
        self.inflight += 1
        self._peak = max(self._peak, self.inflight)
        ticket = next(self._tickets)
        if timed:
            self._started[ticket] = (now, wait)
        return ticket

    def done(self, ticket: int, now: float) -> None:
        """The request of `ticket` answered (or failed)."""
        self.inflight -= 1
        started = self._started.pop(ticket, None)
        if started is not None:
            self._times.append(_times(started, now))
        self.tick(now)

    def tick(self, now: float) -> None:
        """At the end of a window, move the limit (`admit` and `done` call it)."""
        if now < self._window_end:
            return
        times = self._times + [_times(started, now) for started in self._started.values()]
        if times:
            self.current = self._next(self._lateness(times))
        self._window_end, self._times, self._peak = now + WINDOW_S, [], self.inflight

    def _lateness(self, times: list[tuple[float, float]]) -> float:
        """The window's median against its deadline (over 1: missed), the later of two: the
        time in the server, less the shortest commit wait of the window (the fsync every
        write paid, not a queue) from each request's own, against `target_s`; and the time
        in all against `TOTAL_TARGET_S`."""
        fsync = min((wait for _, wait in self._times if wait > 0), default=0.0)
        own = quantile([total - min(wait, fsync) for total, wait in times], QUANTILE)
        total = quantile([total for total, _ in times], QUANTILE)
        return max(own / self.target_s, total / TOTAL_TARGET_S)

    def _next(self, late: float) -> int:
        """The limit after a window `late` times its deadline (over 1: missed)."""
        if late > 1:
            cut = min(MAX_CUT, max(MIN_CUT, 1 / late))
            return max(self.floor, int(self.current * cut))
        if late < 0.5 and self._peak >= NEAR * self.current:
            return min(self.ceiling, self.current + max(1, int(self.current * GROWTH)))
        return self.current


def _times(started: tuple[float, CommitWait | None], now: float) -> tuple[float, float]:
    """Time in the server by `now` of a request started so, and how much of it it waited for
    a group commit."""
    start, wait = started
    return now - start, 0.0 if wait is None else wait.total(now)


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
    limit, wait = request.app[ADMISSION].adaptive, CommitWait()
    ticket = limit.admit(time.perf_counter(), timed=route not in LONG_ROUTES, wait=wait)
    if ticket is None:
        return request.app[ADMISSION].refuse(route)
    context = commit_wait.CURRENT.set(wait)
    try:
        return await handler(request)
    finally:
        commit_wait.CURRENT.reset(context)
        limit.done(ticket, time.perf_counter())
        if wait.spent_s:
            request.app[ADMISSION].commit_wait.labels(route).observe(wait.spent_s)
