"""`twin serve` as a user runs it: the ready line, clean shutdown, one-line errors, workers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.serve.helpers import SECRET, flush_redis, free_port
from twin.cli.app import main
from twin.serve.tokens import verify


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "twin.cli.app", "serve", "--riders", "100", *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def finish(proc: subprocess.Popen[str], signum: int) -> tuple[int, str, str]:
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out, err


def test_serve_prints_one_ready_line_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "TWIN_SECRET"}
    proc = spawn(["--port", str(port), "--data-dir", str(tmp_path)], env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith(f"twin serve: ready at http://127.0.0.1:{port} (backend embedded")
    assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()["status"] == "ok"
    code, out, err = finish(proc, signal.SIGTERM)
    assert code == 0 and out == "" and "Traceback" not in err
    assert (tmp_path / "twin-serve.sqlite3").exists()


def test_without_twin_secret_serve_makes_a_private_secret_and_reuses_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TWIN_SECRET"}
    secrets = []
    for _ in range(2):
        proc = spawn(["--port", "0", "--data-dir", str(tmp_path)], env)
        assert proc.stdout is not None and "ready at" in proc.stdout.readline()
        secret = (tmp_path / "secret").read_text().strip()
        secrets.append(secret)
        code, out, err = finish(proc, signal.SIGTERM)
        assert code == 0 and secret not in out + err
    assert secrets[0] == secrets[1] and len(bytes.fromhex(secrets[0])) == 32
    assert (tmp_path / "secret").stat().st_mode & 0o777 == 0o600
    monkeypatch.delenv("TWIN_SECRET", raising=False)
    assert main(["token", "--rider", "r1", "--data-dir", str(tmp_path)]) == 0
    assert verify(capsys.readouterr().out.strip(), secrets[0]).id == "r1"


def test_a_short_secret_is_refused_in_one_line(tmp_path: Path) -> None:
    proc = spawn(["--port", "0", "--data-dir", str(tmp_path)], {**os.environ, "TWIN_SECRET": "a"})
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and out == ""
    assert err == "twin: TWIN_SECRET: must be at least 32 bytes, got 1\n"


def test_serve_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    proc = spawn(
        ["--port", "0", "--data-dir", str(tmp_path)], {**os.environ, "TWIN_SECRET": SECRET}
    )
    assert proc.stdout is not None and "ready at" in proc.stdout.readline()
    code, _, err = finish(proc, signal.SIGINT)
    assert code == 0 and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "2"], "twin: --workers: more than one worker needs --redis"),
        (["--redis", "nonsense://x"], "twin: --redis 'nonsense://x': not a Redis URL"),
        (
            ["--redis", "redis://127.0.0.1:1/0"],
            "twin: --redis 'redis://127.0.0.1:1/0': cannot reach Redis",
        ),
        (["--consumers", "0"], "twin: twin serve: consumers: must be an integer >= 1, got 0"),
        (
            ["--redis", "redis://u:hunter2@127.0.0.1:1/0"],
            "twin: --redis 'redis://u:***@127.0.0.1:1/0': cannot reach Redis",
        ),
        (["--admin-remote"], "twin: --admin-remote: needs --admin"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(
    args: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TWIN_SECRET", SECRET)
    assert main(["serve", "--port", "0", "--data-dir", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_a_taken_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = spawn(
            ["--port", str(port), "--data-dir", str(tmp_path)],
            {**os.environ, "TWIN_SECRET": SECRET},
        )
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and out == ""
    assert err.strip().startswith(f"twin: cannot listen on 127.0.0.1:{port}")
    assert "Traceback" not in err


@pytest.mark.redis
def test_workers_share_the_port(redis_url: str, tmp_path: Path) -> None:
    flush_redis(redis_url)  # no samples key claimed by an earlier module's server
    port = free_port()
    env = {**os.environ, "TWIN_SECRET": SECRET}
    args = ["--port", str(port), "--redis", redis_url, "--workers", "2"]
    args += ["--data-dir", str(tmp_path)]
    proc = spawn(args, env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    try:
        assert "ready at" in line and line.rstrip().endswith("4 shards, 2 workers)")
        pids = set()
        for _ in range(60):  # a fresh connection each time: the kernel spreads them
            with requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
                pids.add(resp.json()["pid"])
            if len(pids) == 2:
                break
        assert len(pids) == 2
    finally:
        code, _, err = finish(proc, signal.SIGTERM)
    assert code == 0 and "Traceback" not in err


def test_a_burst_of_connections_is_held_for_accept_not_dropped(tmp_path: Path) -> None:
    """While the process is stopped, the kernel completes 400 handshakes into the listen
    backlog (aiohttp's default of 128 would drop the SYNs past it: a 1 s, then 3 s retry)."""
    import selectors

    port = free_port()
    env = {**os.environ, "TWIN_SECRET": SECRET}
    proc = spawn(["--port", str(port), "--data-dir", str(tmp_path)], env)
    socks: list[socket.socket] = []
    try:
        assert proc.stdout is not None and "ready" in proc.stdout.readline()
        proc.send_signal(signal.SIGSTOP)
        with selectors.DefaultSelector() as sel:
            for _ in range(400):
                sock = socket.socket()
                sock.setblocking(False)
                sock.connect_ex(("127.0.0.1", port))
                sel.register(sock, selectors.EVENT_WRITE)
                socks.append(sock)
            connected = {key.fileobj for key, _ in sel.select(timeout=0.5)}
        assert len(connected) == 400
        assert all(s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0 for s in socks)
        proc.send_signal(signal.SIGCONT)
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
    finally:
        proc.send_signal(signal.SIGCONT)
        for sock in socks:
            sock.close()
        code, _, err = finish(proc, signal.SIGTERM)
    assert code == 0 and "Traceback" not in err


def test_a_test_server_stuck_in_its_shutdown_is_cancelled_not_left_running(
    tmp_path: Path,
) -> None:
    """`ThreadServer.stop()` past its wait cancels the loop's tasks: no thread outlives a test
    to poll a Redis the session has stopped (the "Error 111" lines after pytest's summary)."""
    import asyncio

    from tests.serve.helpers import ThreadServer, settings_for

    server = ThreadServer(settings_for(tmp_path, "embedded", None)).start()

    async def hang(grace_s: float = 5.0) -> None:
        await asyncio.sleep(3600)  # a close that never ends

    server.state.backend.close = hang  # type: ignore[method-assign]
    server.stop(timeout_s=1.0)
    assert not server._thread.is_alive()
