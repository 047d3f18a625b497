"""The platform a drill hits: a local `twin serve` it starts and stops, or any host of the API.

`LocalPlatform` runs `twin serve` as a child process on a free port with a fresh data folder,
a secret of its own (in `TWIN_SECRET`) and its admin API on (loopback only), waits for its
ready line, and stops it (SIGTERM, then SIGKILL) however the drill ends. `Target` is the small
synchronous client the drill itself needs around the load
(checking the host answers and accepts the drill's tokens, reading the class list, setting
faults, scraping `/metrics`); the load itself comes from Locust, never from here.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

from twin.errors import TargetError

__all__ = ["LocalPlatform", "Target", "hls_problem"]

_READY = "ready at "


class Target:
    """A host speaking the reference platform's API, seen through blocking HTTP calls."""

    def __init__(self, url: str, timeout_s: float = 10.0, ca_cert: Path | None = None) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        # https: the host's certificate is checked against `ca_cert`, else the system's CAs
        self._tls = ssl.create_default_context(cafile=ca_cert) if ca_cert else None

    def call(
        self, method: str, path: str, token: str | None = None, body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:  # fmt: skip
        """(status, body); raises TargetError when nothing answers at all. `path` may also be
        an absolute URL."""
        data = None if body is None else json.dumps(body).encode()
        url = path if path.startswith(("http://", "https://")) else self.url + path
        request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(
                request, timeout=self.timeout_s, context=self._tls
            ) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise TargetError(f"cannot reach {self.url}: {reason}") from None

    def check(self, rider_token: str) -> None:
        """Fail in one line unless the host answers and accepts the drill's rider token."""
        status, _ = self.call("GET", "/v1/classes?limit=1", rider_token)
        if status in (401, 403):
            raise TargetError(
                f"{self.url} refuses the drill's tokens (HTTP {status}): set TWIN_SECRET to "
                "the secret the target signs tokens with"
            )
        if status >= 400:
            raise TargetError(f"{self.url} answers GET /v1/classes with HTTP {status}")

    def classes(self, token: str, hours: int) -> tuple[list[dict[str, Any]], dict[str, float]]:
        """The live classes (epoch start and end) within `hours`, and the on-demand lengths."""
        live = self._json("GET", f"/v1/classes?live=true&hours={hours}&limit=5000", token)
        vod = self._json("GET", "/v1/classes?live=false&limit=5000", token)
        running = [
            {"id": c["id"], "start": _epoch(c["starts_at"]),
             "end": _epoch(c["starts_at"]) + float(c["duration_s"]), "weight": 1.0}
            for c in live.get("classes", []) if c.get("starts_at")
        ]  # fmt: skip
        on_demand = {c["id"]: float(c["duration_s"]) for c in vod.get("classes", [])}
        if not on_demand:
            raise TargetError(f"{self.url} lists no on-demand classes to ride")
        return running, on_demand

    def _json(self, method: str, path: str, token: str | None = None, body: Any = None) -> Any:
        status, raw = self.call(method, path, token, body)
        if status >= 400:
            raise TargetError(f"{self.url} answers {method} {path} with HTTP {status}")
        return json.loads(raw or b"{}")

    def set_faults(self, admin_token: str, doc: dict[str, Any]) -> dict[str, Any]:
        """PATCH the fault-injection document (see `twin.serve.admin`)."""
        return dict(self._json("PATCH", "/v1/admin/faults", admin_token, doc))

    def clear_faults(self, admin_token: str) -> None:
        self._json("DELETE", "/v1/admin/faults", admin_token)

    def device_samples(self, device_id: str, token: str) -> list[dict[str, Any]]:
        """The telemetry samples the host stored for a device (`GET /v1/devices/{id}/samples`,
        the reference API's); an empty list when it answers none."""
        status, raw = self.call("GET", f"/v1/devices/{device_id}/samples", token)
        if status != 200:
            return []
        samples = json.loads(raw or b"{}").get("samples")
        return samples if isinstance(samples, list) else []

    def metrics(self) -> str | None:
        """The Prometheus text of `/metrics`, or None when the host has none."""
        try:
            status, raw = self.call("GET", "/metrics")
        except TargetError:
            return None
        return raw.decode("utf-8", "replace") if status == 200 else None


def hls_problem(target: Target, path: str, headers: dict[str, str]) -> str | None:
    """Why the playlist at `path` on `target` is not an HLS playlist (None: it is one)."""
    status, raw = target.call("GET", path, headers=headers)
    where = path if path.startswith(("http://", "https://")) else target.url + path
    if status >= 400:
        return f"{where} answers HTTP {status}"
    head = raw[:200].decode("utf-8", "replace").lstrip("\ufeff").lstrip()
    if not head.startswith("#EXTM3U"):
        first = head.splitlines()[0][:40] if head else "nothing"
        return f"{where} answers {first!r}, not an HLS playlist (no #EXTM3U)"
    return None


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class LocalPlatform:
    """`twin serve` as a child process: `start()` returns its URL, `stop()` ends it."""

    def __init__(
        self, folder: Path, *, riders: int, seed: int = 0, consumers: int = 4,
        serve_args: tuple[str, ...] = (),
    ) -> None:  # fmt: skip
        self.folder = Path(folder)
        self.serve_args = tuple(serve_args)  # more `twin serve` options (an A/B drill's variant)
        self.riders = riders
        self.seed = seed
        self.consumers = consumers
        self.secret = secrets.token_urlsafe(32)
        self.process: subprocess.Popen[str] | None = None
        self.url: str | None = None

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "twin.cli.app", "serve", "--port", "0",
            "--data-dir", str(self.folder / "serve-data"), "--riders", str(self.riders),
            "--seed", str(self.seed), "--consumers", str(self.consumers), "--admin",
            *self.serve_args,
        ]  # fmt: skip

    def start(self, timeout_s: float = 180.0) -> str:
        """Start `twin serve` and wait for its ready line; TargetError if it never comes."""
        self.folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "TWIN_SECRET": self.secret, "OPENBLAS_NUM_THREADS": "1"}
        with (self.folder / "serve.log").open("w", encoding="utf-8") as log:
            self.process = subprocess.Popen(
                self.command(), stdout=subprocess.PIPE, stderr=log, text=True, env=env
            )
        lines: queue.Queue[str] = queue.Queue()
        assert self.process.stdout is not None
        threading.Thread(target=_pump, args=(self.process.stdout, lines), daemon=True).start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            if _READY in line:
                self.url = line.split(_READY, 1)[1].split()[0]
                return self.url
        self.stop()
        tail = (self.folder / "serve.log").read_text(encoding="utf-8").strip().splitlines()
        raise TargetError(f"twin serve did not start: {tail[-1] if tail else 'no output'}")

    def stop(self, grace_s: float = 15.0) -> None:
        """SIGTERM (a clean shutdown), then SIGKILL after `grace_s`; safe to call twice."""
        proc, self.process = self.process, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _pump(stream: Any, lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)
