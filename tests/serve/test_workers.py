"""`twin serve --redis URL --workers 2`: two processes that share nothing but Redis still act
as one platform. A fault set through either worker applies to both, a token's and a device's
rate limits are global, and a workout retried through the other worker is stored once.

Each test talks to a chosen worker: a `requests.Session` keeps its connection, and with it
the worker the kernel gave that connection (`/healthz` says which)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.serve.helpers import SECRET, batch, flush_redis, free_port
from twin.serve.tokens import sign

pytestmark = pytest.mark.redis


class Workers:
    """The running `twin serve --workers 2` and one kept-alive session per worker."""

    def __init__(self, url: str, sessions: dict[int, requests.Session]) -> None:
        self.url = url
        self.sessions = sessions
        self.admin = token("admin", "ops")

    def call(self, worker: int, method: str, path: str, tok: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {tok}", **kwargs.pop("headers", {})}
        resp = self.sessions[worker].request(
            method, self.url + path, headers=headers, timeout=30, **kwargs
        )
        assert self.worker_of(worker) == worker, "the session changed worker"
        return resp

    def worker_of(self, worker: int) -> int:
        return int(self.sessions[worker].get(f"{self.url}/healthz", timeout=5).json()["worker"])


def token(kind: str, ident: str) -> str:
    return sign(kind, ident, SECRET, 3600.0)


def one_session_per_worker(url: str, workers: int) -> dict[int, requests.Session]:
    """Fresh connections until each worker holds one (the kernel hashes connections)."""
    sessions: dict[int, requests.Session] = {}
    for _ in range(200):
        session = requests.Session()
        worker = int(session.get(f"{url}/healthz", timeout=5).json()["worker"])
        if worker in sessions:
            session.close()
        else:
            sessions[worker] = session
        if len(sessions) == workers:
            return sessions
    raise AssertionError(f"only reached workers {sorted(sessions)}")


@pytest.fixture(scope="module")
def workers(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    flush_redis(redis_url)
    port = free_port()
    cmd = [sys.executable, "-m", "twin.cli.app", "serve", "--riders", "100", "--port", str(port),
           "--redis", redis_url, "--workers", "2", "--rate", "0.5", "--burst", "4",
           "--admin", "--data-dir", str(tmp_path_factory.mktemp("workers"))]  # fmt: skip
    env = {**os.environ, "TWIN_SECRET": SECRET}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None and "ready at" in proc.stdout.readline()
        url = f"http://127.0.0.1:{port}"
        sessions = one_session_per_worker(url, 2)
        yield Workers(url, sessions)
        for session in sessions.values():
            session.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0 and "Traceback" not in err


def eventually(fn: Any, timeout_s: float = 5.0) -> Any:
    """`fn()` until truthy (a worker applies a published fault within milliseconds)."""
    deadline = time.monotonic() + timeout_s
    while not (value := fn()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return value


def test_a_fault_set_through_one_worker_applies_to_both(workers: Workers) -> None:
    admin = workers.admin
    patch = {"routes": {"classes": {"error_ratio": 1.0}}, "paused_consumers": 2}
    assert workers.call(0, "PATCH", "/v1/admin/faults", admin, json=patch).status_code == 200
    for w in (0, 1):
        assert eventually(
            lambda w=w: workers.call(w, "GET", "/v1/classes", admin).status_code == 503
        )
        doc = workers.call(w, "GET", "/v1/admin/faults", admin).json()
        assert doc["routes"] == {"classes": {"latency_s": 0.0, "error_ratio": 1.0}}
        assert doc["paused_consumers"] == 2
    assert workers.call(1, "DELETE", "/v1/admin/faults", admin).status_code == 200
    for w in (0, 1):
        assert eventually(
            lambda w=w: workers.call(w, "GET", "/v1/classes", admin).status_code == 200
        )


def test_a_token_has_one_bucket_whichever_worker_answers(workers: Workers) -> None:
    """Burst 4, 0.5 r/s: 10 requests alternating between the workers pass 4 times (5 if the
    test is slow), where a bucket per worker would let 8 through."""
    rider = token("rider", "r-global")
    started = time.monotonic()
    codes = [
        workers.call(i % 2, "GET", "/v1/classes?limit=1", rider).status_code for i in range(10)
    ]
    elapsed = time.monotonic() - started
    assert set(codes) == {200, 429}
    assert 4 <= codes.count(200) <= 4 + 0.5 * elapsed + 1e-9
    refused = workers.call(1, "GET", "/v1/classes?limit=1", rider)
    assert refused.status_code == 429 and "0.5 requests/s, burst 4" in refused.json()["error"]


def test_a_device_has_one_budget_whichever_worker_answers(workers: Workers) -> None:
    """1,200 samples of burst at 10 samples/s: two batches of 600 pass, through either worker,
    and the next two are refused (a budget per worker would take all four)."""
    device = "bike-global"
    live = workers.call(0, "GET", "/v1/classes?live=true&hours=2", workers.admin).json()
    class_id = live["classes"][0]["id"]
    dev = token("device", device)  # its own bucket of 4 requests covers the 4 batches
    codes = []
    for i in range(4):
        body = batch(device, class_id, range(600 * i, 600 * (i + 1)))
        codes.append(workers.call(i % 2, "POST", "/v1/telemetry", dev, json=body))
    assert [r.status_code for r in codes] == [202, 202, 429, 429]
    assert "exceeds its telemetry limit of 10 samples/s" in codes[-1].json()["error"]
    stored = workers.call(1, "GET", f"/v1/devices/{device}/samples", workers.admin).json()
    assert stored["count"] == 1200


def test_a_workout_retried_through_the_other_worker_is_stored_once(workers: Workers) -> None:
    body = {"rider_id": "r-retry", "class_id": "", "duration_s": 600.0}
    live = workers.call(0, "GET", "/v1/classes?live=true&hours=2", workers.admin).json()
    body["class_id"] = live["classes"][0]["id"]
    key = {"Idempotency-Key": "ride-1"}
    admin = workers.admin  # exempt from the tight rate limit of this module
    first = workers.call(0, "POST", "/v1/workouts", admin, json=body, headers=key)
    again = workers.call(1, "POST", "/v1/workouts", admin, json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and again.headers["Idempotent-Replayed"] == "true"
