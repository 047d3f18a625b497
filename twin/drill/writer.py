"""The embedded backend's SQLite thread, measured from the target's own metrics.

`twin serve` runs every SQLite call on one thread: a telemetry group commit, a transaction
with its COMMIT (a join, a workout, a rating), a statement (a workout's interaction, a read).
With `synchronous=FULL` each commit waits for the disk, and a request whose call arrives while
another's is running waits for it: the `sqlite` station of `reference-platform.yaml` (one
server), which each writing request (`WRITERS`) visits once. Its service time is measured from
`twin_sqlite_call_seconds{kind}` (each call timed on the thread, its wait for the thread left
out), not fitted: the mean is the thread's busy seconds over the drills' writing requests (so a
workout's two calls count as one visit), the cv the lognormal's most likely for the commits'
buckets (`twin.drill.histogram_fit`; the statements' tens of microseconds left out of the
shape, not of the mean).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from twin.drill.fit import Fit
from twin.drill.histogram_fit import MIN_CV, lognormal_sigma, pooled_histogram
from twin.drill.lag import METRICS_NAME

__all__ = ["COMMITS", "METRIC", "SQLITE", "WRITERS", "sqlite_fit"]

METRIC = "twin_sqlite_call_seconds"
SQLITE = "sqlite"  # the station of `reference-platform.yaml` it measures
WRITERS = ("join", "workout", "feedback", "telemetry")  # twin serve's requests that write
COMMITS = ("group_commit", "transaction")
_MIN_CALLS = 100


def _writes(folder: Path) -> int:
    """The drill's writing requests (`summary.json`)."""
    summary = json.loads((Path(folder) / "summary.json").read_text(encoding="utf-8"))
    requests = summary.get("requests") or {}
    return sum(int((requests.get(t) or {}).get("count") or 0) for t in WRITERS)


def _commit(labels: Mapping[str, str]) -> bool:
    return labels.get("kind") in COMMITS


def sqlite_fit(folders: Sequence[Path]) -> tuple[Fit, int] | None:
    """The SQLite thread's time per writing request (lognormal, seconds) over the folders'
    saved metrics, and the calls it was measured on; None with fewer than `_MIN_CALLS`
    commits (drills of a target without the metric: an older `twin serve`, the Redis backend,
    another platform)."""
    measured = [f for f in folders if (Path(f) / METRICS_NAME).is_file()]
    busy = calls = 0.0
    writes = 0
    for folder in measured:
        seconds, count, _ = pooled_histogram([folder], METRIC)
        if count:  # its target had the metric: its writing requests are the visits
            busy, calls, writes = busy + seconds, calls + count, writes + _writes(folder)
    _, commits, buckets = pooled_histogram(measured, METRIC, _commit)
    if commits < _MIN_CALLS or busy <= 0 or writes == 0:
        return None
    mean = busy / writes
    cv = max(math.sqrt(math.expm1(lognormal_sigma(mean, buckets) ** 2)), MIN_CV)
    return Fit(round(mean, 7), round(cv, 4)), int(calls)
