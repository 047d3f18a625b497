"""Admission control on both backends: past `max_inflight` requests in progress, a 503 at once.

Requests are held in progress for real: raw sockets send a telemetry request's headers
(a valid token, a Content-Length) and no body, so the handler waits for the body. The overload
figures (goodput and p99 at 1x/2x/4x the sustainable rate) are `benchmarks/bench_overload.py`.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.serve.helpers import SECRET, Client, ThreadServer, wait_for
from twin.cli.app import main
from twin.serve.admission import TARGET_S, WINDOW_S, AdaptiveLimit, redis_pool_size

LIMIT = 3


@pytest.fixture(scope="module")
def server_overrides() -> dict[str, object]:
    return {"max_inflight": LIMIT}


@contextmanager
def held(server: ThreadServer, client: Client, count: int) -> Iterator[None]:
    """`count` telemetry requests in progress: headers sent, the body never."""
    token = client.token("device", "held-device")
    head = (f"POST /v1/telemetry HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n").encode()  # fmt: skip
    socks = [socket.create_connection((server.settings.host, server.settings.port))]
    try:
        socks[0].sendall(head)
        for _ in range(count - 1):
            socks.append(socket.create_connection((server.settings.host, server.settings.port)))
            socks[-1].sendall(head)
        yield
    finally:
        for sock in socks:
            sock.close()


def _metric(client: Client, line_start: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.split()[-1])
    return 0.0


def test_past_the_limit_requests_are_shed_with_503_and_retry_after(
    server: ThreadServer, client: Client
) -> None:
    rider = client.token("rider", "rider-1")
    shed_before = _metric(client, 'twin_shed_total{route="classes"}')
    assert _metric(client, "twin_admission_limit") == LIMIT
    with held(server, client, LIMIT):
        inflight = wait_for(lambda: _metric(client, "twin_inflight_requests"), lambda v: v == LIMIT)
        assert inflight == LIMIT
        refused = client.get("/v1/classes?limit=1", token=rider)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "1"
        assert refused.json() == {"error": "overloaded, retry"}
        assert client.get("/healthz").status_code == 200  # never shed: balancers and Prometheus
        assert client.get("/openapi.json").status_code == 200
        assert _metric(client, 'twin_shed_total{route="classes"}') == shed_before + 1
    assert wait_for(lambda: _metric(client, "twin_inflight_requests"), lambda v: v == 0) == 0
    assert client.get("/v1/classes?limit=1", token=rider).status_code == 200


def test_one_below_the_limit_is_still_admitted(server: ThreadServer, client: Client) -> None:
    rider = client.token("rider", "rider-1")
    with held(server, client, LIMIT - 1):
        wait_for(lambda: _metric(client, "twin_inflight_requests"), lambda v: v == LIMIT - 1)
        assert client.get("/v1/classes?limit=1", token=rider).status_code == 200


@pytest.mark.redis
def test_the_redis_pool_is_sized_from_the_limit_and_waits_when_full(redis_url: str) -> None:
    from twin.serve.backends.redis import RedisBackend

    async def run() -> tuple[int, list[bool]]:
        backend = RedisBackend(redis_url, shards=4, pool_size=redis_pool_size(LIMIT, 4))
        await backend.start()
        try:
            pool = backend.redis.connection_pool
            # Ten times the pool's connections at once: they wait for one, none fails.
            replies = await asyncio.gather(*(backend.redis.ping() for _ in range(150)))
            return pool.max_connections, replies
        finally:
            await backend.close()

    size, replies = asyncio.run(run())
    assert size == LIMIT + 4 + 8 == 15
    assert replies == [True] * 150


@pytest.mark.redis
def test_serve_refuses_workers_whose_pools_redis_cannot_take(
    redis_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("TWIN_SECRET", SECRET)
    args = ["serve", "--redis", redis_url, "--workers", "2", "--port", "1",
            "--max-inflight", "6000", "--data-dir", str(tmp_path)]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "its maxclients 10000 is below the 12024 connections" in err
    assert err.count("\n") == 1


def test_the_limit_falls_while_a_queue_stands_and_climbs_back_when_it_is_gone() -> None:
    limit, now = AdaptiveLimit(128), 0.0

    def windows(count: int, seconds: float) -> list[int]:
        nonlocal now
        seen = []
        for _ in range(count):
            now += WINDOW_S
            limit.observe(seconds, now)  # every request of the window that slow
            seen.append(limit.current)
        return seen

    fast = 0.1 * TARGET_S
    assert windows(3, fast) == [128] * 3  # no queue: the ceiling holds
    queued = windows(40, 4 * TARGET_S)
    assert queued[:3] == [115, 103, 92]  # -10 % a window
    assert queued[-1] == 8  # down to the floor, never below
    assert windows(3, 0.6 * TARGET_S) == [8] * 3  # between half and the target: holds
    climbing = windows(40, fast)
    assert climbing[:3] == [9, 10, 11]  # +10 %, at least one
    assert climbing[-1] == 128  # back to --max-inflight


def test_a_slow_service_is_not_taken_for_a_queue() -> None:
    """An fsync of 80 ms in every request is service time: only twice that is a queue."""
    limit, now = AdaptiveLimit(128), 0.0
    for _ in range(50):
        now += WINDOW_S
        limit.observe(0.08, now)
    assert limit.current == 128 and limit.baseline < 0.1
    for _ in range(3):
        now += WINDOW_S
        limit.observe(0.3, now)  # a queue on top of it
    assert limit.current == 92
