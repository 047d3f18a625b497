"""Fault injection on the request path: added latency and an error ratio per route name.

`middleware` reads `ServeState.faults` (set through the admin API, `twin.serve.admin`) on every
request: a route with `route_latency_s[name]` is delayed by that many seconds, and one with
`route_error_ratio[name]` answers that share of requests with 503 instead of calling the
handler, as an overloaded upstream would. Keys are route names, the request-type vocabulary
(`telemetry`, `segment`, ...). Admin routes are never faulted, so a drill can always clear,
nor are `/healthz`, `/metrics` and `/openapi.json`, which the drill watches.
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from twin.serve.state import STATE

__all__ = ["INJECTED_HEADER", "is_faultable", "middleware"]

INJECTED_HEADER = "X-Twin-Fault"  # marks an injected error, so a drill can tell it apart


_NEVER = frozenset({"healthz", "metrics", "openapi"})  # operations: what a drill watches


def is_faultable(route_name: str | None) -> bool:
    """Every named route but the admin API's own and the operations routes."""
    return bool(route_name) and route_name not in _NEVER and not str(route_name).startswith("admin")


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = request.match_info.route.name
    if not is_faultable(route):
        return await handler(request)
    assert route is not None
    state = request.app[STATE]
    faults = state.faults
    started = time.perf_counter()
    delay = faults.route_latency_s.get(route, 0.0)
    if delay > 0:
        await asyncio.sleep(delay)
    ratio = faults.route_error_ratio.get(route, 0.0)
    if ratio > 0 and state.rng.random() < ratio:
        # This middleware runs outside the metrics middleware, so it counts what it answers.
        state.metrics.observe_request(route, request.method, 503, time.perf_counter() - started)
        return web.json_response(
            {"error": f"injected fault on route {route!r}"},
            status=503,
            headers={"Retry-After": "1", INJECTED_HEADER: "error"},
        )
    return await handler(request)
