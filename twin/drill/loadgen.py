"""Locust as a separate process: one headless runner, or a master with N worker processes.

With `remote_workers` the master runs alone, bound where workers on other machines reach it
(`twin drill-worker --master-host`), and waits for that many of them (Locust's
`--expect-workers`); the plan and the records travel on Locust's own messages
(`locustfiles/rider.py`). `worker_command` is the command line of such a worker.

Locust is never imported into `twin`: importing it monkey-patches the process with gevent.
`LocustRun` says what to run; `run_locust` starts the processes (`python -m locust`, headless,
CSV statistics with full history), waits for the shape to end the test, and terminates every
process it started if the drill is interrupted or overruns.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twin.drill.request_log import REQUEST_LOG_ENV
from twin.drill.wire import CA_CERT_ENV
from twin.errors import TargetError

__all__ = [
    "LOCUSTFILE",
    "LocustRun",
    "commands",
    "free_port",
    "run_locust",
    "sigterm_as_interrupt",
    "worker_command",
]

LOCUSTFILE = Path(__file__).resolve().parents[2] / "locustfiles" / "rider.py"
CSV_PREFIX = "locust"


def free_port() -> int:
    """A TCP port nobody listens on right now (for the master's worker channel)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class LocustRun:
    """One Locust run of the drill: where, with which plan, how many worker processes."""

    host: str
    plan_path: Path
    out_dir: Path
    workers: int = 1
    timeout_s: float = 600.0
    locustfile: Path = LOCUSTFILE
    ca_cert: Path | None = None  # the CA an https:// host's certificate is checked with
    remote_workers: int = 0  # > 0: a master alone, waiting for that many remote workers
    bind_host: str = "*"
    bind_port: int = 5557
    request_log: bool = False  # each process also writes `requests-<pid>.csv` (every request)


def _base(run: LocustRun) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(run.locustfile), "--loglevel", "WARNING"]


def commands(run: LocustRun, master_port: int | None = None) -> list[list[str]]:
    """The command lines: the headless runner (or master) first, then any workers."""
    head = [
        *_base(run), "--headless", "--host", run.host,
        "--csv", str(run.out_dir / CSV_PREFIX), "--csv-full-history",
        "--exit-code-on-error", "0", "--only-summary", "--stop-timeout", "1",
    ]  # fmt: skip
    if run.remote_workers > 0:
        bind = ["--master-bind-host", run.bind_host, "--master-bind-port", str(run.bind_port)]
        return [[*head, "--master", "--expect-workers", str(run.remote_workers), *bind]]
    if run.workers <= 1:
        return [head]
    port = str(master_port or free_port())
    master = [*head, "--master", "--expect-workers", str(run.workers), "--master-bind-port", port]
    worker = [*_base(run), "--worker", "--master-host", "127.0.0.1", "--master-port", port]
    return [master] + [worker] * run.workers


def worker_command(master_host: str, master_port: int) -> list[str]:
    """A worker on this machine for a master elsewhere (it gets the plan from the master)."""
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--loglevel", "WARNING",
            "--worker", "--master-host", master_host,
            "--master-port", str(master_port)]  # fmt: skip


def _environment(run: LocustRun) -> dict[str, str]:
    return {
        **os.environ,
        "TWIN_DRILL_PLAN": str(run.plan_path),
        "TWIN_DRILL_WORKERS": str(max(1, run.remote_workers or run.workers)),
        "PYTHONUNBUFFERED": "1",
        **({CA_CERT_ENV: str(run.ca_cert)} if run.ca_cert else {}),
        **({REQUEST_LOG_ENV: "1"} if run.request_log else {}),
    }


def run_locust(run: LocustRun) -> float:
    """Run Locust to the end of the plan; the wall seconds it took."""
    if run.workers < 1:
        raise TargetError(f"--workers must be >= 1, got {run.workers}")
    run.out_dir.mkdir(parents=True, exist_ok=True)
    env, started = _environment(run), time.monotonic()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for i, cmd in enumerate(commands(run)):
            with (run.out_dir / f"locust-{i}.log").open("wb") as log:
                procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env))
        code = procs[0].wait(timeout=run.timeout_s)
        for proc in procs[1:]:
            proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        raise TargetError(f"Locust did not finish within {run.timeout_s:g} s") from None
    finally:
        _terminate(procs)
    if code != 0:
        tail = (run.out_dir / "locust-0.log").read_text(errors="replace").strip().splitlines()
        raise TargetError(f"Locust failed (exit {code}): {tail[-1] if tail else 'no output'}")
    return time.monotonic() - started


def _terminate(procs: list[subprocess.Popen[bytes]], grace_s: float = 10.0) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + grace_s
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM ends the process like Ctrl-C, so its `finally` blocks stop the Locust children
    (a drill's, or a drill worker's)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
