"""Admission control on both backends: past `max_inflight` requests in progress, a 503 at once.

Requests are held in progress for real: raw sockets send a telemetry request's headers
(a valid token, a Content-Length) and no body, so the handler waits for the body. The overload
figures (goodput and p99 at 1x/2x/4x the sustainable rate) are `benchmarks/bench_overload.py`.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.serve.helpers import SECRET, Client, ThreadServer, batch, live_class, wait_for
from twin.cli.app import main
from twin.serve.admission import (
    TARGET_S,
    WINDOW_S,
    AdaptiveLimit,
    quantile,
    redis_pool_size,
)
from twin.serve.backends import commit_wait
from twin.serve.backends.commit_wait import CommitWait

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


def _windows(limit: AdaptiveLimit, clock: list[float], count: int, seconds: float,
             refused: bool = False) -> list[int]:  # fmt: skip
    """`count` windows in each of which one request takes `seconds`; the limit after each.

    With `refused`, the window also turns a request away (the limit binds).
    """
    seen = []
    for _ in range(count):
        ticket = limit.admit(clock[0])
        assert ticket is not None
        if refused:
            held = [limit.admit(clock[0]) for _ in range(limit.current)]
            for other in held:
                if other is not None:
                    limit.done(other, clock[0] + seconds)
        limit.done(ticket, clock[0] + seconds)
        clock[0] += max(seconds, WINDOW_S)
        limit.tick(clock[0])
        seen.append(limit.current)
    return seen


def test_the_limit_is_cut_while_the_deadline_is_missed_and_grows_back_only_where_it_binds() -> None:
    limit, clock = AdaptiveLimit(128), [0.0]
    assert limit.current == 32  # a quarter of the ceiling until a burst needs more
    assert _windows(limit, clock, 3, 0.1 * TARGET_S) == [32] * 3  # fast, never binding: holds
    assert _windows(limit, clock, 3, 0.1 * TARGET_S, refused=True) == [40, 50, 62]  # +25 %
    assert _windows(limit, clock, 10, 0.1 * TARGET_S, refused=True)[-1] == 128  # the ceiling
    # Missing the deadline: cut in proportion, by 10 % to 50 % a window.
    assert _windows(limit, clock, 1, 1.1 * TARGET_S) == [115]  # 128 * 0.9
    assert _windows(limit, clock, 1, 1.6 * TARGET_S) == [71]  # 115 * 0.625
    assert _windows(limit, clock, 1, 4 * TARGET_S) == [35]  # 71 * 0.5
    assert _windows(limit, clock, 10, 4 * TARGET_S)[-1] == 8  # down to the floor, never below
    # Between half the target and the target: holds, binding or not.
    assert _windows(limit, clock, 3, 0.7 * TARGET_S, refused=True) == [8] * 3


def test_a_slow_service_within_the_deadline_keeps_its_concurrency() -> None:
    """A group commit whose fsync takes 30 ms is no queue to cut (the rule this one replaced
    cut it: every request was over twice the fastest ever seen)."""
    limit, clock = AdaptiveLimit(128), [0.0]
    _windows(limit, clock, 12, 0.001, refused=True)  # the fastest ever: 1 ms
    assert limit.current == 128
    assert _windows(limit, clock, 20, 0.03, refused=True) == [128] * 20


def test_requests_still_running_count_before_they_end() -> None:
    """A burst admitted at once is seen while it runs: the next window's admission cuts."""
    limit = AdaptiveLimit(128)
    tickets = [limit.admit(0.0) for _ in range(32)]
    assert None not in tickets and limit.admit(0.0) is None and limit.inflight == 32
    assert limit.admit(4 * TARGET_S) is None  # all 32 still running, 200 ms old: cut by half
    assert limit.current == 16
    for ticket in tickets:
        limit.done(ticket, 4 * TARGET_S)  # type: ignore[arg-type]
    assert limit.inflight == 0


def test_a_segment_counts_against_the_limit_but_gives_no_time() -> None:
    limit = AdaptiveLimit(8)
    streamed = limit.admit(0.0, timed=False)
    assert limit.inflight == 1 and streamed is not None
    assert limit.admit(10.0) is not None  # a 10 s segment in progress is not a missed deadline
    assert limit.current == 8


def test_quantile_is_the_nearest_rank() -> None:
    assert quantile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 3.0
    assert quantile([5.0], 0.9) == 5.0


def test_the_limit_grows_when_requests_in_progress_come_near_it() -> None:
    """Three quarters of the limit in progress at once, all fast: room is made before a 503."""
    for busy, grown in ((23, 32), (24, 40)):  # 23 of 32 is under three quarters; 24 is not
        limit = AdaptiveLimit(128)
        tickets = [limit.admit(0.0) for _ in range(busy)]
        for ticket in tickets:
            limit.done(ticket, 0.001)  # type: ignore[arg-type]
        limit.tick(WINDOW_S)
        assert limit.current == grown


@given(
    st.lists(
        st.tuples(st.booleans(), st.floats(0.0, 0.5), st.integers(0, 1000)),
        min_size=1,
        max_size=300,
    )
)
def test_the_limit_stays_within_its_bounds_and_is_never_exceeded(
    steps: list[tuple[bool, float, int]],
) -> None:
    """Any sequence of arrivals and departures, at any pace: no more requests in progress than
    the limit in force when each was admitted, never fewer than none, the limit within
    [floor, ceiling], and every ticket given back leaves the count where it started."""
    limit, now, running = AdaptiveLimit(64), 0.0, []
    for arrive, pause, pick in steps:
        now += pause
        if arrive or not running:
            before = limit.inflight
            ticket = limit.admit(now)
            if ticket is None:
                assert limit.inflight == before >= limit.current
            else:
                running.append(ticket)
                assert limit.inflight == before + 1 <= limit.current
        else:
            limit.done(running.pop(pick % len(running)), now)
        assert limit.inflight == len(running) >= 0
        assert 8 <= limit.current <= 64
    for ticket in running:
        limit.done(ticket, now)
    assert limit.inflight == 0


def test_commit_waits_are_recorded_only_inside_a_request() -> None:
    async def ingest_like(wait: CommitWait | None) -> float:
        token = commit_wait.CURRENT.set(wait)
        try:
            with commit_wait.waiting_for_commit():
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.02)  # not a commit: not counted
        finally:
            commit_wait.CURRENT.reset(token)
        return 0.0 if wait is None else wait.total(0.0)

    waited = asyncio.run(ingest_like(CommitWait()))
    assert 0.02 <= waited < 0.035
    assert asyncio.run(ingest_like(None)) == 0.0  # the stream processor's calls: nothing kept


@pytest.mark.redis
def test_the_redis_backend_times_its_ingest_as_a_commit_wait(redis_url: str) -> None:
    """On a real Redis (AOF, fsync always), the ingest's round trip is recorded as the wait."""
    import time

    from twin.serve.backends.redis import RedisBackend
    from twin.serve.validation import parse_telemetry

    async def run() -> tuple[float, float]:
        backend = RedisBackend(redis_url, shards=1)
        await backend.start()
        wait = CommitWait()
        token = commit_wait.CURRENT.set(wait)
        try:
            doc = batch(f"commit-wait-{time.time_ns()}", "c1", range(50))
            raw = json.dumps(doc).encode()
            parsed = parse_telemetry(raw, now=time.time(), max_batch=500, max_future_s=60,
                                     max_age_s=86_400)  # fmt: skip
            began = time.perf_counter()
            result = await backend.ingest(parsed)
            elapsed = time.perf_counter() - began
            assert result.accepted == 50
            return wait.total(0.0), elapsed
        finally:
            commit_wait.CURRENT.reset(token)
            await backend.close()

    waited, elapsed = asyncio.run(run())
    assert 0 < waited <= elapsed


def test_the_wait_for_redis_commit_is_in_the_metrics(
    server: ThreadServer, client: Client, backend_name: str
) -> None:
    """On Redis each accepted batch's wait for the group commit is observed (and at most its
    time in the server); the embedded backend has none."""
    device = f"commit-metric-{backend_name}"
    body = batch(device, live_class(server.state.catalog).id, range(1, 11))
    name = 'twin_commit_wait_seconds_count{route="telemetry"}'
    before = _metric(client, name)
    reply = client.post("/v1/telemetry", json=body, token=client.token("device", device))
    assert reply.status_code == 202, reply.text
    counted = _metric(client, name) - before
    assert counted == (1 if backend_name == "redis" else 0)
    if backend_name == "redis":
        waited = _metric(client, 'twin_commit_wait_seconds_sum{route="telemetry"}')
        latency = 'twin_http_request_duration_seconds_sum{route="telemetry",status="202"}'
        assert 0 < waited <= _metric(client, latency)
