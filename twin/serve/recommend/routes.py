"""`GET /v1/riders/{rider_id}/recommendations?n=10` (request type `recommend`)."""

from __future__ import annotations

from aiohttp import web

from twin.serve.problems import ApiError, not_found
from twin.serve.state import STATE
from twin.serve.tokens import require
from twin.serve.validation import query_int

__all__ = ["MAX_N", "SERVICE_KEY", "recommendations"]

SERVICE_KEY = "recommend"  # where the service lives in `ServeState.extras`
MAX_N = 100
DEFAULT_N = 10  # seed 000: N=10


async def recommendations(request: web.Request) -> web.Response:
    """The top-n on-demand classes for the rider, never one the rider already took."""
    rider = request.match_info["rider_id"]
    require(request, "rider", rider)
    n = query_int(request.query, "n", DEFAULT_N, 1, MAX_N)
    service = request.app[STATE].extras[SERVICE_KEY]
    try:
        ranked = await service.recommend(rider, n)
    except LookupError as exc:
        raise ApiError(503, str(exc), headers={"Retry-After": "1"}) from exc
    if ranked is None:
        raise not_found("rider", rider)
    return web.json_response({"recommendations": ranked})
