"""Operations endpoints: `GET /healthz` (route `healthz`) and `GET /metrics` (route `metrics`).

`/healthz` is 200 only when every component has started (the backend, the stream processor,
the recommender's first model) and the stream processor is healthy, else 503: `starting` naming
what is still pending (a load balancer or a drill waits on it), or `degraded` with the reasons
(a consumer failing, or a shard behind by more than `max_lag_s`, `twin serve --max-lag`).
`/metrics` refreshes the stream backlog, then renders the app's registry.
"""

from __future__ import annotations

import os

from aiohttp import web

from twin.serve.metrics import CONTENT_TYPE
from twin.serve.processor import PROCESSOR_KEY
from twin.serve.state import STATE

__all__ = ["setup"]


async def healthz(request: web.Request) -> web.Response:
    state = request.app[STATE]
    doc = {"backend": state.backend.kind, "worker": state.settings.worker_index, "pid": os.getpid()}
    if state.ready:
        processor = state.extras.get(PROCESSOR_KEY)
        reasons = [] if processor is None else processor.health(state.settings.max_lag_s)
        if not reasons:
            return web.json_response({"status": "ok", **doc})
        return web.json_response(
            {"status": "degraded", **doc, "reasons": reasons},
            status=503,
            headers={"Retry-After": "1"},
        )
    return web.json_response(
        {"status": "starting", **doc, "pending": sorted(state.pending)},
        status=503,
        headers={"Retry-After": "1"},
    )


async def metrics(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if state.ready:
        state.metrics.set_backlog(await state.backend.backlog())
    return web.Response(body=state.metrics.render(), headers={"Content-Type": CONTENT_TYPE})


def setup(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz, name="healthz", allow_head=False)
    app.router.add_get("/metrics", metrics, name="metrics", allow_head=False)
