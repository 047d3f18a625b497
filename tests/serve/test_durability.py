"""Nothing acknowledged is lost: kill -9 in the middle of ingest, restart, retry, count.

`twin serve` runs as a real subprocess. Client threads, one per device, post batches and retry
each until it is acknowledged (202), as a bike would. Mid-way the victim is killed with SIGKILL
and restarted (or, for a worker, restarted by the supervisor):

    server     `twin serve` itself
    redis      Redis, its AOF fsynced on every write
    worker     one of `twin serve --workers 2`'s two workers (the supervisor restarts it)
    volatile   Redis without persistence (`--allow-data-loss`), restarted empty: what was
               acknowledged before the kill is lost by design; what after, must be kept

At the end every sample the victim's persistence promises must be stored exactly once, and
the leaderboard must hold exactly the sum of those samples' output: the stream processor
neither lost nor double-counted an entry across the crash. Each case prints one line (see it
with `pytest -s`): `kill[victim]: acknowledged A, lost L, duplicated D` (duplicated: stored
more than once, or counted more than once on the leaderboard, in samples' worth of output).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.serve.helpers import (
    DURABLE,
    SECRET,
    VOLATILE,
    Client,
    batch,
    free_port,
    start_redis,
    wait_for,
    worker_pid,
)
from twin.serve.tokens import sign

DEVICES = 6
# Two workers share the port (SO_REUSEPORT): the kernel hashes each rider's kept-alive
# connection to one of them, so with 6 riders all of them land on the surviving worker in
# 1 run of 64 and the kill interrupts nobody (seen once in `make test`). 16: 1 in 65,536.
WORKER_DEVICES = 16
BATCHES = 30
PER_BATCH = 25


class ServeProcess:
    """`twin serve` as a subprocess; `start()` returns when it printed its ready line."""

    def __init__(self, port: int, args: list[str]) -> None:
        self.port = port
        self.args = args
        self.proc: subprocess.Popen[str] | None = None
        self.lines: list[str] = []

    def start(self, timeout_s: float = 60.0) -> None:
        env = {**os.environ, "TWIN_SECRET": SECRET}
        cmd = [sys.executable, "-m", "twin.cli.app", "serve", "--port", str(self.port), *self.args]
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # the one ready line, or "" if it died
        self.lines.append(line)
        assert "ready at" in line, f"twin serve did not start: {line!r}"

    def kill(self) -> None:
        self._end(signal.SIGKILL)

    def stop(self) -> int:
        return self._end(signal.SIGTERM)

    def _end(self, signum: int) -> int:
        assert self.proc is not None and self.proc.stdout is not None
        self.proc.send_signal(signum)
        code = self.proc.wait(30)
        self.proc.stdout.close()
        return code


class Rider(threading.Thread):
    """A device posting `BATCHES` batches in order, each retried until acknowledged."""

    def __init__(self, url: str, device: str, class_id: str) -> None:
        super().__init__(daemon=True)
        self.url, self.device, self.class_id = url, device, class_id
        self.token = sign("device", device, SECRET, 3600)
        self.acked: list[int] = []
        self.retries = 0

    def run(self) -> None:
        session = requests.Session()
        for b in range(BATCHES):
            seqs = range(b * PER_BATCH, (b + 1) * PER_BATCH)
            body = batch(self.device, self.class_id, seqs, power_w=100.0 + b)
            while not self._post(session, body):
                self.retries += 1
                time.sleep(0.05)
            self.acked.extend(seqs)

    def _post(self, session: requests.Session, body: dict[str, Any]) -> bool:
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            resp = session.post(f"{self.url}/v1/telemetry", json=body, headers=headers, timeout=5)
        except requests.RequestException:
            session.close()  # the server died under us: a fresh connection next time
            return False
        assert resp.status_code in (202, 503), resp.text  # 503: Redis restarting
        return resp.status_code == 202


def _persistence(victim: str) -> tuple[str, ...]:
    return VOLATILE if victim == "volatile" else DURABLE


def _kj(seqs: list[int]) -> float:
    """The leaderboard output of these samples (batch b posts 100 + b watts, 1 s each)."""
    return round(sum(100.0 + seq // PER_BATCH for seq in seqs) / 1000.0, 3)


@pytest.mark.redis
@pytest.mark.parametrize("victim", ["server", "redis", "worker", "volatile"])
def test_sigkill_loses_no_acknowledged_sample(tmp_path: Path, victim: str) -> None:
    redis_port, port = free_port(), free_port()
    redis_dir = tmp_path / "redis"
    redis_dir.mkdir()
    redis_procs = [start_redis(redis_dir, redis_port, _persistence(victim))]
    args = ["--redis", f"redis://127.0.0.1:{redis_port}/0", "--riders", "100",
            "--rate", "10000", "--burst", "10000", "--device-rate", "100000",
            "--data-dir", str(tmp_path / "serve")]  # fmt: skip
    args += {"worker": ["--workers", "2"], "volatile": ["--allow-data-loss"]}.get(victim, [])
    server = ServeProcess(port, args)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        _ingest_through_a_crash(server, url, victim, redis_procs, redis_dir, redis_port)
    finally:
        assert server.stop() == 0  # and a clean exit on SIGTERM
        for proc in redis_procs:
            proc.kill()
            proc.wait(10)


def _ingest_through_a_crash(
    server: ServeProcess,
    url: str,
    victim: str,
    redis_procs: list[Any],
    redis_dir: Path,
    redis_port: int,
) -> None:
    client = Client(url)
    class_id = client.get("/v1/classes?live=true&limit=1", token=client.token("rider", "r-0"))
    class_id = class_id.json()["classes"][0]["id"]
    devices = WORKER_DEVICES if victim == "worker" else DEVICES
    riders = [Rider(url, f"bike-{i}", class_id) for i in range(devices)]
    for i, rider in enumerate(riders):
        join = {"rider_id": f"r-{i}", "device_id": rider.device}
        token = client.token("rider", f"r-{i}")
        client.post(f"/v1/classes/{class_id}/join", token=token, json=join)
        rider.start()
    total = devices * BATCHES * PER_BATCH
    wait_for(lambda: sum(len(r.acked) for r in riders), lambda n: n >= total // 3, 30)
    promised = _kill(server, url, victim, redis_procs, redis_dir, redis_port, riders)
    for rider in riders:
        rider.join(60)
    assert all(len(r.acked) == BATCHES * PER_BATCH for r in riders)
    assert sum(r.retries for r in riders) > 0  # the crash really interrupted someone
    _assert_exactly_once(client, riders, class_id, victim, promised)


def _kill(server: ServeProcess, url: str, victim: str, redis_procs: list[Any], redis_dir: Path,
          redis_port: int, riders: list[Rider]) -> list[int]:  # fmt: skip
    """SIGKILL the victim and bring it back; from which of each rider's acknowledgements on
    the store promises to keep them (0: all; a volatile Redis keeps none from before)."""
    if victim == "server":
        server.kill()
        time.sleep(0.3)  # clients hit a dead port meanwhile
        server.start()
    elif victim == "worker":
        pid = worker_pid(url, 1)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        assert wait_for(lambda: worker_pid(url, 1, 2.0), lambda p: p not in (None, pid), 60.0)
    else:
        redis_procs[0].send_signal(signal.SIGKILL)
        redis_procs[0].wait(10)
        time.sleep(0.3)  # the answers Redis sent before it died reach their riders
        before = [len(r.acked) for r in riders]
        redis_procs.append(start_redis(redis_dir, redis_port, _persistence(victim)))
        if victim == "volatile":
            return before
    return [0] * len(riders)


def _board_wanted(riders: list[Rider], promised: list[int], victim: str) -> dict[str, float]:
    """Each rider's output from the samples kept; a volatile Redis also forgot who rides each
    device (the joins), so its board is by device."""
    want = {}
    for i, (rider, since) in enumerate(zip(riders, promised, strict=True)):
        name = f"device:{rider.device}" if victim == "volatile" else f"r-{i}"
        want[name] = _kj(rider.acked[since:])
    return want


def _assert_exactly_once(client: Client, riders: list[Rider], class_id: str, victim: str,
                         promised: list[int]) -> None:  # fmt: skip
    acknowledged = lost = duplicated = kept = 0
    for rider, since in zip(riders, promised, strict=True):
        stored = client.get(f"/v1/devices/{rider.device}/samples", token=rider.token).json()
        seqs = [s["seq"] for s in stored["samples"]]
        acknowledged += len(rider.acked)
        lost += len(set(rider.acked) - set(seqs))
        duplicated += len(seqs) - len(set(seqs))
        assert set(rider.acked[since:]) <= set(seqs), f"{rider.device}: acknowledged, not stored"
        assert len(seqs) == len(set(seqs)) and set(seqs) <= set(rider.acked)
        kept += len(rider.acked) - since
    viewer = client.token("rider", "viewer")

    def board() -> dict[str, float]:
        doc = client.get(f"/v1/classes/{class_id}/leaderboard?n=100", token=viewer).json()
        return {e["rider_id"]: e["output_kj"] for e in doc["leaderboard"]}

    want = _board_wanted(riders, promised, victim)
    got = wait_for(board, lambda b: b == want, 20)
    excess_kj = sum(got.get(k, 0.0) - v for k, v in want.items())
    duplicated += round(max(0.0, excess_kj) / _kj([0]))  # counted twice, in samples of batch 0
    print(f"\nkill[{victim}]: acknowledged {acknowledged}, lost {lost}, duplicated {duplicated}"
          f" (kept from the kill on: {kept})")  # fmt: skip
    assert got == want
    assert lost == (sum(promised) if victim == "volatile" else 0)
