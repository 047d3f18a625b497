"""Telemetry ingest: `POST /v1/telemetry` (route `telemetry`) and reading a ride back
(`GET /v1/devices/{device_id}/samples`, route `samples`).

A batch is validated whole before anything is stored (one bad sample refuses the batch, with
the field named), then checked against the device's own budget in samples per second, then
stored and streamed by the backend in one atomic, idempotent step. The 202 is sent only after
the backend answered, so an acknowledged sample is durable.
"""

from __future__ import annotations

import json
import time

from aiohttp import web

from twin.serve.problems import ApiError, not_found
from twin.serve.ratelimit import retry_after_header
from twin.serve.state import STATE
from twin.serve.tokens import require
from twin.serve.validation import check_id, parse_json, parse_telemetry

__all__ = ["setup"]


async def telemetry(request: web.Request) -> web.Response:
    require(request, "device")
    state = request.app[STATE]
    settings = state.settings
    batch = parse_telemetry(
        parse_json(await request.read()),
        now=time.time(),
        max_batch=settings.max_batch,
        max_future_s=settings.max_future_s,
        max_age_s=settings.max_age_s,
    )
    require(request, "device", batch.device_id)
    if state.find_class(batch.class_id) is None:
        raise not_found("class", batch.class_id)
    wait = state.device_limiter.take(batch.device_id, time.monotonic(), len(batch.samples))
    if wait > 0:
        state.metrics.rate_limited.labels("device").inc()
        rate = f"{settings.device_samples_per_s:g} samples/s, burst {settings.device_burst:g}"
        raise ApiError(
            429,
            f"device {batch.device_id!r} exceeds its telemetry limit of {rate}",
            headers={"Retry-After": retry_after_header(wait)},
        )
    result = await state.backend.ingest(batch)
    state.metrics.samples.labels("accepted").inc(result.accepted)
    state.metrics.samples.labels("duplicate").inc(result.duplicates)
    return web.json_response(
        {"accepted": result.accepted, "duplicates": result.duplicates}, status=202
    )


async def samples(request: web.Request) -> web.Response:
    device_id = check_id(request.match_info["device_id"], "device_id")
    require(request, "device", device_id)
    docs = await request.app[STATE].backend.samples_json(device_id)
    # The stored documents are already canonical JSON: splice them rather than re-encode.
    ident = json.dumps(device_id)
    body = f'{{"device_id":{ident},"count":{len(docs)},"samples":[{",".join(docs)}]}}'
    return web.Response(text=body, content_type="application/json")


def setup(app: web.Application) -> None:
    app.router.add_post("/v1/telemetry", telemetry, name="telemetry")
    app.router.add_get("/v1/devices/{device_id}/samples", samples, name="samples", allow_head=False)
