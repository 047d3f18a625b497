"""A client that leaves mid-request is one line in the log, not a traceback, and not a 5xx.

Over a raw socket against a real server: a telemetry body cut short (the read fails) and a
4K segment whose player closes after the headers (the writes fail, the drill's case: a
Locust user stopped mid-download). aiohttp logs what a handler raises as "Error handling
request" with its traceback; the server must instead log one line at info level and count
the request as 499 (client closed request) in `/metrics`.
"""

from __future__ import annotations

import logging
import socket
import struct
import time
from typing import Any

import pytest

from tests.serve.helpers import wait_for

GONE = "client left mid-request"


@pytest.fixture(scope="module")
def backend_name() -> str:
    return "embedded"  # how a connection ends does not depend on the backend


@pytest.fixture(scope="module")
def server_overrides() -> dict[str, Any]:
    return {"origin_egress_bps": 8e6}  # 1 MB/s: a segment past the burst waits, then writes


def _raw(server: Any, head: str, body: bytes = b"", hold_s: float = 0.3) -> None:
    """Send `head` and `body` on a fresh connection, wait `hold_s` (the server reads them and
    starts the handler), then reset the connection, as a killed client's (SO_LINGER 0)."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + body)
        time.sleep(hold_s)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _gone_count(client: Any, route: str) -> float:
    """Requests of `route` the server counted as 499 in `/metrics`."""
    return sum(
        float(x.split()[-1])
        for x in client.get("/metrics").text.splitlines()
        if x.startswith("twin_http_requests_total{")
        and f'route="{route}"' in x
        and 'status="499"' in x
    )


def _check_one_line(caplog: pytest.LogCaptureFixture, path: str) -> None:
    lines = wait_for(
        lambda: [r for r in caplog.records if GONE in r.getMessage() and path in r.getMessage()],
        bool,
        timeout_s=60.0,  # a segment's first request may encode its template first
    )
    logged = [f"{r.name} {r.levelname} {r.getMessage()}" for r in caplog.records]
    assert len(lines) == 1, logged
    assert lines[0].levelno == logging.INFO and lines[0].exc_info is None
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_a_body_cut_short_is_one_line_and_a_499(
    server: Any, client: Any, uid: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    token = client.token("device", f"bike-{uid}")
    head = (f"POST /v1/telemetry HTTP/1.1\nHost: x\nAuthorization: Bearer {token}\n"
            "Content-Type: application/json\nContent-Length: 5000\n\n")  # fmt: skip
    before = _gone_count(client, "telemetry")
    _raw(server, head, b'{"device_id": "bike-')
    _check_one_line(caplog, "/v1/telemetry")
    assert wait_for(lambda: _gone_count(client, "telemetry"), lambda n: n == before + 1)


def test_a_player_leaving_mid_segment_is_one_line_and_a_499(
    server: Any, client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    vod = server.state.catalog.on_demand[0]
    path = f"/v1/live/{vod.id}/4k/0.ts"
    token = client.token("rider", "player-gone")
    # The egress bucket holds one 4K segment (8 MB) at 1 MB/s: after a 4K and a 720p one (1.5
    # MB), the next waits 1.5 s before its first byte (as on an origin past its egress cap),
    # and its player has left by then, so every write fails. (Sent at once, the kernel's
    # loopback buffers could take all 8 MB before the reset: a 200 the client never read.)
    for rendition in ("4k", "720p"):
        assert client.get(f"/v1/live/{vod.id}/{rendition}/0.ts", token=token).status_code == 200
    before = _gone_count(client, "segment")
    _raw(server, f"GET {path} HTTP/1.1\nHost: x\nAuthorization: Bearer {token}\n\n")
    _check_one_line(caplog, path)
    assert wait_for(lambda: _gone_count(client, "segment"), lambda n: n == before + 1)
    time.sleep(0.2)  # nothing else logged after it
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
