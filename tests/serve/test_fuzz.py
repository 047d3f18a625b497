"""Bad input never hurts it: Hypothesis throws bodies, paths and queries at the live server
(both backends) and every answer must be < 500, and a JSON `{"error": ...}` when >= 400."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.serve.helpers import Client, ThreadServer, live_class

FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def server_overrides() -> dict[str, Any]:
    # Fuzzing sends hundreds of requests per token: lift the limits (they have their own tests).
    return {"rate_per_s": 1e6, "burst": 1e6, "device_samples_per_s": 1e6, "device_burst": 1e6}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=20,
)
numbers = st.one_of(
    st.integers(-(10**20), 10**20), st.floats(allow_nan=False, allow_infinity=False),
    st.just(-1), st.just(250.5), st.text(max_size=3), st.none(), st.booleans(),
)  # fmt: skip
FIELDS = ("seq", "t", "cadence_rpm", "resistance_pct", "power_w", "heart_rate_bpm", "speed_kph")


def sample_like() -> st.SearchStrategy[dict[str, Any]]:
    now = time.time()
    near = st.floats(now - 100_000, now + 100, allow_nan=False)
    keys = st.sampled_from([*FIELDS, "extra"])
    return st.dictionaries(keys, st.one_of(numbers, near), max_size=8)


def check(resp: Any) -> None:
    assert resp.status_code < 500, resp.text
    if resp.status_code >= 400:
        assert set(resp.json()) == {"error"} and resp.json()["error"]


@FUZZ
@given(body=json_values)
def test_any_json_body_is_handled(client: Client, body: Any) -> None:
    admin = client.token("admin", "fuzz")
    for path in ("/v1/telemetry", "/v1/workouts", "/v1/classes/x/join", "/v1/workouts/w1/feedback"):
        check(client.post(path, token=admin, data=json.dumps(body)))


@FUZZ
@given(raw=st.binary(max_size=300))
def test_any_bytes_are_handled(client: Client, raw: bytes) -> None:
    check(client.post("/v1/telemetry", token=client.token("admin", "fuzz"), data=raw))


@FUZZ
@given(samples=st.lists(sample_like(), max_size=6), device=st.text(max_size=12))
def test_telemetry_shaped_bodies_are_handled(
    client: Client, server: ThreadServer, samples: list[dict[str, Any]], device: str
) -> None:
    cls = live_class(server.state.catalog)
    body = {"device_id": device or "bike-fuzz", "class_id": cls.id, "samples": samples}
    resp = client.post("/v1/telemetry", token=client.token("admin", "fuzz"), data=json.dumps(body))
    check(resp)
    if resp.status_code == 202:  # accepted means every sample was plausible
        assert resp.json()["accepted"] + resp.json()["duplicates"] == len(samples)
        for s in samples:
            assert 0 <= s["power_w"] <= 2500 and s["t"] <= time.time() + 5


@FUZZ
@given(segment=st.text(min_size=1, max_size=30), query=st.text(max_size=20))
def test_any_path_and_query_is_handled(client: Client, segment: str, query: str) -> None:
    admin = client.token("admin", "fuzz")
    part, q = quote(segment, safe=""), quote(query, safe="")
    check(client.get(f"/v1/classes/{part}/leaderboard?n={q}", token=admin))
    check(client.get(f"/v1/devices/{part}/samples", token=admin))
    check(client.get(f"/v1/classes?live={q}&limit={q}&type={q}", token=admin))
    check(client.post(f"/v1/workouts/{part}/feedback", token=admin, json={"rating": 5}))


SENDABLE = st.text(max_size=60).filter(lambda h: h.isascii() and h.isprintable() and h == h.strip())


@FUZZ
@given(header=SENDABLE)
def test_any_authorization_header_is_handled(client: Client, header: str) -> None:
    check(client.get("/v1/classes?limit=1", headers={"Authorization": header}))
    check(client.get("/v1/classes?limit=1", headers={"Authorization": f"Bearer {header}x"}))
