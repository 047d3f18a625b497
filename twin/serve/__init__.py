"""The reference platform (`twin serve`): a real aiohttp service a drill can hit.

It stores, streams, trains and rate-limits for real, with the request-type vocabulary of the
simulation (DESIGN.md). `twin.serve.app.create_app(settings)` builds it; the package layout is
the architecture: `state` (settings, shared state), `faults` (what a drill injects), `tokens`
and `ratelimit` (who may do what, how often), `validation` (what a body may hold), `middleware`
(the request pipeline), `routes_*` (the endpoints), `backends` (storage and stream: embedded or
Redis, and the Redis rate-limit buckets `--workers` processes share), `processor` (stream ->
leaderboards), `metrics`, `fault_sync` (the faults `--workers` processes share through Redis),
`runner` (one process or N); and the edge: `streaming`/`hls`, `recommend`, `admin`,
`fault_injection`, `openapi`. Importing this package imports nothing heavy and
changes nothing.
"""

from __future__ import annotations

__all__: list[str] = []
