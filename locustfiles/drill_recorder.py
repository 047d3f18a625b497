"""Per-process record of every drill request, timed from its *intended* send time.

A rider's requests follow a schedule (a playlist every target duration, a telemetry batch every
five seconds...). When the server stalls, the rider falls behind its schedule; timing each
request from when it was *meant* to go (not from when the stalled client finally sent it) keeps
the stall in the numbers instead of hiding it: the coordinated-omission correction.

`Recorder` keeps, per request name, an HdrHistogram of that latency and one of the plain
service latency (sent -> done), counts, errors and sends per drill second, and `dump()`s them to
a JSON file (`twin.drill.wire.RecordFile`) that `twin.drill.measure` merges across processes.
It also keeps the intended latency of each `window_s` of the drill in a histogram of its own:
requests sent close together are not independent samples (a class-start burst, a hiccup of the
machine), and the windows let `twin.drill.measure` say how well a percentile was measured
without assuming they are. With `log` (`twin drill --request-log`) it also keeps one row per
request (`twin.drill.request_log.REQUEST_LOG_COLUMNS`) and each dump appends the new ones to
`requests-<pid>.csv`: what a question about single requests needs (which waited behind what,
how latency follows the gap before a request), which no histogram keeps. It imports neither
locust nor any of twin but its wire and log formats (`twin.drill.wire`, `.request_log`), so
tests use it directly.
"""

from __future__ import annotations

import csv
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

from twin.drill.request_log import REQUEST_LOG_COLUMNS, request_log_name
from twin.drill.schedstat import run_delay_s
from twin.drill.wire import RecordFile, TypeRecord, record_name

__all__ = [
    "HIGHEST_US",
    "NameRecord",
    "Recorder",
    "new_histogram",
    "new_window_histogram",
    "window_seconds",
]

HIGHEST_US = 3_600_000_000  # an hour: anything later is recorded as an hour
_SIGNIFICANT = 3  # 0.1 % value resolution
WINDOW_SIGNIFICANT = 2  # 1 %: enough to say how well a percentile was measured
_MAX_MESSAGES = 5
_WINDOWS = 120  # at most this many windows per drill


def window_seconds(duration_s: float) -> float:
    """The width of the latency windows of a drill of `duration_s`: 1 s, or wider so that a
    long drill keeps at most 120 windows."""
    return max(1.0, float(duration_s) / _WINDOWS)


def new_histogram() -> HdrHistogram:
    """A latency histogram in microseconds, 1 us to an hour at 3 significant figures."""
    return HdrHistogram(1, HIGHEST_US, _SIGNIFICANT)


def new_window_histogram() -> HdrHistogram:
    """A window's latency histogram: 2 significant figures (1 % resolution), 26 KB of counts
    rather than 184 KB, since a drill keeps one per type and window (up to 120 x 9)."""
    return HdrHistogram(1, HIGHEST_US, WINDOW_SIGNIFICANT)


def _us(seconds: float) -> int:
    return min(HIGHEST_US, max(1, round(seconds * 1e6)))


@dataclass
class NameRecord:
    """Everything recorded for one request name."""

    intended: HdrHistogram = field(default_factory=new_histogram)
    service: HdrHistogram = field(default_factory=new_histogram)
    count: int = 0
    errors: int = 0
    bytes: int = 0
    per_second: dict[int, int] = field(default_factory=dict)
    errors_per_second: dict[int, int] = field(default_factory=dict)  # by the second it was sent
    messages: dict[str, int] = field(default_factory=dict)
    windows: dict[int, HdrHistogram] = field(default_factory=dict)  # intended latency per window
    # each window's last encoding: a dump re-encodes only the windows recorded into since the
    # one before, so its cost (a stall of the load loop) does not grow with the drill
    encoded: dict[int, str] = field(default_factory=dict)
    changed: set[int] = field(default_factory=set)

    def add(
        self, intended: float, sent: float, done: float, ok: bool, t0: float, window_s: float = 1.0
    ) -> None:
        latency = _us(done - min(intended, sent))
        self.intended.record_value(latency)
        self.service.record_value(_us(done - sent))
        self.count += 1
        second = int(sent - t0)
        self.per_second[second] = self.per_second.get(second, 0) + 1
        window = int((sent - t0) // window_s)
        hist = self.windows.get(window)
        if hist is None:
            hist = self.windows[window] = new_window_histogram()
        hist.record_value(latency)
        self.changed.add(window)
        if not ok:
            self.errors += 1
            self.errors_per_second[second] = self.errors_per_second.get(second, 0) + 1

    def note(self, message: str) -> None:
        if message in self.messages or len(self.messages) < _MAX_MESSAGES:
            self.messages[message] = self.messages.get(message, 0) + 1

    def snapshot(self) -> TypeRecord:
        """What has been recorded so far, as `twin.drill.wire` carries it."""
        for window in self.changed:
            self.encoded[window] = self.windows[window].encode().decode("ascii")
        self.changed.clear()
        return TypeRecord(
            intended_hdr=self.intended.encode().decode("ascii"),
            service_hdr=self.service.encode().decode("ascii"),
            count=self.count,
            errors=self.errors,
            bytes=self.bytes,
            per_second=dict(self.per_second),
            errors_per_second=dict(self.errors_per_second),
            messages=dict(self.messages),
            windows=dict(self.encoded),
        )


class Recorder:
    """Request records of one load-generating process, keyed by request name.

    `t0` is the drill's start (epoch seconds, shared by every process through the plan), so
    per-second counts and latency windows (`window_s` wide) from different processes line up.
    """

    def __init__(
        self, t0: float, *, window_s: float = 1.0, clock: Any = time.time, log: bool = False
    ) -> None:
        self.t0 = t0
        # `log`: every request's row, kept until a dump appends it to the request log
        self.rows: list[tuple[Any, ...]] | None = [] if log else None
        self.window_s = window_s
        self.clock = clock
        self.cpu0: float | None = None  # process CPU time when the load started
        self.wait0: float | None = None  # its run-queue wait then (None: /proc lacks it)
        self.names: dict[str, NameRecord] = {}
        self.experience: dict[str, float] = {
            "sessions": 0,
            "segments": 0,
            "segments_degraded": 0,
            "downshifts": 0,
            "join_failures": 0,
        }
        self.users: dict[int, int] = {}  # drill second -> users running in its middle

    def record(
        self, name: str, intended: float, sent: float, done: float, ok: bool, nbytes: int = 0,
        status: int = 0, rider: str = "",
    ) -> None:  # fmt: skip
        """One finished request: when it was meant to go, went, and was answered (`status`
        and `rider` go to the request log only)."""
        rec = self.names.get(name)
        if rec is None:
            rec = self.names[name] = NameRecord()
        rec.add(intended, sent, done, ok, self.t0, self.window_s)
        rec.bytes += nbytes
        if self.rows is not None:
            self.rows.append((f"{sent - self.t0:.6f}", name,
                              f"{(done - min(intended, sent)) * 1e3:.3f}",
                              f"{(done - sent) * 1e3:.3f}", status, int(ok), nbytes, rider))

    def note_error(self, name: str, message: str) -> None:
        """Remember a few distinct error messages per name (for the one-line diagnosis)."""
        rec = self.names.get(name)
        if rec is None:
            rec = self.names[name] = NameRecord()
        rec.note(message[:200])

    def count(self, key: str, n: float = 1) -> None:
        """Add to one of the rider-experience counters (`segments_degraded`, ...)."""
        self.experience[key] = self.experience.get(key, 0) + n

    def note_users(self, second: int, users: int) -> None:
        """The Locust users this process ran in the middle of drill second `second`."""
        self.users[second] = users

    def start_cpu(self) -> None:
        """Mark the start of the load: `cpu_s` counts this process's CPU time from here, and
        `wait_s` its time runnable but waiting for a CPU (`twin.drill.schedstat`)."""
        self.cpu0 = time.process_time()
        self.wait0 = run_delay_s(os.getpid())

    def snapshot(self) -> RecordFile:
        """Everything this process has recorded so far, as `rec-<pid>.json` carries it."""
        cpu = None if self.cpu0 is None else round(time.process_time() - self.cpu0, 4)
        wait = None if self.wait0 is None else run_delay_s(os.getpid())
        return RecordFile(
            pid=os.getpid(),
            cpu_s=cpu,
            wait_s=None if wait is None or self.wait0 is None else round(wait - self.wait0, 4),
            t0=self.t0,
            window_s=self.window_s,
            written_at=self.clock(),
            names={name: rec.snapshot() for name, rec in self.names.items()},
            experience=dict(self.experience),
            users=dict(self.users),
        )

    def dump(self, folder: str | Path) -> Path:
        """Write `rec-<pid>.json` into `folder` atomically (write, then rename)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / record_name(os.getpid())
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.snapshot().to_json()), encoding="utf-8")
        tmp.replace(path)
        if self.rows:
            self._append_rows(folder / request_log_name(os.getpid()))
        return path

    def _append_rows(self, path: Path) -> None:
        """Append the rows recorded since the last dump to the request log (its header first
        when the file is new); a row is written once."""
        rows, self.rows = self.rows or [], []
        new = not path.exists()
        with path.open("a", encoding="utf-8", newline="") as f:
            out = csv.writer(f)
            if new:
                out.writerow(REQUEST_LOG_COLUMNS)
            out.writerows(rows)
