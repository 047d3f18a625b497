"""The load generator's timer lateness, measured from drills' request logs (`--request-log`).

A drill sends a periodic request (telemetry, the leaderboard, tempo, a live player's reload,
an on-demand segment) when its timer fires and counts its latency from the time it was due,
so the request log's `latency_ms - service_ms` is how late it left. gevent's loop (libev)
sleeps in epoll, whose timeout is in whole milliseconds: in every drill logged so far the
median is 0.9-1.0 ms, at 1e-4 as at 2.4e-3 of the scenario's riders. The upper tail grows
with the load: a timer that fires while the loop runs another rider's request waits for it,
which the model's `client` loop already queues. So the lateness is fitted on its lower half,
which that wait does not reach: a lognormal through the pooled 10th percentile and median.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from twin.drill.fit import Fit
from twin.drill.request_log import LOG_NAME
from twin.errors import InputError

__all__ = ["ALWAYS_TIMED", "lateness_ms", "timer_fit"]

# request types the journey sends only on a timer, never right behind a response
ALWAYS_TIMED = frozenset({"telemetry", "leaderboard", "tempo"})
_Z10 = 1.2815515655446004  # the standard normal's 90th percentile
_MIN_ROWS = 50


def lateness_ms(log: Path) -> np.ndarray:
    """How late (ms) each of the log's `ALWAYS_TIMED` requests left its due time."""
    out = []
    with Path(log).open(encoding="utf-8", newline="") as fh:
        for i, row in enumerate(csv.DictReader(fh), start=2):
            if row.get("type") not in ALWAYS_TIMED:
                continue
            try:
                out.append(float(row["latency_ms"]) - float(row["service_ms"]))
            except (KeyError, TypeError, ValueError):
                raise InputError(str(log), f"line {i}", "not a request log row") from None
    return np.maximum(np.asarray(out, dtype=float), 0.0)


def timer_fit(folders: Sequence[Path]) -> tuple[Fit, int] | None:
    """The timer's lognormal (seconds) over the folders' request logs, and the rows it was
    measured on; None when fewer than `_MIN_ROWS` periodic requests were logged."""
    logs = [Path(f) / LOG_NAME for f in folders if (Path(f) / LOG_NAME).is_file()]
    late = np.concatenate([lateness_ms(p) for p in logs]) if logs else np.zeros(0)
    if late.size < _MIN_ROWS:
        return None
    p10, p50 = (float(v) for v in np.percentile(late, [10, 50]))
    if p50 <= 0:
        return None
    sigma = max(math.log(p50 / max(p10, 1e-3 * p50)) / _Z10, 1e-3)
    mean_s = p50 / 1e3 * math.exp(sigma**2 / 2.0)
    return Fit(round(mean_s, 7), round(math.sqrt(math.expm1(sigma**2)), 4)), int(late.size)
