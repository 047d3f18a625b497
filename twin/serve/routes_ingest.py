"""Telemetry ingest: `POST /v1/telemetry` (route `telemetry`) and reading a ride back
(`GET /v1/devices/{device_id}/samples`, route `samples`).

A batch is validated whole before anything is stored (one bad sample refuses the batch, with
the field named). The backend then spends the token's request and the device's budget in
samples per second, and stores and streams the new samples, in one atomic, idempotent step
(one Lua call on Redis). The 202 is sent only after the backend answered, so an acknowledged
sample is durable. A re-sent seq must carry the same sample: one with other content is a 409
with the stored sample's fingerprint (`sha256:` of its document), and nothing is stored.
Samples are sealed (`twin.serve.sealing`) before the backend sees them and opened when read.
"""

from __future__ import annotations

import json
import time

from aiohttp import web

from twin.serve.backends.base import Conflict
from twin.serve.middleware import PENDING_CHARGE, refused
from twin.serve.problems import not_found
from twin.serve.ratelimit import Charge
from twin.serve.state import STATE
from twin.serve.tokens import require
from twin.serve.validation import check_id, parse_telemetry

__all__ = ["setup"]


async def telemetry(request: web.Request) -> web.Response:
    require(request, "device")
    state = request.app[STATE]
    settings = state.settings
    batch = parse_telemetry(
        await request.read(),
        now=time.time(),
        max_batch=settings.max_batch,
        max_future_s=settings.max_future_s,
        max_age_s=settings.max_age_s,
    )
    require(request, "device", batch.device_id)
    if state.find_class(batch.class_id) is None:
        raise not_found("class", batch.class_id)
    batch = state.sealer.seal_batch(batch)
    charges = [Charge(state.device_limiter, batch.device_id, len(batch))]
    pending = request.pop(PENDING_CHARGE, None)
    if pending is not None:
        charges.insert(0, pending)  # the token's request, spent first
    result = await state.backend.ingest(batch, charges)
    if result.refused is not None:
        raise refused(request, result.refused, result.wait_s)
    if result.conflict is not None:
        stored = state.sealer.open(batch.device_id, result.conflict.stored_json)
        return _conflict(Conflict(result.conflict.seq, stored))
    state.metrics.accepted.inc(result.accepted)
    state.metrics.duplicates.inc(result.duplicates)
    body = f'{{"accepted":{result.accepted},"duplicates":{result.duplicates}}}'
    return web.Response(text=body, status=202, content_type="application/json")


def _conflict(conflict: Conflict) -> web.Response:
    """409: a seq re-sent with other content; the stored sample's fingerprint to compare with."""
    return web.json_response(
        {
            "error": f"samples: seq {conflict.seq} is already stored with other content",
            "seq": conflict.seq,
            "fingerprint": conflict.fingerprint,
        },
        status=409,
    )


async def samples(request: web.Request) -> web.Response:
    device_id = check_id(request.match_info["device_id"], "device_id")
    require(request, "device", device_id)
    state = request.app[STATE]
    sealer = state.sealer
    docs = [sealer.open(device_id, doc) for doc in await state.backend.samples_json(device_id)]
    # The stored documents are already canonical JSON: splice them rather than re-encode.
    ident = json.dumps(device_id)
    body = f'{{"device_id":{ident},"count":{len(docs)},"samples":[{",".join(docs)}]}}'
    return web.Response(text=body, content_type="application/json")


def setup(app: web.Application) -> None:
    app.router.add_post("/v1/telemetry", telemetry, name="telemetry")
    app.router.add_get("/v1/devices/{device_id}/samples", samples, name="samples", allow_head=False)
