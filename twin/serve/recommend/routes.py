"""`GET /v1/riders/{rider_id}/recommendations?n=10` (request type `recommend`)."""

from __future__ import annotations

from aiohttp import web

from twin.config.vocabulary import DEVICES, REGION_CODES
from twin.serve.problems import ApiError
from twin.serve.state import STATE
from twin.serve.tokens import require
from twin.serve.validation import query_choice, query_int

__all__ = ["MAX_N", "SERVICE_KEY", "recommendations"]

SERVICE_KEY = "recommend"  # where the service lives in `ServeState.extras`
MAX_N = 100
DEFAULT_N = 10  # seed 000: N=10


async def recommendations(request: web.Request) -> web.Response:
    """The top-n on-demand classes for the rider, never one the rider already took.

    A rider the model has not seen yet gets the most popular classes of the `region` and
    `device` the query names (`"source": "popular"`), instead of a 404.
    """
    rider = request.match_info["rider_id"]
    require(request, "rider", rider)
    n = query_int(request.query, "n", DEFAULT_N, 1, MAX_N)
    region = query_choice(request.query, "region", REGION_CODES)
    device = query_choice(request.query, "device", DEVICES)
    service = request.app[STATE].extras[SERVICE_KEY]
    try:
        answer = await service.recommend(rider, n, region=region, device=device)
    except LookupError as exc:
        raise ApiError(503, str(exc), headers={"Retry-After": "1"}) from exc
    return web.json_response(answer)
