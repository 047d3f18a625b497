"""Samples encrypted at rest: the raw SQLite files and the raw Redis AOF hold no heart rate.

Each backend gets a server of its own (its own folder, and on Redis its own durable
redis-server), so the files read are exactly that server's. What is read back over HTTP and
what the leaderboard needs still work; a store sealed with one key refuses another key.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serve.helpers import (
    SECRET,
    Client,
    ThreadServer,
    batch,
    free_port,
    live_class,
    settings_for,
    start_redis,
    wait_for,
)
from twin.errors import InputError
from twin.serve.sealing import KEY_FILE, SampleSealer, SealError, load_key

HEART_RATE = 173.5  # a value no other field of the test's samples takes
RAW_MARKERS = (b"heart_rate_bpm", b"173.5", b"cadence_rpm")


@pytest.fixture(params=["embedded", "redis"])
def sealed_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ThreadServer]:
    """A server of its own; `server.raw_dir` is where its bytes land on disk."""
    redis_proc, url, raw = None, None, tmp_path / "data"
    if request.param == "redis":
        raw = tmp_path / "redis"
        raw.mkdir()
        port = free_port()
        redis_proc, url = start_redis(raw, port), f"redis://127.0.0.1:{port}/0"
    server = ThreadServer(settings_for(tmp_path / "data", request.param, url)).start()
    server.raw_dir = raw  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(10)


def _raw_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_no_heart_rate_in_clear_on_disk_and_everything_still_works(
    sealed_server: ThreadServer,
) -> None:
    server, client = sealed_server, Client(sealed_server.url)
    class_id = str(live_class(server.state.catalog).id)
    device = "bike-sealed"
    body = batch(device, class_id, range(20), heart_rate_bpm=HEART_RATE, power_w=200.0)
    token = client.token("device", device)
    assert client.post("/v1/telemetry", token=token, json=body).json()["accepted"] == 20
    retry = client.post("/v1/telemetry", token=token, json=body)  # sealing is deterministic
    assert retry.json() == {"accepted": 0, "duplicates": 20}
    back = client.get(f"/v1/devices/{device}/samples", token=token).json()
    assert [s["heart_rate_bpm"] for s in back["samples"]] == [HEART_RATE] * 20
    viewer = client.token("rider", "viewer")
    board = wait_for(
        lambda: client.get(f"/v1/classes/{class_id}/leaderboard", token=viewer).json(),
        lambda doc: any(e["output_kj"] == 4.0 for e in doc["leaderboard"]),
    )
    assert any(e["output_kj"] == 4.0 for e in board["leaderboard"])  # 20 x 200 W x 1 s
    raw = _raw_bytes(server.raw_dir)  # type: ignore[attr-defined]
    assert raw.count(b'"sealed"') >= 20  # the samples are there, sealed
    for marker in RAW_MARKERS:
        assert marker not in raw, marker


def test_sealing_binds_the_device_and_the_key() -> None:
    sealer = SampleSealer(bytes(range(32)))
    doc = '{"seq":1,"heart_rate_bpm":140.0}'
    sealed = sealer.seal("bike-1", doc)
    assert sealer.seal("bike-1", doc) == sealed and sealer.open("bike-1", sealed) == doc
    assert sealer.seal("bike-1", doc.replace("140", "141")) != sealed
    with pytest.raises(SealError, match="bike-2"):
        sealer.open("bike-2", sealed)  # moved to another device
    with pytest.raises(SealError):
        SampleSealer(bytes(32)).open("bike-1", sealed)
    assert sealer.open("bike-1", doc) == doc  # stored before sealing: served as it is


def test_a_key_file_others_can_read_or_that_is_no_key_is_refused(tmp_path: Path) -> None:
    key = load_key(tmp_path)
    path = tmp_path / KEY_FILE
    assert len(key) == 32 and load_key(tmp_path) == key
    path.chmod(0o644)
    with pytest.raises(InputError, match="readable by others"):
        load_key(tmp_path)
    path.write_text("not hex\n")
    path.chmod(0o600)
    with pytest.raises(InputError, match="not a key"):
        load_key(tmp_path)


def _serve(data_dir: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "twin.cli.app", "serve", "--port", "0", "--riders", "50",
           "--data-dir", str(data_dir)]  # fmt: skip
    env = {**os.environ, "TWIN_SECRET": SECRET}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=False)


@pytest.mark.parametrize("change", ["replaced", "lost"])
def test_a_store_sealed_with_another_key_is_refused_in_one_line(
    tmp_path: Path, change: str
) -> None:
    data = tmp_path / "data"
    server = ThreadServer(settings_for(data, "embedded", None)).start()
    first_id = server.state.sealer.key_id
    server.stop()
    path = data / KEY_FILE
    if change == "replaced":
        path.write_text("ab" * 32 + "\n")
    else:
        path.unlink()
    done = _serve(data)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    said = f"twin: {path}: the stored samples were sealed with key {first_id},"
    assert done.stderr.startswith(said)
