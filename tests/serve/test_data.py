"""Stored data: a conflicting re-send is a 409 naming the stored sample, files are private."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path
from typing import Any

from tests.serve.helpers import Client, ThreadServer, batch, live_class, settings_for, wait_for


def _post(client: Client, body: dict[str, Any]) -> Any:
    token = client.token("device", body["device_id"])
    return client.post("/v1/telemetry", token=token, json=body)


def test_a_conflicting_resend_is_409_with_the_stored_fingerprint_and_stores_nothing(
    server: ThreadServer, client: Client, uid: str
) -> None:
    device, class_id = f"bike-{uid}", str(live_class(server.state.catalog).id)
    first = batch(device, class_id, range(5))
    assert _post(client, first).status_code == 202
    same = _post(client, first)  # an honest retry: still a duplicate
    assert same.status_code == 202 and same.json() == {"accepted": 0, "duplicates": 5}
    changed = batch(device, class_id, [2, 5], power_w=321.0)
    resp = _post(client, changed)
    got = client.get(f"/v1/devices/{device}/samples", token=client.token("device", device))
    stored = [json.dumps(doc, separators=(",", ":")) for doc in got.json()["samples"]]
    expected = "sha256:" + hashlib.sha256(stored[2].encode()).hexdigest()
    assert resp.status_code == 409
    assert resp.json() == {
        "error": "samples: seq 2 is already stored with other content",
        "seq": 2,
        "fingerprint": expected,
    }
    assert len(stored) == 5  # seq 5, new, was not stored either: the batch is refused whole
    assert '"power_w":102.0' in stored[2]  # the stored sample is unchanged


def test_the_embedded_backend_keeps_its_files_private(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    server = ThreadServer(settings_for(folder, "embedded", None)).start()
    try:
        client = Client(server.url)
        class_id = str(live_class(server.state.catalog).id)
        assert _post(client, batch("bike-p", class_id, range(3))).status_code == 202
        files = wait_for(lambda: sorted(folder.glob("twin-serve.sqlite3*")), lambda f: len(f) == 3)
        modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in [folder, *files]}  # while open
    finally:
        server.stop()
    modes["samples.key"] = stat.S_IMODE((folder / "samples.key").stat().st_mode)
    assert modes == {
        "state": 0o700,
        "samples.key": 0o600,
        "twin-serve.sqlite3": 0o600,
        "twin-serve.sqlite3-shm": 0o600,
        "twin-serve.sqlite3-wal": 0o600,
    }
