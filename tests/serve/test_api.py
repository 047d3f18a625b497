"""The core API over real HTTP, on both backends: join, telemetry, samples, leaderboards,
workouts and feedback, auth, plausibility, limits, health and metrics."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pytest
import requests

from tests.serve.helpers import Client, ThreadServer, batch, live_class, sample, wait_for


@pytest.fixture
def cls(server: ThreadServer) -> Any:
    return live_class(server.state.catalog)


def rider_and_device(client: Client, cls: Any, uid: str, n: int = 0) -> tuple[str, str, str, str]:
    """A rider who joined `cls` with a device: (rider, device, rider token, device token)."""
    rider, device = f"r-{uid}-{n}", f"bike-{uid}-{n}"
    rt, dt = client.token("rider", rider), client.token("device", device)
    resp = client.post(
        f"/v1/classes/{cls.id}/join", token=rt, json={"rider_id": rider, "device_id": device}
    )
    assert resp.status_code == 201, resp.text
    return rider, device, rt, dt


# --- join and classes -----------------------------------------------------------------------


def test_join_is_201_the_first_time_and_200_after(client: Client, cls: Any, uid: str) -> None:
    rider = f"r-{uid}"
    body = {"rider_id": rider, "device_id": f"bike-{uid}"}
    token = client.token("rider", rider)
    first = client.post(f"/v1/classes/{cls.id}/join", token=token, json=body)
    again = client.post(f"/v1/classes/{cls.id}/join", token=token, json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["class"]["id"] == cls.id
    assert first.json()["class"]["duration_s"] == cls.duration_s


def test_join_checks_who_is_joining(client: Client, cls: Any, uid: str) -> None:
    path, body = f"/v1/classes/{cls.id}/join", {"rider_id": f"r-{uid}"}
    assert client.post(path, json=body).status_code == 401
    assert client.post(path, json=body, token="not.a-token").status_code == 401
    assert (
        client.post(path, json=body, token=client.token("rider", "someone-else")).status_code == 403
    )
    assert client.post(path, json=body, token=client.token("device", f"r-{uid}")).status_code == 403
    assert client.post(path, json=body, token=client.token("admin", "admin")).status_code == 201


def test_join_of_an_unknown_class_is_404(client: Client, uid: str) -> None:
    resp = client.post("/v1/classes/nope-123/join", token=client.token("rider", f"r-{uid}"),
                       json={"rider_id": f"r-{uid}"})  # fmt: skip
    assert resp.status_code == 404
    assert resp.json() == {"error": "unknown class 'nope-123'"}


def test_live_schedule_has_classes_at_the_top_and_half_of_the_hour(
    client: Client, uid: str
) -> None:
    token = client.token("rider", f"r-{uid}")
    live = client.get("/v1/classes?live=true&hours=3", token=token).json()["classes"]
    assert len(live) >= 6  # at least two per half hour for 3 hours
    for doc in live:
        starts = datetime.fromisoformat(doc["starts_at"])
        assert doc["live"] and starts.minute in (0, 30) and starts.second == 0
        assert set(doc) == {"id", "title", "instructor", "type", "starts_at", "duration_s", "live"}
    on_demand = client.get("/v1/classes?live=false&limit=50&type=yoga", token=token).json()[
        "classes"
    ]
    assert 0 < len(on_demand) <= 50
    assert all(not c["live"] and c["starts_at"] is None and c["type"] == "yoga" for c in on_demand)
    assert client.get("/v1/classes?type=juggling", token=token).status_code == 400
    assert client.get("/v1/classes?limit=0", token=token).status_code == 400


# --- telemetry -----------------------------------------------------------------------------


def test_a_retried_batch_is_stored_once(client: Client, cls: Any, uid: str) -> None:
    _, device, _, dt = rider_and_device(client, cls, uid)
    ride = batch(device, cls.id, range(75))["samples"]  # a retry re-sends the same samples
    body = {"device_id": device, "class_id": cls.id}
    first = client.post("/v1/telemetry", token=dt, json=body | {"samples": ride[:50]})
    overlap = client.post("/v1/telemetry", token=dt, json=body | {"samples": ride[25:]})
    assert first.status_code == overlap.status_code == 202
    assert first.json() == {"accepted": 50, "duplicates": 0}
    assert overlap.json() == {"accepted": 25, "duplicates": 25}
    stored = client.get(f"/v1/devices/{device}/samples", token=dt).json()
    assert stored["count"] == 75
    assert [s["seq"] for s in stored["samples"]] == list(range(75))
    assert stored["samples"][30]["power_w"] == 130.0  # 100 + seq W
    assert stored["samples"][30]["class_id"] == cls.id


def test_stored_samples_are_the_values_sent(client: Client, cls: Any, uid: str) -> None:
    _, device, _, dt = rider_and_device(client, cls, uid)
    now = time.time()
    sent = [
        sample(7, now - 1, 212.5, cadence_rpm=91.0, heart_rate_bpm=151, speed_kph=33.3),
        sample(3, now - 2, 0.0, cadence_rpm=None, speed_kph=0, resistance_pct=47),
    ]
    body = {"device_id": device, "class_id": cls.id, "samples": sent}
    assert client.post("/v1/telemetry", token=dt, json=body).status_code == 202
    stored = client.get(f"/v1/devices/{device}/samples", token=dt).json()["samples"]
    expect = sorted(sent, key=lambda s: s["seq"])
    for got, want in zip(stored, expect, strict=True):
        assert got == {**want, "class_id": cls.id}


def test_samples_are_readable_only_with_the_device_token(
    client: Client, cls: Any, uid: str
) -> None:
    _, device, rt, dt = rider_and_device(client, cls, uid)
    path = f"/v1/devices/{device}/samples"
    assert client.get(path).status_code == 401
    assert client.get(path, token=rt).status_code == 403
    assert client.get(path, token=client.token("device", "other")).status_code == 403
    assert client.get(path, token=dt).json() == {"device_id": device, "count": 0, "samples": []}


def test_telemetry_is_written_only_by_its_own_device(client: Client, cls: Any, uid: str) -> None:
    _, device, rt, _ = rider_and_device(client, cls, uid)
    body = batch(device, cls.id, range(3))
    assert client.post("/v1/telemetry", json=body).status_code == 401
    assert client.post("/v1/telemetry", token=rt, json=body).status_code == 403
    other = client.post("/v1/telemetry", token=client.token("device", "bike-x"), json=body)
    assert other.status_code == 403
    assert other.json()["error"] == f"this token is for device 'bike-x', not '{device}'"
    expired = client.token("device", device, ttl_s=0.001)
    time.sleep(1.1)
    assert client.post("/v1/telemetry", token=expired, json=body).json() == {
        "error": "token expired"
    }


def test_telemetry_for_an_unknown_class_is_404(client: Client, uid: str) -> None:
    device = f"bike-{uid}"
    resp = client.post("/v1/telemetry", token=client.token("device", device),
                       json=batch(device, "no-such-class", range(2)))  # fmt: skip
    assert resp.status_code == 404


IMPLAUSIBLE = [
    ({"heart_rate_bpm": 260}, "samples[3].heart_rate_bpm: 260 is above 250"),
    ({"heart_rate_bpm": 20}, "samples[3].heart_rate_bpm: 20 is below 25"),
    ({"cadence_rpm": 201}, "samples[3].cadence_rpm: 201 is above 200"),
    ({"cadence_rpm": -1}, "samples[3].cadence_rpm: -1 is below 0"),
    ({"power_w": 2501}, "samples[3].power_w: 2501 is above 2500"),
    ({"resistance_pct": 100.5}, "samples[3].resistance_pct: 100.5 is above 100"),
    ({"speed_kph": -3}, "samples[3].speed_kph: -3 is below 0"),
    ({"power_w": True}, "samples[3].power_w: must be a number, got bool"),
    ({"power_w": "300"}, "samples[3].power_w: must be a number, got str"),
    ({"seq": -1}, "samples[3].seq: must be an integer in 0..9007199254740991, got -1"),
    ({"seq": 1.5}, "samples[3].seq: must be an integer in 0..9007199254740991, got 1.5"),
    ({"altitude_m": 3}, "samples[3]: unknown field 'altitude_m'"),
]


@pytest.mark.parametrize(("change", "message"), IMPLAUSIBLE)
def test_implausible_samples_are_refused_naming_the_field(
    client: Client, cls: Any, uid: str, change: dict[str, Any], message: str
) -> None:
    device = f"bike-{uid}"
    body = batch(device, cls.id, range(5))
    body["samples"][3].update(change)
    resp = client.post("/v1/telemetry", token=client.token("device", device), json=body)
    assert resp.status_code == 400
    assert resp.json() == {"error": message}
    # Nothing of a refused batch is stored, not even its valid samples.
    stored = client.get(f"/v1/devices/{device}/samples", token=client.token("device", device))
    assert stored.json()["count"] == 0


def test_json_nan_and_infinity_literals_are_refused(client: Client, cls: Any, uid: str) -> None:
    device = f"bike-{uid}"
    token = client.token("device", device)
    for literal in ("NaN", "Infinity", "-Infinity"):
        raw = json.dumps(batch(device, cls.id, range(1))).replace(
            '"power_w": 100.0', f'"power_w": {literal}'
        )
        resp = client.post("/v1/telemetry", token=token, data=raw)
        assert resp.status_code == 400, literal
        assert resp.json() == {"error": f"body: invalid JSON: {literal} is not valid JSON"}
    # A number too large for a double parses as infinity: refused as not finite.
    raw = json.dumps(batch(device, cls.id, range(1))).replace(
        '"power_w": 100.0', '"power_w": 1e400'
    )
    assert client.post("/v1/telemetry", token=token, data=raw).json() == {
        "error": "samples[0].power_w: must be finite"
    }


def test_timestamps_from_the_future_are_refused(client: Client, cls: Any, uid: str) -> None:
    device = f"bike-{uid}"
    token = client.token("device", device)
    body = batch(device, cls.id, range(2))
    body["samples"][1]["t"] = time.time() + 30
    resp = client.post("/v1/telemetry", token=token, json=body)
    assert resp.status_code == 400
    assert resp.json()["error"].startswith("samples[1].t: 30.0 s in the future")
    body["samples"][1]["t"] = time.time() + 3  # clock skew within 5 s is fine
    assert client.post("/v1/telemetry", token=token, json=body).status_code == 202


def test_repeated_seq_in_one_batch_is_refused(client: Client, cls: Any, uid: str) -> None:
    device = f"bike-{uid}"
    resp = client.post("/v1/telemetry", token=client.token("device", device),
                       json=batch(device, cls.id, [4, 5, 4]))  # fmt: skip
    assert resp.json() == {"error": "samples[2].seq: 4 repeats samples[0]"}


def test_oversized_bodies_and_batches_are_413(client: Client, cls: Any, uid: str) -> None:
    device = f"bike-{uid}"
    token = client.token("device", device)
    big = client.post("/v1/telemetry", token=token, data=b"[" + b" " * (1 << 20) + b"]")
    assert big.status_code == 413
    assert (
        big.json()["error"] == f"body of {(1 << 20) + 2} bytes exceeds the limit of {1 << 20} bytes"
    )
    too_many = client.post("/v1/telemetry", token=token, json=batch(device, cls.id, range(601)))
    assert too_many.status_code == 413
    assert too_many.json()["error"] == "samples: 601 samples exceed the batch limit of 600"


# --- leaderboard ------------------------------------------------------------------------------


def test_leaderboard_ranks_riders_by_output(
    client: Client, server: ThreadServer, cls: Any, uid: str
) -> None:
    powers = {0: 150.0, 1: 250.0, 2: 200.0}
    expected = {}
    for n, watts in powers.items():
        rider, device, _, dt = rider_and_device(client, cls, uid, n)
        body = batch(device, cls.id, range(40), power_w=watts)
        assert client.post("/v1/telemetry", token=dt, json=body).status_code == 202
        expected[rider] = round(40 * watts / 1000, 3)  # kJ = W x 1 s per 1 Hz sample
    viewer = client.token("rider", f"viewer-{uid}")

    def board() -> dict[str, Any]:
        return client.get(f"/v1/classes/{cls.id}/leaderboard?n=1000", token=viewer).json()

    def mine(doc: dict[str, Any]) -> dict[str, float]:
        return {e["rider_id"]: e["output_kj"] for e in doc["leaderboard"] if uid in e["rider_id"]}

    doc = wait_for(board, lambda d: mine(d) == expected)
    assert mine(doc) == expected  # 6.0, 10.0, 8.0 kJ
    ranks = [e for e in doc["leaderboard"] if uid in e["rider_id"]]
    assert [e["rider_id"] for e in ranks] == [f"r-{uid}-1", f"r-{uid}-2", f"r-{uid}-0"]
    assert [e["rank"] for e in doc["leaderboard"]] == list(range(1, len(doc["leaderboard"]) + 1))
    top = client.get(f"/v1/classes/{cls.id}/leaderboard?n=1", token=viewer).json()
    assert len(top["leaderboard"]) == 1 and top["riders"] == doc["riders"]
    assert client.get("/v1/classes/nope/leaderboard", token=viewer).status_code == 404
    assert client.get(f"/v1/classes/{cls.id}/leaderboard?n=x", token=viewer).status_code == 400


# --- workouts and feedback ----------------------------------------------------------------------


def interactions_of(server: ThreadServer, rider: str) -> dict[str, float]:
    rows = server.call(server.state.backend.interactions())
    return {c: round(w, 9) for r, c, w in rows if r == rider}


def test_workouts_and_feedback_move_interactions(
    client: Client, server: ThreadServer, cls: Any, uid: str
) -> None:
    rider = f"r-{uid}"
    token = client.token("rider", rider)
    body = {"rider_id": rider, "class_id": cls.id, "duration_s": cls.duration_s / 2}
    made = client.post("/v1/workouts", token=token, json=body)
    assert made.status_code == 201 and made.json()["completion"] == 0.5
    workout = made.json()["workout_id"]
    assert interactions_of(server, rider) == {cls.id: 0.5}
    liked = client.post(
        f"/v1/workouts/{workout}/feedback", token=token, json={"rating": 5, "completion_pct": 80}
    )
    assert liked.json()["weight"] == 0.8
    assert interactions_of(server, rider) == {cls.id: 1.3}
    # A new rating replaces the old one: 0.5 (ride) - 0.8 (disliked), not 0.5 + 0.8 - 0.8.
    disliked = client.post(
        f"/v1/workouts/{workout}/feedback", token=token, json={"rating": 2, "completion_pct": 80}
    )
    assert disliked.json()["previous_weight"] == 0.8
    assert interactions_of(server, rider) == {cls.id: -0.3}
    # Without completion_pct, the workout's own completion is used: 50 % -> weight 0.5.
    again = client.post(f"/v1/workouts/{workout}/feedback", token=token, json={"rating": 4})
    assert again.json()["completion_pct"] == 50.0
    assert interactions_of(server, rider) == {cls.id: 1.0}


def test_a_workout_retried_with_its_idempotency_key_is_stored_once(
    client: Client, server: ThreadServer, cls: Any, uid: str
) -> None:
    rider = f"r-{uid}"
    token = client.token("rider", rider)
    body = {"rider_id": rider, "class_id": cls.id, "duration_s": cls.duration_s / 2}
    key = {"Idempotency-Key": f"ride-{uid}"}
    first = client.post("/v1/workouts", token=token, json=body, headers=key)
    again = client.post("/v1/workouts", token=token, json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert interactions_of(server, rider) == {cls.id: 0.5}  # counted once
    # The same key with another body is a client error, and stores nothing.
    changed = client.post("/v1/workouts", token=token, json={**body, "duration_s": 60}, headers=key)
    assert changed.status_code == 422
    assert first.json()["workout_id"] in changed.json()["error"]
    # Keys are per rider; a POST without a key is a new workout each time.
    other = f"r2-{uid}"
    theirs = client.post("/v1/workouts", token=client.token("rider", other),
                         json={**body, "rider_id": other}, headers=key)  # fmt: skip
    assert theirs.status_code == 201 and "Idempotent-Replayed" not in theirs.headers
    plain = client.post("/v1/workouts", token=token, json=body)
    assert plain.json()["workout_id"] != first.json()["workout_id"]
    assert interactions_of(server, rider) == {cls.id: 1.0}
    bad = client.post("/v1/workouts", token=token, json=body, headers={"Idempotency-Key": "a b"})
    assert bad.status_code == 400 and bad.json()["error"].startswith("Idempotency-Key:")


def test_concurrent_retries_of_a_workout_store_it_once(
    client: Client, server: ThreadServer, cls: Any, uid: str
) -> None:
    rider = f"r-{uid}"
    headers = {"Authorization": f"Bearer {client.token('rider', rider)}",
               "Idempotency-Key": f"k-{uid}"}  # fmt: skip
    body = {"rider_id": rider, "class_id": cls.id, "duration_s": cls.duration_s}

    def post(_: int) -> Any:
        return requests.post(f"{client.url}/v1/workouts", json=body, headers=headers, timeout=30)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(post, range(8)))
    assert {r.status_code for r in answers} == {201}
    assert len({r.json()["workout_id"] for r in answers}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in answers) == 7
    assert interactions_of(server, rider) == {cls.id: 1.0}


def test_feedback_is_only_for_ones_own_workouts(client: Client, cls: Any, uid: str) -> None:
    rider = f"r-{uid}"
    token = client.token("rider", rider)
    body = {"rider_id": rider, "class_id": cls.id, "duration_s": 60}
    workout = client.post("/v1/workouts", token=token, json=body).json()["workout_id"]
    other = client.post(
        f"/v1/workouts/{workout}/feedback", token=client.token("rider", "x"), json={"rating": 5}
    )
    assert other.status_code == 403
    missing = client.post("/v1/workouts/w999999999/feedback", token=token, json={"rating": 5})
    assert missing.status_code == 404
    assert (
        client.post(f"/v1/workouts/{workout}/feedback", token=token, json={"rating": 6}).status_code
        == 400
    )
    assert (
        client.post("/v1/workouts", token=client.token("rider", "x"), json=body).status_code == 403
    )


# --- limits -----------------------------------------------------------------------------------


def test_a_token_gets_a_burst_of_20_then_10_per_second(client: Client, uid: str) -> None:
    token = client.token("rider", f"r-{uid}")
    started = time.monotonic()
    codes = [client.get("/v1/classes?limit=1", token=token) for _ in range(40)]
    elapsed = time.monotonic() - started
    passed = sum(r.status_code == 200 for r in codes)
    assert 20 <= passed <= 20 + 10 * elapsed + 1  # the bucket: burst + rate x time
    refused = [r for r in codes if r.status_code == 429]
    assert refused and refused[0].headers["Retry-After"] == "1"
    assert "10 requests/s, burst 20" in refused[0].json()["error"]
    time.sleep(0.25)  # 2.5 tokens back
    assert client.get("/v1/classes?limit=1", token=token).status_code == 200


def test_telemetry_spends_the_token_bucket_valid_or_not(client: Client, cls: Any, uid: str) -> None:
    """A telemetry request spends its token's bucket with the write (one Redis call); one
    refused before the write (a bad body) spends it too, so a flood of bad batches meets 429."""
    device = f"bike-{uid}"
    token = client.token("device", device)
    started, good = time.monotonic(), []
    while (not good or good[-1].status_code != 429) and len(good) < 200:
        good.append(
            client.post("/v1/telemetry", token=token, json=batch(device, cls.id, [len(good)]))
        )
    passed = len(good) - 1
    assert {r.status_code for r in good[:-1]} == {202}
    assert 20 <= passed <= 20 + 10 * (time.monotonic() - started) + 1
    assert "10 requests/s, burst 20" in good[-1].json()["error"]
    time.sleep(1.0)  # 10 tokens back
    started, codes = time.monotonic(), []
    while 429 not in codes and len(codes) < 100:
        codes.append(client.post("/v1/telemetry", token=token, data=b"{").status_code)
    assert codes[-1] == 429 and set(codes[:-1]) == {400}
    assert 9 <= len(codes) - 1 <= 10 + 10 * (time.monotonic() - started) + 1
    admin = client.token("admin", "ops")  # exempt from rate limits
    stored = client.get(f"/v1/devices/{device}/samples", token=admin).json()
    assert stored["count"] == passed  # what was refused was not stored


def test_a_device_is_limited_in_samples_per_second(client: Client, cls: Any, uid: str) -> None:
    device = f"bike-{uid}"
    token = client.token("device", device)
    assert (
        client.post(
            "/v1/telemetry", token=token, json=batch(device, cls.id, range(600))
        ).status_code
        == 202
    )
    assert (
        client.post(
            "/v1/telemetry", token=token, json=batch(device, cls.id, range(600, 1200))
        ).status_code
        == 202
    )
    refused = client.post(
        "/v1/telemetry", token=token, json=batch(device, cls.id, range(1200, 1800))
    )
    assert refused.status_code == 429
    # The bucket is empty: 600 samples at 10 samples/s is a minute's wait, less what refilled.
    assert 55 <= int(refused.headers["Retry-After"]) <= 60


# --- errors, health, metrics ------------------------------------------------------------------


def test_unknown_routes_and_methods_answer_json(client: Client) -> None:
    missing = client.get("/v1/nowhere")
    assert missing.status_code == 404 and missing.json() == {
        "error": "no such resource: GET /v1/nowhere"
    }
    wrong = client.request("DELETE", "/v1/telemetry")
    assert wrong.status_code == 405 and "POST" in wrong.headers["Allow"]
    assert wrong.json() == {"error": "method DELETE not allowed on /v1/telemetry"}


def test_healthz_is_200_when_ready(client: Client, backend_name: str) -> None:
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json()["status"] == "ok" and resp.json()["backend"] == backend_name


def metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def quiet_metrics(client: Client) -> str:
    """/metrics once earlier tests' samples are all on the leaderboard (nothing in flight)."""

    def settled(text: str) -> bool:
        return metric(text, "twin_ingest_backlog") == 0 and metric(
            text, 'twin_ingest_samples_total{result="accepted"}'
        ) == metric(text, "twin_leaderboard_lag_seconds_count")

    return wait_for(lambda: client.get("/metrics").text, settled, 20)


def test_metrics_count_requests_samples_and_lag(client: Client, cls: Any, uid: str) -> None:
    before = quiet_metrics(client)
    _, device, _, dt = rider_and_device(client, cls, uid)
    assert (
        client.post("/v1/telemetry", token=dt, json=batch(device, cls.id, range(30))).status_code
        == 202
    )
    lag_count = "twin_leaderboard_lag_seconds_count"
    after = wait_for(lambda: client.get("/metrics").text,
                     lambda t: metric(t, lag_count) >= metric(before, lag_count) + 30)  # fmt: skip
    ok = 'twin_http_requests_total{method="POST",route="telemetry",status="202"}'
    assert metric(after, ok) == metric(before, ok) + 1
    accepted = 'twin_ingest_samples_total{result="accepted"}'
    assert metric(after, accepted) == metric(before, accepted) + 30
    assert metric(after, lag_count) == metric(before, lag_count) + 30
    # Samples were 1-30 s old when posted, so every lag lands between 1 s and a minute.
    low = 'twin_leaderboard_lag_seconds_bucket{le="0.5"}'
    assert metric(after, low) == metric(before, low)
    assert 'twin_ingest_backlog{shard="3"} 0.0' in after
    assert "twin_http_request_duration_seconds_bucket" in after
    # the event loop's lag sampler runs (100 samples a second)
    loop = "twin_event_loop_lag_seconds_count"
    assert metric(wait_for(lambda: client.get("/metrics").text,
                           lambda t: metric(t, loop) > metric(after, loop)), loop) > 0  # fmt: skip


def test_the_sqlite_thread_times_its_calls_by_kind(
    client: Client, cls: Any, uid: str, backend_name: str
) -> None:
    """Embedded: each telemetry group commit, transaction (join, workout) and statement is
    timed on the database thread (`twin_sqlite_call_seconds{kind}`); Redis has no SQLite."""
    before = quiet_metrics(client)
    family = "twin_sqlite_call_seconds"
    if backend_name != "embedded":
        assert f"{family}_count" not in before  # declared, never observed
        return
    counts = {k: f'{family}_count{{kind="{k}"}}' for k in ("group_commit", "transaction")}
    _, device, _, dt = rider_and_device(client, cls, uid)  # a join: one transaction
    for i in range(3):  # one at a time: three group commits of one batch
        sent = client.post("/v1/telemetry", token=dt, json=batch(device, cls.id, [i]))
        assert sent.status_code == 202
    after = client.get("/metrics").text
    assert metric(after, counts["group_commit"]) == metric(before, counts["group_commit"]) + 3
    assert metric(after, counts["transaction"]) >= metric(before, counts["transaction"]) + 1
    # seconds on the thread: a COMMIT with its fsync, more than nothing and under a second
    spent = metric(after, f'{family}_sum{{kind="group_commit"}}') - metric(
        before, f'{family}_sum{{kind="group_commit"}}'
    )
    assert 0.0 < spent / 3 < 1.0
    assert f'{family}_bucket{{kind="statement",le="0.0001"}}' in after
