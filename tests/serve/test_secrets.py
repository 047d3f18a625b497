"""No public secret: the admin API only when asked for and from loopback, revoked tokens refused,
passwords masked."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.serve.helpers import Client, ThreadServer, settings_for
from twin.cli.app import main
from twin.serve.backends import redact_url
from twin.serve.tokens import verify

FAULTS = "/v1/admin/faults"
OTHER_ADDRESS = "192.0.2.2"  # this machine's non-loopback address in the test container


def _serve(tmp: Path, **overrides: Any) -> ThreadServer:
    return ThreadServer(settings_for(tmp, "embedded", None, **overrides)).start()


@pytest.fixture
def plain(tmp_path: Path) -> Iterator[ThreadServer]:
    running = _serve(tmp_path, admin=False)
    yield running
    running.stop()


def test_without_admin_there_is_no_fault_api_and_admin_tokens_are_refused(
    plain: ThreadServer,
) -> None:
    client = Client(plain.url)
    resp = client.get(FAULTS, token=client.token("admin", "ops"))
    assert resp.status_code == 403 and "without --admin" in resp.json()["error"]
    assert client.get(FAULTS, token=client.token("rider", "r1")).status_code == 404


def _reachable(address: str) -> bool:
    import socket

    try:
        with socket.socket() as sock:
            sock.bind((address, 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _reachable(OTHER_ADDRESS), reason=f"no address {OTHER_ADDRESS} here")
@pytest.mark.parametrize(("remote", "status"), [(False, 403), (True, 200)])
def test_admin_requests_come_from_loopback_unless_told_otherwise(
    tmp_path: Path, remote: bool, status: int
) -> None:
    running = _serve(tmp_path, host="0.0.0.0", admin=True, admin_remote=remote)
    try:
        port = running.settings.port
        admin = Client(running.url).token("admin", "ops")
        headers = {"Authorization": f"Bearer {admin}"}
        local = requests.get(f"http://127.0.0.1:{port}{FAULTS}", headers=headers, timeout=10)
        other = requests.get(f"http://{OTHER_ADDRESS}:{port}{FAULTS}", headers=headers, timeout=10)
        assert local.status_code == 200 and other.status_code == status
        if status == 403:
            assert "loopback only" in other.json()["error"]
    finally:
        running.stop()


def _eventually(fn: Any, timeout_s: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (value := fn()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


def test_a_revoked_token_is_refused_within_seconds_on_both_backends(
    server: ThreadServer, client: Client, uid: str, capsys: pytest.CaptureFixture[str]
) -> None:
    kept, doomed = client.token("rider", f"r-{uid}"), client.token("rider", f"r-{uid}")
    jti = verify(doomed, client.secret).jti
    where = ["--data-dir", str(server.settings.data_dir)]
    if server.settings.redis_url:
        where = ["--redis", server.settings.redis_url]
    assert main(["token", "--revoke", jti, "-q", *where]) == 0
    assert capsys.readouterr().out == ""

    def refused() -> bool:
        resp = client.get("/v1/classes?limit=1", token=doomed)
        return resp.status_code == 401 and resp.json()["error"] == "token revoked"

    assert _eventually(refused)
    assert client.get("/v1/classes?limit=1", token=kept).status_code == 200


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:hunter2@db:6379/0", "redis://:***@db:6379/0"),
        ("redis://ops:hunter2@db/1", "redis://ops:***@db/1"),
        ("redis://db:6379/0", "redis://db:6379/0"),
        ("rediss://u:p%40ss@db", "rediss://u:***@db"),
    ],
)
def test_redis_passwords_are_masked(url: str, shown: str) -> None:
    assert redact_url(url) == shown
