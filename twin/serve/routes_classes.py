"""Classes: the schedule (`classes`), joining one (`join`) and its live leaderboard (`leaderboard`).

The schedule is the twin's own catalogue (`twin.platform.catalog`): live classes at :00 and
:30 that are running now or start within `hours`, and the on-demand library. The leaderboard
ranks riders by output (kJ, summed by the stream processor from 1 Hz power samples).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from twin.serve.problems import bad_request, not_found
from twin.serve.state import STATE
from twin.serve.tokens import require
from twin.serve.validation import parse_join, parse_json, query_bool, query_int

__all__ = ["class_doc", "setup"]

_LONGEST_LIVE_S = 2 * 3600  # look this far back for live classes still running


def class_doc(info: Any) -> dict[str, Any]:
    """A `ClassInfo` as the API shows it."""
    return {
        "id": info.id,
        "title": info.title,
        "instructor": info.instructor,
        "type": info.type,
        "starts_at": info.starts_at.isoformat() if info.starts_at is not None else None,
        "duration_s": info.duration_s,
        "live": info.live,
    }


def _live_now(catalog: Any, now: datetime, hours: int) -> list[Any]:
    window = catalog.live_schedule(
        now - timedelta(seconds=_LONGEST_LIVE_S), now + timedelta(hours=hours)
    )
    return [c for c in window if c.starts_at + timedelta(seconds=c.duration_s) > now]


async def classes(request: web.Request) -> web.Response:
    require(request)
    catalog = request.app[STATE].catalog
    query = request.query
    live = query_bool(query, "live")
    limit = query_int(query, "limit", 200, 1, 5000)
    hours = query_int(query, "hours", 6, 1, 168)
    kind = query.get("type")
    if kind is not None and kind not in catalog.types:
        raise bad_request(
            "type", f"unknown class type {kind!r:.40}; one of {', '.join(catalog.types)}"
        )
    found: list[Any] = []
    if live is not False:
        found += _live_now(catalog, datetime.now(UTC), hours)
    if live is not True:
        found += catalog.on_demand
    if kind is not None:
        found = [c for c in found if c.type == kind]
    return web.json_response({"classes": [class_doc(c) for c in found[:limit]]})


def _known_class(request: web.Request) -> tuple[str, Any]:
    class_id = request.match_info["class_id"]
    info = request.app[STATE].find_class(class_id)
    if info is None:
        raise not_found("class", class_id)
    return class_id, info


async def join(request: web.Request) -> web.Response:
    require(request, "rider")
    class_id, info = _known_class(request)
    body = parse_join(parse_json(await request.read()))
    require(request, "rider", body.rider_id)
    created = await request.app[STATE].backend.join(class_id, body.rider_id, body.device_id)
    doc = {"class": class_doc(info), "rider_id": body.rider_id, "device_id": body.device_id}
    return web.json_response(doc, status=201 if created else 200)


async def leaderboard(request: web.Request) -> web.Response:
    require(request)
    class_id, _ = _known_class(request)
    n = query_int(request.query, "n", 10, 1, 1000)
    top, total = await request.app[STATE].backend.leaderboard(class_id, n)
    ranked = [
        {"rank": rank, "rider_id": member, "output_kj": round(score, 3)}
        for rank, (member, score) in enumerate(top, start=1)
    ]
    return web.json_response({"class_id": class_id, "riders": total, "leaderboard": ranked})


def setup(app: web.Application) -> None:
    app.router.add_get("/v1/classes", classes, name="classes", allow_head=False)
    app.router.add_post("/v1/classes/{class_id}/join", join, name="join")
    app.router.add_get(
        "/v1/classes/{class_id}/leaderboard", leaderboard, name="leaderboard", allow_head=False
    )
