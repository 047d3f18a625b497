"""Ride summaries (`POST /v1/workouts`, route `workout`) and ratings
(`POST /v1/workouts/{workout_id}/feedback`, route `feedback`): the recommender's feedback loop.

A workout adds its completion (ridden time over class length, at most 1) to the rider's
interaction with the class. Feedback follows the seeds' rule: weight = completion / 100,
positive for 4-5 stars, negative below; a second rating of the same workout replaces the first
(its weight moves the interaction by the difference), so a retried POST changes nothing.

A workout POST is made safe to retry with an `Idempotency-Key` header (as in the IETF
httpapi draft, and Stripe): the first request with a key stores the workout, and any later one
from the same rider with the same key and the same body answers the same 201 (with
`Idempotent-Replayed: true`) without storing it again; the same key with another body is a 422.
Keys are kept per rider, with the workout, atomically (one transaction, one Lua call).
The periodic retrain of `twin.serve.recommend` reads `Backend.interactions()`.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from twin.serve.backends.base import feedback_weight
from twin.serve.problems import ApiError, not_found
from twin.serve.state import STATE
from twin.serve.tokens import require
from twin.serve.validation import (
    WorkoutRequest,
    check_id,
    parse_feedback,
    parse_json,
    parse_workout,
)

__all__ = ["IDEMPOTENCY_KEY", "REPLAYED", "completion", "setup"]

IDEMPOTENCY_KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"


def completion(ridden_s: float, class_s: float | None) -> float:
    """Share of the class ridden, in 0..1 (1 when the class length is unknown)."""
    if not class_s or class_s <= 0:
        return 1.0
    return min(1.0, max(0.0, ridden_s / class_s))


def _class_length(request: web.Request, class_id: str) -> float | None:
    info = request.app[STATE].find_class(class_id)
    return None if info is None else float(info.duration_s)


def _idempotency(request: web.Request, body: WorkoutRequest) -> tuple[str, str] | None:
    """(key, fingerprint of the request) when the client sent an `Idempotency-Key`."""
    key = request.headers.get(IDEMPOTENCY_KEY)
    if key is None:
        return None
    fields = [body.rider_id, body.class_id, body.duration_s, body.output_kj, body.device_id]
    return check_id(key, IDEMPOTENCY_KEY), json.dumps(fields)


async def workout(request: web.Request) -> web.Response:
    require(request, "rider")
    body = parse_workout(parse_json(await request.read()))
    require(request, "rider", body.rider_id)
    length = _class_length(request, body.class_id)
    if length is None:
        raise not_found("class", body.class_id)
    weight = completion(body.duration_s, length)
    idempotency = _idempotency(request, body)
    backend = request.app[STATE].backend
    workout_id, earlier = await backend.add_workout(body, time.time(), weight, idempotency)
    headers = {"Location": f"/v1/workouts/{workout_id}"}
    if idempotency is not None and earlier is not None:
        if earlier != idempotency[1]:
            raise ApiError(
                422,
                f"{IDEMPOTENCY_KEY} {idempotency[0]!r} was already used for another workout "
                f"({workout_id}); use a new key for a new workout",
            )
        headers[REPLAYED] = "true"
    doc = {"workout_id": workout_id, "rider_id": body.rider_id, "class_id": body.class_id,
           "completion": round(weight, 6)}  # fmt: skip
    return web.json_response(doc, status=201, headers=headers)


async def feedback(request: web.Request) -> web.Response:
    require(request, "rider")
    workout_id = check_id(request.match_info["workout_id"], "workout_id")
    body = parse_feedback(parse_json(await request.read()))
    backend = request.app[STATE].backend
    stored: dict[str, Any] | None = await backend.workout(workout_id)
    if stored is None:
        raise not_found("workout", workout_id)
    require(request, "rider", stored["rider_id"])
    done = body.completion_pct
    if done is None:
        done = 100.0 * completion(stored["duration_s"], _class_length(request, stored["class_id"]))
    weight = feedback_weight(body.rating, done)
    previous = await backend.replace_feedback(workout_id, body.rating, done, weight)
    if previous is None:  # deleted between the two calls: cannot happen today, never a 500
        raise not_found("workout", workout_id)
    doc = {"workout_id": workout_id, "rating": body.rating, "completion_pct": done,
           "weight": weight, "previous_weight": previous}  # fmt: skip
    return web.json_response(doc)


def setup(app: web.Application) -> None:
    app.router.add_post("/v1/workouts", workout, name="workout")
    app.router.add_post("/v1/workouts/{workout_id}/feedback", feedback, name="feedback")
