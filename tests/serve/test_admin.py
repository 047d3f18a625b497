"""The fault-injection admin API and the faults it drives, on both backends over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from twin.serve.admin import faults_document
from twin.serve.fault_injection import INJECTED_HEADER
from twin.serve.faults import Faults

FAULTS = "/v1/admin/faults"


@pytest.fixture(scope="module")
def server_overrides() -> dict[str, Any]:
    return {"rate_per_s": 10_000.0, "burst": 10_000.0}


@pytest.fixture(scope="module")
def admin(client: Any) -> str:
    return client.token("admin", "ops")


@pytest.fixture(autouse=True)
def _clear(server: Any) -> Iterator[None]:
    yield
    server.state.faults.clear()


def _patch(client: Any, token: str, doc: Any) -> Any:
    return client.request("PATCH", FAULTS, token=token, json=doc)


def _vod(server: Any) -> str:
    return str(server.state.catalog.on_demand[0].id)


def test_the_admin_api_needs_an_admin_token(client: Any) -> None:
    assert client.get(FAULTS).status_code == 401
    rider = client.token("rider", "rider-1")
    assert client.get(FAULTS, token=rider).status_code == 403
    assert _patch(client, rider, {"origin_down": True}).status_code == 403
    assert client.request("DELETE", FAULTS, token=rider).status_code == 403


def test_an_empty_document_when_nothing_is_injected(client: Any, admin: str) -> None:
    response = client.get(FAULTS, token=admin)
    assert response.status_code == 200
    assert response.json() == {
        "routes": {},
        "paused_consumers": 0,
        "origin_down": False,
        "origin_egress_bps": None,
    }


def test_route_latency_delays_that_route_only(client: Any, admin: str) -> None:
    rider = client.token("rider", "rider-2")
    put = client.request("PUT", f"{FAULTS}/routes/classes", token=admin, json={"latency_s": 0.4})
    assert put.status_code == 200
    assert put.json()["routes"] == {"classes": {"latency_s": 0.4, "error_ratio": 0.0}}
    started = time.perf_counter()
    assert client.get("/v1/classes?limit=1", token=rider).status_code == 200
    assert time.perf_counter() - started >= 0.4
    started = time.perf_counter()
    assert client.get(FAULTS, token=admin).status_code == 200  # another route: not delayed
    assert time.perf_counter() - started < 0.4
    assert client.request("DELETE", f"{FAULTS}/routes/classes", token=admin).json()["routes"] == {}
    started = time.perf_counter()
    client.get("/v1/classes?limit=1", token=rider)
    assert time.perf_counter() - started < 0.4


def test_error_ratio_answers_that_share_with_503(client: Any, server: Any, admin: str) -> None:
    rider = client.token("rider", "rider-3")
    path = f"/v1/classes/{_vod(server)}/leaderboard"
    _patch(client, admin, {"routes": {"leaderboard": {"error_ratio": 1.0}}})
    always = client.get(path, token=rider)
    assert always.status_code == 503
    assert always.headers[INJECTED_HEADER] == "error"
    assert "leaderboard" in always.json()["error"]
    _patch(client, admin, {"routes": {"leaderboard": {"error_ratio": 0.5}}})
    codes = [client.get(path, token=rider).status_code for _ in range(200)]
    assert set(codes) == {200, 503}
    # Binomial(200, 0.5): sd 7 requests; 0.35..0.65 is more than 4 sd either side.
    assert 0.35 <= codes.count(503) / 200 <= 0.65
    text = client.get("/metrics").text
    line = 'twin_http_requests_total{method="GET",route="leaderboard",status="503"}'
    counted = float(next(x for x in text.splitlines() if x.startswith(line)).split()[-1])
    assert counted == 1 + codes.count(503)  # each injected error counted once


def test_origin_down_and_egress_cap_through_the_api(client: Any, server: Any, admin: str) -> None:
    rider = client.token("rider", "rider-4")
    master = f"/v1/live/{_vod(server)}/master.m3u8"
    doc = _patch(client, admin, {"origin_down": True, "origin_egress_bps": 5e7}).json()
    assert doc["origin_down"] is True and doc["origin_egress_bps"] == 5e7
    assert server.state.faults.origin_egress_bps == 5e7
    assert client.get(master, token=rider).status_code == 503
    assert client.request("DELETE", FAULTS, token=admin).json()["origin_down"] is False
    assert client.get(master, token=rider).status_code == 200
    assert server.state.faults.origin_egress_bps is None


def test_paused_consumers_hold_the_leaderboard_until_cleared(
    client: Any, server: Any, admin: str, uid: str
) -> None:
    class_id = _vod(server)
    rider_id, device_id = f"r-{uid}", f"d-{uid}"
    join = {"rider_id": rider_id, "device_id": device_id}
    client.post(f"/v1/classes/{class_id}/join", token=client.token("rider", rider_id), json=join)
    consumers = server.settings.consumers
    assert _patch(client, admin, {"paused_consumers": consumers}).status_code == 200
    time.sleep(0.6)  # let reads already in flight (0.25 s blocks) finish
    now = time.time()
    samples = [{"seq": k, "t": now - 30 + k, "power_w": 200.0} for k in range(30)]
    batch = {"device_id": device_id, "class_id": class_id, "samples": samples}
    posted = client.post("/v1/telemetry", token=client.token("device", device_id), json=batch)
    assert posted.status_code == 202
    time.sleep(0.6)
    reader = client.token("rider", rider_id)
    board = client.get(f"/v1/classes/{class_id}/leaderboard?n=1000", token=reader).json()
    assert rider_id not in {r["rider_id"] for r in board["leaderboard"]}
    _patch(client, admin, {"paused_consumers": 0})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        board = client.get(f"/v1/classes/{class_id}/leaderboard?n=1000", token=reader).json()
        mine = [r for r in board["leaderboard"] if r["rider_id"] == rider_id]
        if mine:
            break
        time.sleep(0.05)
    assert mine and mine[0]["output_kj"] == pytest.approx(30 * 200 / 1000)  # 30 s at 200 W


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"routes": {"nope": {"latency_s": 1}}}, "routes.nope"),
        ({"routes": {"admin": {"latency_s": 1}}}, "routes.admin"),
        ({"routes": {"telemetry": {"error_ratio": 1.5}}}, "routes.telemetry.error_ratio"),
        ({"routes": {"telemetry": {"latency_s": -1}}}, "routes.telemetry.latency_s"),
        ({"routes": {"telemetry": {"latency_s": 61}}}, "routes.telemetry.latency_s"),
        ({"routes": {"telemetry": {"delay": 1}}}, "routes.telemetry"),
        ({"routes": []}, "routes"),
        ({"paused_consumers": 99}, "paused_consumers"),
        ({"paused_consumers": True}, "paused_consumers"),
        ({"origin_down": "yes"}, "origin_down"),
        ({"origin_egress_bps": 0}, "origin_egress_bps"),
        ({"shards": 3}, "shards"),
        ([], ""),
    ],
)
def test_bad_patches_are_400_naming_the_field_and_change_nothing(
    client: Any, server: Any, admin: str, doc: Any, field: str
) -> None:
    valid = {"origin_down": True, "paused_consumers": 1}
    whole = {**valid, **doc} if isinstance(doc, dict) else doc
    response = _patch(client, admin, whole)
    assert response.status_code == 400
    assert response.json()["error"].startswith(field)
    assert faults_document(server.state.faults) == faults_document(Faults())


def test_bad_bodies_and_routes(client: Any, admin: str) -> None:
    bad_json = client.request("PATCH", FAULTS, token=admin, data=b"{nope")
    assert bad_json.status_code == 400
    nan = client.request(
        "PUT", f"{FAULTS}/routes/telemetry", token=admin, data=b'{"latency_s": NaN}'
    )
    assert nan.status_code == 400
    for name in ("nope", "admin", "admin.update", "healthz"):
        assert (
            client.request("PUT", f"{FAULTS}/routes/{name}", token=admin, json={}).status_code
            == 404
        )
        assert client.request("DELETE", f"{FAULTS}/routes/{name}", token=admin).status_code == 404


def test_a_route_set_to_null_is_cleared(client: Any, admin: str) -> None:
    _patch(client, admin, {"routes": {"join": {"latency_s": 0.1}, "workout": {"error_ratio": 0.2}}})
    doc = _patch(client, admin, {"routes": {"join": None}}).json()
    assert doc["routes"] == {"workout": {"latency_s": 0.0, "error_ratio": 0.2}}
