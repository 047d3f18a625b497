"""The drill's request log (`twin drill --request-log`): every request, one row each.

Each Locust process appends its own rows to `requests-<pid>.csv` as it goes
(`locustfiles/drill_recorder.py`); `merge_request_logs` puts them into one `requests.csv`
in the drill's folder, ordered by send time, with the process each row came from. A
histogram answers "how slow"; the log answers "which requests, and after what": the gap a
request followed, the rider's previous request, a burst's order.
"""

from __future__ import annotations

import csv
import heapq
from collections.abc import Iterator
from pathlib import Path

from twin.errors import InputError

__all__ = ["LOG_NAME", "REQUEST_LOG_COLUMNS", "REQUEST_LOG_ENV", "REQUEST_LOG_GLOB",
           "merge_request_logs", "request_log_name"]  # fmt: skip

LOG_NAME = "requests.csv"
# Set (to "1") for the Locust processes, each of which then also writes every request it made,
# one CSV row each, to `requests-<pid>.csv` beside its records.
REQUEST_LOG_ENV = "TWIN_DRILL_REQUEST_LOG"
REQUEST_LOG_GLOB = "requests-*.csv"
# sent_s: drill seconds (from the plan's t0) when it went; latency_ms from when it was meant
# to go (the coordinated-omission correction), service_ms from when it went; ok: the
# profile's verdict; rider: the rider it was made for.
REQUEST_LOG_COLUMNS = ("sent_s", "type", "latency_ms", "service_ms", "status", "ok", "bytes",
                       "rider")  # fmt: skip


def request_log_name(pid: int) -> str:
    """The file name of process `pid`'s request log (one of `REQUEST_LOG_GLOB`)."""
    return f"requests-{pid}.csv"


def _rows(path: Path) -> Iterator[tuple[float, list[str]]]:
    process = path.stem.removeprefix("requests-")
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header != list(REQUEST_LOG_COLUMNS):
            raise InputError(str(path), "header", f"not a drill request log: {header}")
        for line, row in enumerate(reader, start=2):
            if len(row) != len(REQUEST_LOG_COLUMNS):
                raise InputError(str(path), f"line {line}",
                                 f"{len(row)} fields, expected {len(REQUEST_LOG_COLUMNS)}")
            yield float(row[0]), [*row, process]


def merge_request_logs(load_dir: Path, out: Path) -> int:
    """Merge every process's request log in `load_dir` into `out` (CSV, by send time, a
    `process` column added); the number of rows. Nothing is written when there is no log."""
    parts = sorted(Path(load_dir).glob(REQUEST_LOG_GLOB))
    if not parts:
        return 0
    # a process writes a row when its request finishes: sort each by send time, then merge
    runs = [sorted(_rows(p), key=lambda r: r[0]) for p in parts]
    tmp = out.with_suffix(".tmp")
    n = 0
    with tmp.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow((*REQUEST_LOG_COLUMNS, "process"))
        for _t, row in heapq.merge(*runs, key=lambda r: r[0]):
            writer.writerow(row)
            n += 1
    tmp.replace(out)
    return n
