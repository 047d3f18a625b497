"""`twin drill-worker`: a Locust worker on this machine for a drill's master on another.

The worker connects to the master (`twin drill --master --expect-workers N`), receives the
plan over Locust's own messages, rides its share of the riders against the target the master
names, and sends its records back in its reports (`locustfiles/rider.py`). Before starting it
checks that the master's port answers at all, so an unreachable master is one line naming the
host rather than Locust's minute of retries; a plan this checkout cannot read (another wire
format) ends the worker with that one line too.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
from pathlib import Path

from twin.drill.loadgen import sigterm_as_interrupt, worker_command
from twin.errors import InputError, TargetError

__all__ = ["LINE_PREFIX", "check_master", "run_worker"]

LINE_PREFIX = "twin drill-worker: "  # how the worker process reports a plan it cannot read


def check_master(host: str, port: int, timeout_s: float = 5.0) -> None:
    """Raise TargetError (one line, the host) unless something listens at `host:port`."""
    if not 0 < port < 65536:
        raise InputError("--master-port", None, f"must be a TCP port, got {port}")
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise TargetError(f"cannot reach the drill's master at {host}:{port}: {reason}") from None


def run_worker(host: str, port: int, log: Path | None = None) -> None:
    """Run one worker until the master ends the drill; TargetError if it fails. The worker
    process is stopped however this ends (an error, Ctrl-C or SIGTERM)."""
    check_master(host, port)
    env = {k: v for k, v in os.environ.items() if k != "TWIN_DRILL_PLAN"}
    env["PYTHONUNBUFFERED"] = "1"
    with tempfile.TemporaryDirectory() as tmp:
        path = log or Path(tmp) / "worker.log"
        with path.open("wb") as out, sigterm_as_interrupt():
            proc = subprocess.Popen(worker_command(host, port), stdout=out,
                                    stderr=subprocess.STDOUT, env=env)  # fmt: skip
            try:
                code = proc.wait()
            finally:
                _stop(proc)
        if code == 0:
            return
        lines = path.read_text(errors="replace").strip().splitlines()
        said = [ln.removeprefix(LINE_PREFIX) for ln in lines if ln.startswith(LINE_PREFIX)]
        raise TargetError(said[-1] if said else f"the worker failed (exit {code}): "
                          f"{lines[-1] if lines else 'no output'}")  # fmt: skip


def _stop(proc: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


