"""The OpenAPI 3.1 document of `twin serve`, written by hand as Python data, at `/openapi.json`.

Every route of the app is here, by its route name as `operationId` (the request-type
vocabulary: `telemetry`, `segment`, ...). Schemas are JSON Schema 2020-12 (OpenAPI 3.1), strict
(`additionalProperties: false`) and bounded as the validation is, so the document is also the
contract the tests check real responses against, and what schemathesis fuzzes the app with.
"""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from twin import __version__
from twin.config.vocabulary import DEVICES, REGION_CODES
from twin.platform.catalog import CLASS_TYPES
from twin.serve.hls import PLAYLIST_CONTENT_TYPE, RENDITIONS, SEGMENT_CONTENT_TYPE
from twin.serve.tempo_bpm import BPM_RANGE
from twin.serve.validation import MAX_SEQ, SAMPLE_BOUNDS

__all__ = ["document", "setup"]

Schema = dict[str, Any]
_ID_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
_BOOL = "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|1|0)$"  # as `query_bool` reads it
_ERRORS = {
    400: "Bad input; the message names the field",
    401: "Missing, malformed, forged or expired bearer token",
    403: "The token belongs to someone else",
    404: "Unknown resource",
    413: "Body or batch too large",
    422: "Idempotency-Key already used for another request",
    429: "Rate limit exceeded; retry after Retry-After seconds",
    503: "Not ready, origin down, egress saturated, or an injected fault",
}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(properties: dict[str, Schema], required: list[str] | None = None) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }


def _id(description: str) -> Schema:
    return {"type": "string", "pattern": _ID_PATTERN, "description": description}


def _number(lo: float, hi: float | None = None, *, nullable: bool = False) -> Schema:
    schema: Schema = {"type": ["number", "null"] if nullable else "number", "minimum": lo}
    if hi is not None:
        schema["maximum"] = hi
    return schema


def _sample_in() -> Schema:
    props: dict[str, Schema] = {
        "seq": {"type": "integer", "minimum": 0, "maximum": MAX_SEQ},
        "t": {"type": "number", "description": "epoch seconds; at most 5 s ahead, 1 day old"},
    }
    for name, (lo, hi) in SAMPLE_BOUNDS.items():
        props[name] = _number(lo, hi, nullable=name != "power_w")
    return _obj(props, ["seq", "t", "power_w"])


def _sample_out() -> Schema:
    schema = _sample_in()
    schema["properties"] = {**schema["properties"], "class_id": _id("the class ridden")}
    schema["required"] = ["seq", "t", "class_id", *SAMPLE_BOUNDS]
    return schema


def _class() -> Schema:
    return _obj(
        {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "instructor": {"type": "string"},
            "type": {"enum": list(CLASS_TYPES)},
            "starts_at": {"type": ["string", "null"], "format": "date-time"},
            "duration_s": {"type": "integer", "minimum": 1},
            "live": {"type": "boolean"},
        }
    )


def _route_fault() -> Schema:
    return _obj({"latency_s": _number(0, 60), "error_ratio": _number(0, 1)}, [])


def _schemas() -> dict[str, Schema]:
    return {**_class_schemas(), **_ingest_schemas(), **_rider_schemas(), **_admin_schemas()}


def _class_schemas() -> dict[str, Schema]:
    return {
        "Error": _obj({"error": {"type": "string"}}),
        "Health": _obj(
            {
                "status": {"enum": ["ok", "starting", "degraded"]},
                "backend": {"enum": ["embedded", "redis"]},
                "worker": {"type": "integer", "minimum": 0},
                "pid": {"type": "integer", "minimum": 1},
                "pending": {"type": "array", "items": {"type": "string"}},
                "reasons": {"type": "array", "items": {"type": "string"}},
            },
            ["status", "backend", "worker", "pid"],
        ),
        "Class": _class(),
        "Classes": _obj({"classes": {"type": "array", "items": _ref("Class")}}),
        "JoinRequest": _obj(
            {
                "rider_id": _id("the joining rider"),
                "device_id": {**_id("their device"), "type": ["string", "null"]},
            },
            ["rider_id"],
        ),
        "Joined": _obj(
            {
                "class": _ref("Class"),
                "rider_id": {"type": "string"},
                "device_id": {"type": ["string", "null"]},
            }
        ),
        "Leaderboard": _obj(
            {
                "class_id": {"type": "string"},
                "riders": {"type": "integer", "minimum": 0},
                "leaderboard": {
                    "type": "array",
                    "items": _obj(
                        {
                            "rank": {"type": "integer", "minimum": 1},
                            "rider_id": {"type": "string"},
                            "output_kj": {"type": "number"},
                        }
                    ),
                },
            }
        ),
    }


def _ingest_schemas() -> dict[str, Schema]:
    return {
        "SampleIn": _sample_in(),
        "Sample": _sample_out(),
        "TelemetryBatch": _obj(
            {
                "device_id": _id("the posting device (its token's subject)"),
                "class_id": _id("the class being ridden"),
                "samples": {"type": "array", "minItems": 1, "items": _ref("SampleIn")},
            }
        ),
        "TelemetryConflict": _obj(
            {
                "error": {"type": "string"},
                "seq": {"type": "integer", "minimum": 0},
                "fingerprint": {"type": "string", "pattern": "^sha256:[0-9a-f]{64}$"},
            }
        ),
        "TelemetryAccepted": _obj(
            {
                "accepted": {"type": "integer", "minimum": 0},
                "duplicates": {"type": "integer", "minimum": 0},
            }
        ),
        "Samples": _obj(
            {
                "device_id": {"type": "string"},
                "count": {"type": "integer", "minimum": 0},
                "samples": {"type": "array", "items": _ref("Sample")},
            }
        ),
        "TempoSample": _obj(
            {
                "t": {"type": "number", "description": "when the cadence was read (unix s)"},
                "cadence_rpm": _number(*SAMPLE_BOUNDS["cadence_rpm"]),
            }
        ),
        "Tempo": _obj(
            {
                "device_id": {"type": "string"},
                "bpm": {
                    **_number(BPM_RANGE[0], BPM_RANGE[1], nullable=True),
                    "description": "the music's tempo; null: the rider stopped",
                },
                "cadence_rpm": _number(*SAMPLE_BOUNDS["cadence_rpm"]),
                "samples": {"type": "integer", "minimum": 1},
                "window_s": {"type": "number", "exclusiveMinimum": 0},
            }
        ),
    }


def _rider_schemas() -> dict[str, Schema]:
    return {
        "WorkoutRequest": _obj(
            {
                "rider_id": _id("the rider"),
                "class_id": _id("the class ridden"),
                "duration_s": _number(0, 86_400),
                "output_kj": _number(0, nullable=True),
                "device_id": {**_id("the device"), "type": ["string", "null"]},
            },
            ["rider_id", "class_id", "duration_s"],
        ),
        "Workout": _obj(
            {
                "workout_id": {"type": "string"},
                "rider_id": {"type": "string"},
                "class_id": {"type": "string"},
                "completion": _number(0, 1),
            }
        ),
        "FeedbackRequest": _obj(
            {
                "rating": {"type": "integer", "minimum": 1, "maximum": 5},
                "completion_pct": _number(0, 100, nullable=True),
            },
            ["rating"],
        ),
        "Feedback": _obj(
            {
                "workout_id": {"type": "string"},
                "rating": {"type": "integer", "minimum": 1, "maximum": 5},
                "completion_pct": _number(0, 100),
                "weight": _number(-1, 1),
                "previous_weight": _number(-1, 1),
            }
        ),
        "Recommendations": _recommendations_schema(),
    }


def _recommendations_schema() -> Schema:
    return _obj(
        {
            "source": {
                "enum": ["model", "popular"],
                "description": "`model`: the rider's ALS ranking, scores are ALS scores. "
                "`popular`: cold start, a rider the model has not seen: the most popular "
                "classes of `region` and `device`, scores are shares of that segment's rides",
            },
            "region": {
                "enum": [*REGION_CODES, None],
                "description": "popular: the region ranked (null: all regions, also when "
                "the region had too few rides)",
            },
            "device": {
                "enum": [*DEVICES, None],
                "description": "popular: the device ranked (null: all)",
            },
            "recommendations": {
                "type": "array",
                "maxItems": 100,
                "items": _obj({"class_id": {"type": "string"}, "score": {"type": "number"}}),
            },
        },
        required=["source", "recommendations"],
    )


def _admin_schemas() -> dict[str, Schema]:
    return {
        "RouteFault": _route_fault(),
        "Faults": _obj(
            {
                "routes": {"type": "object", "additionalProperties": _ref("RouteFault")},
                "paused_consumers": {"type": "integer", "minimum": 0},
                "origin_down": {"type": "boolean"},
                "origin_egress_bps": _number(1, 1e12, nullable=True),
            }
        ),
        "FaultsPatch": _obj(
            {
                "routes": {
                    "type": "object",
                    "additionalProperties": {"oneOf": [_ref("RouteFault"), {"type": "null"}]},
                },
                "paused_consumers": {"type": "integer", "minimum": 0},
                "origin_down": {"type": "boolean"},
                "origin_egress_bps": _number(1, 1e12, nullable=True),
            },
            [],
        ),
    }


def _json(schema: str, description: str = "OK") -> Schema:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _error(status: int) -> Schema:
    response = _json("Error", _ERRORS[status])
    if status in (429, 503):
        response["headers"] = {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
    return response


def _path_param(name: str, schema: Schema, description: str) -> Schema:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": schema,
        "description": description,
    }


def _workout_op() -> Schema:
    """POST /v1/workouts: safe to retry with an Idempotency-Key (same key, same body: the
    stored answer again, marked Idempotent-Replayed; same key, other body: 422)."""
    op = _op("workout", "Store a ride summary", {201: _json("Workout", "Stored")},
             (403, 404, 422), body="WorkoutRequest")  # fmt: skip
    key = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"}
    op["parameters"] = [{"name": "Idempotency-Key", "in": "header", "required": False,
                         "schema": key, "description": "retry key, per rider"}]  # fmt: skip
    replayed = {"description": "true when this answers a retry", "schema": {"type": "string"}}
    created = op["responses"]["201"]
    op["responses"]["201"] = {**created, "headers": {"Idempotent-Replayed": replayed}}
    return op


def _query(name: str, schema: Schema, description: str) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _op(
    name: str,
    summary: str,
    ok: dict[int, Schema],
    errors: tuple[int, ...],
    *,
    params: tuple[Schema, ...] = (),
    body: str | None = None,
    public: bool = False,
    tag: str = "platform",
) -> Schema:
    """One operation. Token-holding routes may answer 401, 429 and 503 (an injected fault)."""
    codes = set(errors) | (set() if public else {401, 429, 503})
    if body is not None:
        codes |= {400, 413}
    if name.startswith("admin"):
        codes -= {429, 503}  # admin tokens are never rate-limited; admin routes never faulted
    responses: dict[str, Schema] = {str(k): v for k, v in ok.items()}
    responses.update({str(code): _error(code) for code in sorted(codes)})
    operation: Schema = {"operationId": name, "summary": summary, "tags": [tag]}
    if params:
        operation["parameters"] = list(params)
    if body is not None:
        content = {"application/json": {"schema": _ref(body)}}
        operation["requestBody"] = {"required": True, "content": content}
    operation["responses"] = responses
    operation["security"] = [] if public else [{"bearer": []}]
    return operation


_CLASS_ID = _path_param("class_id", {"type": "string", "minLength": 1}, "a class id")
_RENDITION = _path_param("rendition", {"enum": [r.name for r in RENDITIONS]}, "a rendition")


def _platform_paths() -> dict[str, Schema]:
    rider = _path_param("rider_id", {"type": "string", "minLength": 1}, "the rider")
    device = _path_param("device_id", {"type": "string", "minLength": 1}, "the device")
    workout = _path_param("workout_id", {"type": "string", "minLength": 1}, "the workout")
    n = {"type": "integer", "minimum": 1}
    return {
        "/v1/classes": {"get": _op("classes", "The schedule: live classes and on-demand ones",
            {200: _json("Classes")}, (400,), params=(
                _query("live", {"type": "string", "pattern": _BOOL}, "only live or on-demand"),
                _query("limit", {**n, "maximum": 5000}, "at most this many (200)"),
                _query("hours", {**n, "maximum": 168}, "live classes starting within (6 h)"),
                _query("type", {"enum": list(CLASS_TYPES)}, "only this class type"),
            ))},
        "/v1/classes/{class_id}/join": {"post": _op("join", "Join a class",
            {200: _json("Joined", "Already joined"), 201: _json("Joined", "Joined")},
            (403, 404), params=(_CLASS_ID,), body="JoinRequest")},
        "/v1/classes/{class_id}/leaderboard": {"get": _op("leaderboard",
            "Riders ranked by output (kJ)", {200: _json("Leaderboard")}, (400, 404),
            params=(_CLASS_ID, _query("n", {**n, "maximum": 1000}, "top n (10)")))},
        "/v1/telemetry": {"post": _op("telemetry", "Post a batch of 1 Hz samples (idempotent)",
            {202: _json("TelemetryAccepted", "Stored durably"),
             409: _json("TelemetryConflict", "A seq already stored with other content: "
                        "nothing stored; the fingerprint is the stored sample's")}, (403, 404),
            body="TelemetryBatch")},
        "/v1/devices/{device_id}/samples": {"get": _op("samples",
            "A device's accepted samples in seq order", {200: _json("Samples")}, (400, 403),
            params=(device,))},
        "/v1/devices/{device_id}/tempo": {"post": _op("tempo",
            "Post a cadence sample; the music's tempo from the last 10 s of them (seed 002)",
            {200: _json("Tempo")}, (403,), params=(device,), body="TempoSample")},
        "/v1/workouts": {"post": _workout_op()},
        "/v1/workouts/{workout_id}/feedback": {"post": _op("feedback", "Rate a workout",
            {200: _json("Feedback")}, (403, 404), params=(workout,), body="FeedbackRequest")},
        "/v1/riders/{rider_id}/recommendations": {"get": _op("recommend",
            "Top-n on-demand classes for the rider (implicit ALS); for a rider the model "
            "has not seen, the most popular of their region and device",
            {200: _json("Recommendations")}, (400, 403),
            params=(rider, _query("n", {**n, "maximum": 100}, "how many (10)"),
                    _query("region", {"enum": list(REGION_CODES)}, "cold start: the rider's "
                           "region (default: all)"),
                    _query("device", {"enum": list(DEVICES)}, "cold start: the rider's "
                           "device (default: all)")))},
    }  # fmt: skip


def _text(content_type: str, description: str, schema: Schema | None = None) -> Schema:
    return {
        "description": description,
        "content": {content_type: {"schema": schema or {"type": "string"}}},
    }


def _streaming_paths() -> dict[str, Schema]:
    seq = _path_param("seq", {"type": "integer", "minimum": 0, "maximum": 10**12 - 1}, "segment")
    binary = {"type": "string", "format": "binary"}
    return {
        "/v1/live/{class_id}/master.m3u8": {"get": _op("master", "HLS master playlist",
            {200: _text(PLAYLIST_CONTENT_TYPE, "The renditions")}, (404,),
            params=(_CLASS_ID,), tag="streaming")},
        "/v1/live/{class_id}/{rendition}/index.m3u8": {"get": _op("playlist",
            "HLS media playlist: a live window or the whole VOD",
            {200: _text(PLAYLIST_CONTENT_TYPE, "The media playlist")}, (404,),
            params=(_CLASS_ID, _RENDITION), tag="streaming")},
        "/v1/live/{class_id}/{rendition}/{seq}.ts": {"get": _op("segment",
            "A segment: bitrate x duration bytes of MPEG-TS",
            {200: _text(SEGMENT_CONTENT_TYPE, "The segment", binary)}, (404,),
            params=(_CLASS_ID, _RENDITION, seq), tag="streaming")},
    }  # fmt: skip


def _ops_paths() -> dict[str, Schema]:
    metrics = _text("text/plain", "Prometheus text exposition")
    openapi = {
        "description": "This document",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
    return {
        "/healthz": {"get": _op("healthz", "200 once every component has started, "
            "while the stream processor keeps up",
            {200: _json("Health", "Ready"), 503: {**_json("Health", "Starting or degraded"),
             "headers": {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}}},
            (), public=True, tag="operations")},
        "/metrics": {"get": _op("metrics", "Prometheus metrics", {200: metrics}, (),
            public=True, tag="operations")},
        "/openapi.json": {"get": _op("openapi", "This document", {200: openapi}, (),
            public=True, tag="operations")},
    }  # fmt: skip


def _admin_paths() -> dict[str, Schema]:
    route = _path_param("route", {"type": "string", "minLength": 1}, "a route name")
    faults = _json("Faults", "The faults in force")
    common = (401, 403)
    return {
        "/v1/admin/faults": {
            "get": _op("admin", "The faults in force", {200: faults}, common, tag="admin"),
            "patch": _op("admin.update", "Merge faults (a route set to null is cleared)",
                {200: faults}, common, body="FaultsPatch", tag="admin"),
            "delete": _op("admin.clear", "Clear every fault", {200: faults}, common, tag="admin"),
        },
        "/v1/admin/faults/routes/{route}": {
            "put": _op("admin.route", "Set a route's added latency and error ratio",
                {200: faults}, (*common, 404), params=(route,), body="RouteFault", tag="admin"),
            "delete": _op("admin.route_clear", "Clear a route's faults", {200: faults},
                (*common, 404), params=(route,), tag="admin"),
        },
    }  # fmt: skip


def document() -> dict[str, Any]:
    """A fresh copy of the whole OpenAPI document."""
    paths = {**_ops_paths(), **_platform_paths(), **_streaming_paths(), **_admin_paths()}
    return copy.deepcopy(
        {
            "openapi": "3.1.0",
            "info": {
                "title": "twin serve: the reference connected-fitness platform",
                "version": __version__,
                "description": "Telemetry ingest, leaderboards, HLS streaming and recommendations, "
                "with fault injection for capacity drills. Tokens: `twin token`.",
                "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
            },
            "paths": paths,
            "components": {
                "schemas": _schemas(),
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                "headers": {
                    "RetryAfter": {
                        "description": "Whole seconds to wait before retrying",
                        "schema": {"type": "string", "pattern": "^[0-9]+$"},
                    }
                },
            },
        }
    )


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(request.app[_DOC])


_DOC = web.AppKey("twin_openapi", dict)


def setup(app: web.Application) -> None:
    """Serve the document at `/openapi.json` (route `openapi`, no token needed)."""
    app[_DOC] = document()
    app.router.add_get("/openapi.json", openapi_json, name="openapi", allow_head=False)
