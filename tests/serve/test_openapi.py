"""The OpenAPI document: valid, complete, true of real responses, and fuzzed by schemathesis."""

from __future__ import annotations

import re
import time
from typing import Any

import jsonschema
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from twin.serve.openapi import document

DOC = document()
SCHEMA = schemathesis.openapi.from_dict(document())
# Unknown query parameters are ignored, not refused: HLS players and CDNs add their own
# (cache busters, `_HLS_msn`), so the fuzzer must not count them as invalid input.
SCHEMA.config.generation.update(allow_extra_parameters=False)
_METHODS = ("get", "put", "post", "delete", "patch")


@pytest.fixture(scope="module")
def server_overrides() -> dict[str, Any]:
    return {"rate_per_s": 10_000.0, "burst": 10_000.0}


def _operation(method: str, path: str) -> dict[str, Any]:
    return DOC["paths"][path][method.lower()]


def check_response(method: str, path: str, response: Any) -> None:
    """The response's status is documented and its JSON body matches that status's schema."""
    responses = _operation(method, path)["responses"]
    documented = responses.get(str(response.status_code))
    assert documented is not None, f"{method} {path}: {response.status_code} not documented"
    content_type = response.headers["Content-Type"].split(";")[0]
    assert content_type in documented["content"], f"{method} {path}: {content_type}"
    if content_type == "application/json":
        schema = {**documented["content"][content_type]["schema"], "components": DOC["components"]}
        jsonschema.Draft202012Validator(schema).validate(response.json())


def test_the_document_is_valid_openapi_3_1() -> None:
    validate(DOC)
    assert DOC["openapi"] == "3.1.0"
    # The schemas are JSON Schema 2020-12 themselves.
    for schema in DOC["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_every_route_of_the_app_is_documented_and_nothing_else(server: Any) -> None:
    served = set()
    for route in server.app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or re.sub(r"\{(\w+):[^}]*\}\}?", r"{\1}", info["formatter"])
        served.add((route.method.lower(), path, route.name))
    documented = {
        (method, path, op["operationId"])
        for path, item in DOC["paths"].items()
        for method, op in item.items()
        if method in _METHODS
    }
    assert served == documented


def test_the_document_is_served(client: Any) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json() == DOC
    check_response("GET", "/openapi.json", response)


def test_real_responses_match_their_schemas(client: Any, server: Any, uid: str) -> None:
    rider, device = f"r-{uid}", f"d-{uid}"
    as_rider = client.token("rider", rider)
    as_device = client.token("device", device)
    admin = client.token("admin", "ops")
    vod = server.state.catalog.on_demand[0]
    calls: list[tuple[str, str, str, dict[str, Any]]] = [
        ("GET", "/healthz", "/healthz", {}),
        ("GET", "/metrics", "/metrics", {}),
        ("GET", "/v1/classes", "/v1/classes?limit=5", {"token": as_rider}),
        ("GET", "/v1/classes", "/v1/classes?live=true", {"token": as_rider}),
        ("GET", "/v1/classes", "/v1/classes?limit=0", {"token": as_rider}),
        ("GET", "/v1/classes", "/v1/classes", {}),
        ("POST", "/v1/classes/{class_id}/join", f"/v1/classes/{vod.id}/join",
         {"token": as_rider, "json": {"rider_id": rider, "device_id": device}}),
        ("POST", "/v1/classes/{class_id}/join", f"/v1/classes/{vod.id}/join",
         {"token": as_rider, "json": {"rider_id": rider, "device_id": device}}),
        ("POST", "/v1/classes/{class_id}/join", "/v1/classes/nope/join",
         {"token": as_rider, "json": {"rider_id": rider}}),
        ("POST", "/v1/telemetry", "/v1/telemetry", {"token": as_device, "json": {
            "device_id": device, "class_id": vod.id,
            "samples": [{"seq": k, "t": time.time() - 5 + k, "power_w": 180.0,
                         "heart_rate_bpm": 140} for k in range(5)]}}),
        ("POST", "/v1/telemetry", "/v1/telemetry", {"token": as_device, "json": {
            "device_id": device, "class_id": vod.id,
            "samples": [{"seq": 9, "t": time.time(), "power_w": 3000.0}]}}),
        ("GET", "/v1/devices/{device_id}/samples", f"/v1/devices/{device}/samples",
         {"token": as_device}),
        ("GET", "/v1/devices/{device_id}/samples", f"/v1/devices/{device}/samples",
         {"token": as_rider}),
        ("GET", "/v1/classes/{class_id}/leaderboard", f"/v1/classes/{vod.id}/leaderboard",
         {"token": as_rider}),
        ("POST", "/v1/devices/{device_id}/tempo", f"/v1/devices/{device}/tempo",
         {"token": as_device, "json": {"t": time.time(), "cadence_rpm": 88.0}}),
        ("POST", "/v1/devices/{device_id}/tempo", f"/v1/devices/{device}/tempo",
         {"token": as_device, "json": {"t": time.time(), "cadence_rpm": 0.0}}),
        ("POST", "/v1/devices/{device_id}/tempo", f"/v1/devices/{device}/tempo",
         {"token": as_device, "json": {"t": time.time(), "cadence_rpm": 250.0}}),
        ("POST", "/v1/devices/{device_id}/tempo", f"/v1/devices/{device}/tempo",
         {"token": as_rider, "json": {"t": time.time(), "cadence_rpm": 88.0}}),
        ("GET", "/v1/riders/{rider_id}/recommendations",
         "/v1/riders/rider-1/recommendations?n=5", {"token": client.token("rider", "rider-1")}),
        ("GET", "/v1/riders/{rider_id}/recommendations",
         f"/v1/riders/{rider}/recommendations", {"token": as_rider}),
        ("GET", "/v1/live/{class_id}/master.m3u8", f"/v1/live/{vod.id}/master.m3u8",
         {"token": as_rider}),
        ("GET", "/v1/live/{class_id}/{rendition}/index.m3u8",
         f"/v1/live/{vod.id}/4k/index.m3u8", {"token": as_rider}),
        ("GET", "/v1/live/{class_id}/{rendition}/{seq}.ts", f"/v1/live/{vod.id}/720p/0.ts",
         {"token": as_rider}),
        ("GET", "/v1/admin/faults", "/v1/admin/faults", {"token": admin}),
        ("PATCH", "/v1/admin/faults", "/v1/admin/faults",
         {"token": admin, "json": {"routes": {"join": {"latency_s": 0.01}}}}),
        ("PATCH", "/v1/admin/faults", "/v1/admin/faults",
         {"token": admin, "json": {"routes": {"join": {"latency_s": 99}}}}),
        ("PUT", "/v1/admin/faults/routes/{route}", "/v1/admin/faults/routes/segment",
         {"token": admin, "json": {"error_ratio": 0.0}}),
        ("DELETE", "/v1/admin/faults/routes/{route}", "/v1/admin/faults/routes/join",
         {"token": admin}),
        ("DELETE", "/v1/admin/faults", "/v1/admin/faults", {"token": admin}),
        ("GET", "/v1/admin/faults", "/v1/admin/faults", {"token": as_rider}),
    ]  # fmt: skip
    statuses = set()
    for method, template, url, kwargs in calls:
        response = client.request(method, url, **kwargs)
        check_response(method, template, response)
        statuses.add(response.status_code)
    workout = client.post(
        "/v1/workouts",
        token=as_rider,
        json={"rider_id": rider, "class_id": vod.id, "duration_s": 600.0},
    )
    check_response("POST", "/v1/workouts", workout)
    feedback = client.post(
        f"/v1/workouts/{workout.json()['workout_id']}/feedback",
        token=as_rider,
        json={"rating": 5},
    )
    check_response("POST", "/v1/workouts/{workout_id}/feedback", feedback)
    assert {200, 201, 202, 400, 401, 403, 404} <= statuses


@SCHEMA.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_fuzzed_requests_never_get_a_5xx_and_match_the_document(
    case: Any, server: Any, client: Any
) -> None:
    headers = {"Authorization": f"Bearer {client.token('admin', 'fuzzer')}"}
    try:
        case.call_and_validate(
            base_url=server.url,
            headers=headers,
            checks=[
                not_a_server_error,
                status_code_conformance,
                content_type_conformance,
                response_headers_conformance,
                response_schema_conformance,
                negative_data_rejection,
            ],
        )
    finally:
        server.state.faults.clear()  # a fuzzed PATCH may have set faults: never let them leak
