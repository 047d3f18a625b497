"""Running the reference platform: one process, or N worker processes sharing one port.

`serve(settings, workers, announce)` blocks until SIGINT or SIGTERM, then shuts down cleanly
(in-flight requests finish, queued writes commit, the stream consumers stop). It calls
`announce(line)` once, when the service is ready (every component started, `/healthz` 200).
With `workers > 1` (Redis only: the embedded backend cannot be shared) it spawns N processes,
each binding the port with SO_REUSEPORT so the kernel spreads connections between them; each
worker's stream consumers join the same consumer groups under their own names, and the workers
share their rate-limit buckets (`twin.serve.backends.redis_limiter`) and faults
(`twin.serve.fault_sync`) through Redis too. A worker that dies is restarted under the same index
after a backoff (0.5 s, doubling to 30 s while it keeps dying), with one line on stderr saying
why it died; the others serve meanwhile. Before serving on Redis, `check_redis` refuses a Redis
that would lose acknowledged writes on a restart unless told `allow_data_loss`. The event loop
is uvloop's when it is installed.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import signal
import ssl
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any, TypeVar

from aiohttp import web
from redis.exceptions import RedisError

from twin.errors import InputError, TargetError, TwinError
from twin.serve.admission import redis_pool_size
from twin.serve.app import create_app
from twin.serve.backends import redact_url
from twin.serve.state import STATE, ServeSettings

__all__ = ["check_redis", "run_loop", "serve"]

T = TypeVar("T")
Say = Callable[[str], None]

READY_TIMEOUT_S = 600.0
# Connections the kernel may hold for accept(): aiohttp's default, 128, overflows when a burst
# of clients connects at once (a reconnect storm, a load generator opening connections as its
# concurrency grows), and an overflow drops the SYN: the client retries after 1 s, then 3 s,
# 7 s. Those seconds are latency no admission limit can see or bound, so the server accepts the
# burst and answers each request (503 if it must) instead. The kernel caps it at somaxconn.
LISTEN_BACKLOG = 4096


def check_redis(url: str, allow_data_loss: bool = False, connections: int = 0) -> None:
    """Raise a one-line `TargetError` unless Redis at `url` answers PING, keeps what it
    acknowledged across a restart (AOF, `appendfsync always|everysec`) or `allow_data_loss`,
    and takes `connections` clients (its `maxclients`)."""
    # Deferred: only a Redis run loads redis-py.
    from twin.serve.backends.redis import client_room_problem, connect, persistence_problem

    async def check() -> tuple[str | None, str | None]:
        client = await connect(url)
        try:
            return await persistence_problem(client), await client_room_problem(client, connections)
        finally:
            await client.aclose()

    problem, room = asyncio.run(check())
    if room:
        raise TargetError(
            f"--redis {redact_url(url)!r}: {room} (--workers x (--max-inflight + --consumers + "
            "8)): raise its maxclients, or lower --max-inflight or --workers"
        )
    if problem and not allow_data_loss:
        raise TargetError(
            f"--redis {redact_url(url)!r}: {problem}, so a restart loses acknowledged samples: "
            "run it with --appendonly yes --appendfsync everysec (or always), "
            "or pass --allow-data-loss"
        )


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


async def _start(settings: ServeSettings, reuse_port: bool) -> tuple[web.AppRunner, str]:
    app = create_app(settings)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    try:
        await runner.setup()
    except RedisError as exc:
        raise TargetError(f"--redis {redact_url(settings.redis_url or '')!r}: {exc}") from exc
    site = web.TCPSite(
        runner, settings.host, settings.port, reuse_port=reuse_port, ssl_context=tls(settings),
        backlog=LISTEN_BACKLOG,
    )  # fmt: skip
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise TargetError(f"cannot listen on {settings.host}:{settings.port}: {exc}") from exc
    host, port = runner.addresses[0][:2]
    return runner, f"{settings.scheme}://{host}:{port}"


def tls(settings: ServeSettings) -> ssl.SSLContext | None:
    """The server's TLS context (TLS 1.2 or later) from `--tls-cert`/`--tls-key`, or None.

    A file that is missing or not a matching PEM certificate and key is one line, naming it.
    """
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    for option, path in (("--tls-cert", settings.tls_cert), ("--tls-key", settings.tls_key)):
        if not path.is_file():
            raise InputError(option, None, f"no such file: {path}")
    try:
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
    except (ssl.SSLError, ValueError) as exc:
        raise InputError(
            "--tls-cert", None, f"{settings.tls_cert} and {settings.tls_key}: not a PEM "
            f"certificate chain and its private key ({exc.args[-1] if exc.args else exc})",
        ) from None  # fmt: skip
    return context


async def _wait_ready(app: web.Application, stop: asyncio.Event) -> bool:
    state = app[STATE]
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not state.ready and not stop.is_set():
        if time.monotonic() > deadline:
            raise TargetError(f"not ready after {READY_TIMEOUT_S:g} s: {sorted(state.pending)}")
        await asyncio.sleep(0.05)
    return state.ready


async def _serve_one(
    settings: ServeSettings, announce: Callable[[str, str], None], *, reuse_port: bool = False
) -> None:
    stop = _stop_event()
    runner, url = await _start(settings, reuse_port)
    try:
        if await _wait_ready(runner.app, stop):
            announce(url, await runner.app[STATE].backend.describe())
            await stop.wait()
    finally:
        await runner.cleanup()


def _ready_line(url: str, described: str, settings: ServeSettings, workers: int) -> str:
    procs = f", {workers} workers" if workers > 1 else ""
    loop = "uvloop; " if _uvloop() is not None else ""
    shards = f"{settings.consumers} shards{procs}"
    return f"twin serve: ready at {url} (backend {described}; {loop}{shards})"


def _uvloop() -> Any:
    """The `uvloop` module when it is installed (a faster event loop), else None."""
    try:  # optional: not installed on Windows
        import uvloop
    except ImportError:
        return None
    return uvloop


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)`, on uvloop when it is installed: the server's loop does the socket
    work of every request, and uvloop's is libuv's, in C."""
    uvloop = _uvloop()
    with asyncio.Runner(loop_factory=None if uvloop is None else uvloop.new_event_loop) as runner:
        return runner.run(main)


def serve(
    settings: ServeSettings,
    workers: int,
    announce: Callable[[str], None],
    warn: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> None:
    """Serve until SIGINT/SIGTERM; `announce` gets the one ready line, `warn` what went wrong
    meanwhile (a worker that died and is restarted)."""
    if workers < 1:
        raise InputError("--workers", None, f"must be >= 1, got {workers}")
    if workers > 1 and not settings.redis_url:
        raise InputError(
            "--workers", None, "more than one worker needs --redis (embedded state is per process)"
        )
    if workers > 1 and settings.port == 0:
        raise InputError("--port", None, "workers must share a fixed port, not 0")
    tls(settings)  # a bad certificate or key: one line before anything starts
    if settings.redis_url:
        pool = redis_pool_size(settings.max_inflight, settings.consumers)
        check_redis(settings.redis_url, settings.allow_data_loss, workers * pool)
    if workers == 1:
        run_loop(_serve_one(settings, lambda url, d: announce(_ready_line(url, d, settings, 1))))
        return
    _serve_workers(settings, workers, announce, warn)


def _worker_main(settings: ServeSettings, ready: Any) -> None:
    """Entry point of a spawned worker: serve, report ready (or the error) to the parent."""
    try:
        run_loop(_serve_one(settings, lambda url, d: ready.put(("ready", url, d)), reuse_port=True))
    except TwinError as exc:
        ready.put(("error", str(exc), ""))
    except KeyboardInterrupt:
        pass


def _serve_workers(
    settings: ServeSettings, workers: int, announce: Callable[[str], None], warn: Say
) -> None:
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Queue()
    procs = [_spawn(ctx, settings, i, ready) for i in range(workers)]
    stopping: list[int] = []
    previous = {s: signal.signal(s, lambda n, _f: stopping.append(n)) for s in _SIGNALS}
    try:
        for proc in procs:
            proc.start()
        url, described = _await_workers(procs, ready, stopping)
        if url:
            announce(_ready_line(url, described, settings, workers))
            _supervise(ctx, settings, procs, ready, stopping, warn)
    finally:
        _stop_workers(procs)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _spawn(ctx: Any, settings: ServeSettings, index: int, ready: Any) -> Any:
    """Worker `index` (not started): its consumers keep their names across restarts, so a new
    one first finishes what the dead one had read."""
    return ctx.Process(target=_worker_main, args=(replace(settings, worker_index=index), ready))


BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
STABLE_AFTER_S = 60.0  # a worker up this long starts its backoff from the first step again


def death(exitcode: int | None) -> str:
    """Why a worker process ended, in words: `killed by SIGKILL`, `exited with status 1`."""
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exited with status {exitcode}"


class _Supervisor:
    """Restarts dead workers: each after a backoff that doubles while it keeps dying."""

    def __init__(self, ctx: Any, settings: ServeSettings, ready: Any, warn: Say) -> None:
        self.ctx, self.settings, self.ready, self.warn = ctx, settings, ready, warn
        self.backoff: dict[int, float] = {}
        self.started: dict[int, float] = {}
        self.due: dict[int, float] = {}

    def check(self, procs: list[Any], now: float) -> None:
        for i, proc in enumerate(procs):
            if i in self.due:
                if now >= self.due[i]:
                    del self.due[i]
                    procs[i] = _spawn(self.ctx, self.settings, i, self.ready)
                    procs[i].start()
                    self.started[i] = now
            elif not proc.is_alive():
                self._schedule(i, proc, now)

    def _schedule(self, i: int, proc: Any, now: float) -> None:
        if now - self.started.get(i, -math.inf) > STABLE_AFTER_S:
            self.backoff[i] = BACKOFF_FIRST_S
        wait = self.backoff.get(i, BACKOFF_FIRST_S)
        self.warn(f"twin serve: worker {i} (pid {proc.pid}) {death(proc.exitcode)}; "
                  f"restarting it in {wait:g} s")  # fmt: skip
        self.due[i] = now + wait
        self.backoff[i] = min(BACKOFF_MAX_S, wait * 2)


def _supervise(
    ctx: Any, settings: ServeSettings, procs: list[Any], ready: Any, stopping: list[int],
    warn: Say,
) -> None:  # fmt: skip
    """Until a signal: restart each worker that dies (see `_Supervisor`)."""
    supervisor = _Supervisor(ctx, settings, ready, warn)
    while not stopping:
        time.sleep(0.1)
        _drain(ready)
        supervisor.check(procs, time.monotonic())


def _drain(ready: Any) -> None:
    """Empty the ready queue (restarted workers report there too; nobody waits on them)."""
    while True:
        try:
            ready.get_nowait()
        except Exception:  # queue.Empty
            return


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _await_workers(procs: list[Any], ready: Any, stopping: list[int]) -> tuple[str, str]:
    """Wait for every worker's ready message; raise the first worker's error."""
    url, described, count = "", "", 0
    deadline = time.monotonic() + READY_TIMEOUT_S
    while count < len(procs) and not stopping:
        if time.monotonic() > deadline or not all(p.is_alive() for p in procs):
            raise TargetError("a worker process exited before it was ready")
        try:
            kind, url, described = ready.get(timeout=0.1)
        except Exception:  # queue.Empty: keep waiting
            continue
        if kind == "error":
            raise TargetError(f"worker failed: {url}")
        count += 1
    return (url, described) if count == len(procs) else ("", "")


def _stop_workers(procs: list[Any], grace_s: float = 15.0) -> None:
    for proc in procs:
        if proc.is_alive():
            proc.terminate()  # SIGTERM: each worker shuts down cleanly
    deadline = time.monotonic() + grace_s
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            proc.kill()
            proc.join()
