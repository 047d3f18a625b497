"""Admission control: shed, don't queue. A per-process limit on requests in progress.

Why a concurrency limit and not a queue deadline: an aiohttp server has no queue of its own to
time. Every request it parses becomes a running handler at once; under overload the waiting
happens in the handlers themselves (for the event loop, for SQLite's thread, for Redis), and
in the kernel's socket buffers before that, where no arrival time can be read. What the
process can bound is how many handlers run, and by Little's law an admitted request then
takes about `limit / throughput`. Throughput is what a busy machine changes, so the limit in
force adapts (`AdaptiveLimit`): it falls while even the fastest request of each 100 ms took
over 50 ms and over twice the fastest ever seen (a standing queue), and climbs back to
`--max-inflight` (128) when none does;
so the deadline is kept through the limit, not by timing a queue. Past the limit a request
is answered at once `503 {"error": "overloaded, retry"}` with `Retry-After: 1`, before its
token is verified or its body parsed: measured, a refusal costs the server about 0.1 ms of CPU
against 0.4 ms for an accepted telemetry batch of 50 samples. What no limit can bound is the
time before the process reads a request (in the kernel's buffers, when the process is starved
of CPU): `benchmarks/bench_overload.py` reports the server's own latency beside the client's.

Exempt: `/healthz`, `/metrics`, `/openapi.json` (a balancer and Prometheus must always get an
answer) and the admin API (a drill must always be able to clear the fault it injected).
`twin_inflight_requests`, `twin_admission_limit` (the limit in force) and
`twin_shed_total{route}` are in `/metrics`. On Redis the client's connection pool is sized from
the ceiling (`redis_pool_size`), so the pool can never be what fails first.
"""

from __future__ import annotations

import math
import time

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CollectorRegistry, Counter, Gauge

__all__ = [
    "ADMISSION",
    "DEFAULT_LIMIT",
    "EXEMPT_ROUTES",
    "RETRY_AFTER_S",
    "AdaptiveLimit",
    "Admission",
    "admission",
    "redis_pool_size",
]

DEFAULT_LIMIT = 128
TARGET_S = 0.05  # a request's shortest time in the server, per window, above which a queue stands
WINDOW_S = 0.1
FLOOR = 8
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
    """The limit in force: lowered while a queue stands in the server, raised when none does.

    A fixed limit only bounds latency at `limit / throughput`, and throughput is what a loaded
    machine changes. So the limit moves between `floor` and `ceiling` (`--max-inflight`) in
    10 % steps on a queue signal, read as CoDel and TCP Vegas read theirs: the shortest time
    any request spent in the server during each `WINDOW_S`, against the shortest ever seen
    (`baseline`: the service time with no queue, an fsync included). A queue stands when even
    the luckiest request of the window took more than `TARGET_S` and more than twice the
    baseline: the limit drops by 10 %. Under half of that there is room: the limit grows by
    10 % (at least one). The baseline creeps up 1 % a second, so a service that became slower
    for good is learnt again within minutes, and a standing queue is not. Pure: times are
    passed in.
    """

    def __init__(self, ceiling: int, floor: int = FLOOR, target_s: float = TARGET_S) -> None:
        self.ceiling, self.floor, self.target_s = ceiling, min(floor, ceiling), target_s
        self.current = ceiling
        self.baseline = math.inf
        self._window_end = 0.0
        self._window_min = math.inf

    def observe(self, seconds: float, now: float) -> None:
        """One admitted request took `seconds`; at a window's end, move the limit."""
        self._window_min = min(self._window_min, seconds)
        if now < self._window_end:
            return
        fastest = self._window_min
        self.baseline = min(fastest, self.baseline * 1.001)
        queued = max(self.target_s, 2 * self.baseline)
        if fastest > queued:
            self.current = max(self.floor, int(self.current * 0.9))
        elif fastest < queued / 2:
            self.current = min(self.ceiling, self.current + max(1, self.current // 10))
        self._window_end, self._window_min = now + WINDOW_S, math.inf


class Admission:
    """Counts the requests in progress; `admit()` says whether one more may start.

    Its life: created with the app; the middleware below counts every admitted request in
    while it runs and out when it has answered (or failed).
    """

    def __init__(self, limit: int, registry: CollectorRegistry) -> None:
        if limit < 1:
            raise ValueError(f'"limit" must be >= 1, got {limit}')
        self.limit = limit
        self.adaptive = AdaptiveLimit(limit)
        self.inflight = 0
        self.shed = Counter(
            "twin_shed", "Requests refused with 503 by admission control, by route",
            ["route"], registry=registry,
        )  # fmt: skip
        Gauge(
            "twin_inflight_requests", "Requests in progress (admission-controlled)",
            registry=registry,
        ).set_function(lambda: self.inflight)  # fmt: skip
        Gauge(
            "twin_admission_limit", "Requests allowed in progress at once now, per process",
            registry=registry,
        ).set_function(lambda: self.adaptive.current)  # fmt: skip

    def admit(self) -> bool:
        return self.inflight < self.adaptive.current

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
    gate = request.app[ADMISSION]
    if not gate.admit():
        return gate.refuse(route)
    gate.inflight += 1
    started = time.perf_counter()
    try:
        return await handler(request)
    finally:
        gate.inflight -= 1
        if route not in LONG_ROUTES:
            now = time.perf_counter()
            gate.adaptive.observe(now - started, now)
