"""Recovery: Redis that lost its data, a Redis that would lose it, a worker that died.

Each test runs its own redis-server (the session's is durable and shared): one without
persistence, SIGKILLed and restarted empty, after which the stream consumers recreate their
groups and `/healthz` goes from `degraded` back to `ok`; and `twin serve --workers 2`, one of
whose workers is SIGKILLed and comes back under the same index.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.serve.helpers import (
    SECRET,
    VOLATILE,
    Client,
    ThreadServer,
    batch,
    flush_redis,
    free_port,
    live_class,
    settings_for,
    start_redis,
    wait_for,
    worker_pid,
)
from twin.cli.app import main

pytestmark = pytest.mark.redis


class VolatileRedis:
    """A redis-server without persistence on a fixed port, to kill and restart empty."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = start_redis(folder, self.port, VOLATILE)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    def restart(self) -> None:
        self.proc = start_redis(self.folder, self.port, VOLATILE)


@pytest.fixture
def volatile(tmp_path: Path) -> Iterator[VolatileRedis]:
    redis = VolatileRedis(tmp_path)
    yield redis
    redis.kill()


def _health(client: Client) -> dict[str, Any]:
    resp = client.get("/healthz")
    return {"code": resp.status_code, **resp.json()}


def _ride(client: Client, class_id: str, device: str, seqs: range) -> int:
    body = batch(device, class_id, seqs)
    return client.post("/v1/telemetry", token=client.token("device", device), json=body).status_code


def _board(client: Client, class_id: str) -> dict[str, float]:
    resp = client.get(f"/v1/classes/{class_id}/leaderboard", token=client.token("rider", "r"))
    return {e["rider_id"]: e["output_kj"] for e in resp.json().get("leaderboard", [])}


def test_consumers_recover_after_redis_lost_its_data(
    volatile: VolatileRedis, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path, "redis", volatile.url, max_lag_s=2.0, consumers=2)
    server = ThreadServer(settings).start()
    try:
        client = Client(server.url)
        class_id = str(live_class(server.state.catalog).id)
        assert _ride(client, class_id, "bike-a", range(10)) == 202
        assert wait_for(lambda: _board(client, class_id), bool) == {"device:bike-a": 1.045}
        volatile.kill()
        degraded = wait_for(lambda: _health(client), lambda h: h["code"] == 503, 10.0)
        assert degraded["status"] == "degraded" and "consumer failing" in degraded["reasons"][0]
        volatile.restart()  # empty: groups, streams and leaderboards are gone
        assert wait_for(lambda: _health(client), lambda h: h["code"] == 200, 15.0)["code"] == 200
        assert _ride(client, class_id, "bike-b", range(5)) == 202
        board = wait_for(lambda: _board(client, class_id), lambda b: "device:bike-b" in b, 10.0)
        assert board == {"device:bike-b": 0.51}  # acknowledged after the loss: on the board
        assert _health(client)["status"] == "ok"
    finally:
        server.stop()


def test_a_shard_stalled_on_a_backlog_makes_healthz_degraded(tmp_path: Path) -> None:
    server = ThreadServer(settings_for(tmp_path, "embedded", None, max_lag_s=1.0)).start()
    try:
        client = Client(server.url)
        class_id = str(live_class(server.state.catalog).id)
        server.state.faults.paused_consumers = 4
        time.sleep(0.5)  # a consumer blocked in its read (0.25 s) sees the pause after it
        assert _ride(client, class_id, "bike-c", range(3)) == 202
        health = wait_for(lambda: _health(client), lambda h: h["code"] == 503, 10.0)
        assert health["status"] == "degraded"
        assert "3 samples behind, no progress for" in health["reasons"][0]
        server.state.faults.paused_consumers = 0
        assert wait_for(lambda: _health(client), lambda h: h["code"] == 200, 10.0)["code"] == 200
    finally:
        server.stop()


def _serve_args(url: str, data_dir: Path, *extra: str) -> list[str]:
    return ["serve", "--port", "0", "--riders", "100", "--redis", url,
            "--data-dir", str(data_dir), *extra]  # fmt: skip


@pytest.mark.parametrize(
    ("persistence", "found"),
    [
        (VOLATILE, "it runs without AOF (appendonly no)"),
        (("--appendonly", "yes", "--appendfsync", "no"), "its AOF is not synced (appendfsync no;"),
    ],
)
def test_serve_refuses_a_redis_that_would_lose_acknowledged_samples(
    tmp_path: Path,
    persistence: tuple[str, ...],
    found: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = free_port()
    proc = start_redis(tmp_path, port, persistence)
    try:
        url = f"redis://127.0.0.1:{port}/0"
        monkeypatch.setenv("TWIN_SECRET", SECRET)
        assert main(_serve_args(url, tmp_path / "serve")) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"twin: --redis '{url}': {found}") and err.count("\n") == 1
        assert "--allow-data-loss" in err
        env = {**os.environ, "TWIN_SECRET": SECRET}
        serve = _serve_args(url, tmp_path / "serve", "--allow-data-loss")
        cmd = [sys.executable, "-m", "twin.cli.app", *serve]
        served = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
        assert served.stdout is not None and "ready at" in served.stdout.readline()
        served.send_signal(signal.SIGTERM)
        assert served.wait(30) == 0
        served.stdout.close()
    finally:
        proc.kill()
        proc.wait(10)


def test_a_killed_worker_is_restarted_and_says_why(redis_url: str, tmp_path: Path) -> None:
    flush_redis(redis_url)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "twin.cli.app", "serve", "--riders", "100", "--port", str(port),
           "--redis", redis_url, "--workers", "2", "--data-dir", str(tmp_path)]  # fmt: skip
    log = tmp_path / "stderr.log"
    with log.open("w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True,
                                env={**os.environ, "TWIN_SECRET": SECRET})  # fmt: skip
    try:
        assert proc.stdout is not None and "ready at" in proc.stdout.readline()
        victim = worker_pid(url, 1)
        assert victim is not None
        os.kill(victim, signal.SIGKILL)
        reborn = wait_for(lambda: worker_pid(url, 1, 2.0), lambda p: p not in (None, victim), 60.0)
        assert reborn not in (None, victim)
        said = log.read_text()
        assert (
            f"twin serve: worker 1 (pid {victim}) killed by SIGKILL; restarting it in 0.5 s" in said
        )
        client = Client(url)
        device = "bike-w"
        class_id = client.get("/v1/classes?live=true&limit=1", token=client.token("rider", "r"))
        class_id = class_id.json()["classes"][0]["id"]
        headers = {"Authorization": f"Bearer {client.token('device', device)}"}
        for k in range(6):  # fresh connections: both workers take some
            body = batch(device, class_id, range(k * 5, k * 5 + 5))
            with requests.post(f"{url}/v1/telemetry", json=body, headers=headers, timeout=10) as r:
                assert r.status_code == 202
        samples = client.get(f"/v1/devices/{device}/samples", token=client.token("device", device))
        assert samples.status_code == 200 and len(samples.json()["samples"]) == 30
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert proc.returncode == 0 and "Traceback" not in log.read_text()
