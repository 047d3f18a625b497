"""The measured leaderboard lag, read from the target's Prometheus `/metrics`.

The reference platform exports `twin_leaderboard_lag_seconds` (a histogram of sample taken ->
visible on the leaderboard, per sample), `twin_leaderboard_lag_last_seconds` and
`twin_ingest_backlog` per shard. `parse_metrics` reads the text format; `lag_figures` turns
two scrapes (drill start, after the drain) into p50, p99 and max. A target without these
metrics gives None, and the summary omits the lag rather than invent it. Pure calculation.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "METRICS_NAME",
    "TARGET_COUNTERS",
    "LagScrape",
    "bucket_quantile",
    "counters_since",
    "lag_figures",
    "lag_since",
    "parse_metrics",
    "process_cpu_s",
    "target_counters",
]

_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+([-+0-9.eEinfINFNa]+)")
_LABEL = re.compile(r'(\w+)="([^"]*)"')
LAG = "twin_leaderboard_lag_seconds"


@dataclass
class LagScrape:
    """The lag histogram's cumulative buckets, the per-shard last lag and backlog."""

    buckets: dict[float, float] = field(default_factory=dict)
    count: float = 0.0
    last: dict[str, float] = field(default_factory=dict)
    backlog: dict[str, float] = field(default_factory=dict)
    at: float = 0.0  # when it was taken (epoch seconds; 0: unknown)

    @property
    def backlog_total(self) -> float:
        return sum(self.backlog.values())


def parse_metrics(text: str) -> LagScrape | None:
    """The lag-related series of a Prometheus text exposition, or None if it has none."""
    scrape, seen = LagScrape(), False
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        name, labels, value = (
            match.group(1),
            dict(_LABEL.findall(match.group(2) or "")),
            float(match.group(3)),
        )
        if name == f"{LAG}_bucket":
            scrape.buckets[float(labels["le"])] = value
            seen = True
        elif name == f"{LAG}_count":
            scrape.count = value
        elif name == "twin_leaderboard_lag_last_seconds":
            scrape.last[labels.get("shard", "")] = value
        elif name == "twin_ingest_backlog":
            scrape.backlog[labels.get("shard", "")] = value
    return scrape if seen else None


_CPU = re.compile(r"^process_cpu_seconds_total(?:\{[^}]*\})?\s+([0-9.eE+-]+)\s*$", re.MULTILINE)


def process_cpu_s(text: str | None) -> float | None:
    """`process_cpu_seconds_total` of a Prometheus text page (None when it has none)."""
    found = _CPU.search(text or "")
    return float(found.group(1)) if found else None


# the target's /metrics page as the drill saw it at its end, saved in the drill's folder
METRICS_NAME = "metrics.txt"

# Counters of the target's /metrics a drill keeps (their change across the drill), by the key
# the summary gives them: what explains a type's latency that its route does not (a cache).
TARGET_COUNTERS = {
    "recommendation_cache_hit": ("recommendation_cache_total", ("result", "hit")),
    "recommendation_cache_miss": ("recommendation_cache_total", ("result", "miss")),
}


def target_counters(text: str | None) -> dict[str, float]:
    """The `TARGET_COUNTERS` a Prometheus text page has (the others are left out)."""
    wanted = {(name, label): key for key, (name, label) in TARGET_COUNTERS.items()}
    names = {name for name, _ in wanted}
    out = {}
    for line in (text or "").splitlines():
        match = _LINE.match(line)
        if not match or match.group(1) not in names:
            continue
        for label in _LABEL.findall(match.group(2) or ""):
            key = wanted.get((match.group(1), label))
            if key is not None:
                out[key] = float(match.group(3))
    return out


def counters_since(first: dict[str, float], last: dict[str, float]) -> dict[str, float] | None:
    """How much each counter of `last` grew since `first` (None when `last` has none)."""
    if not last:
        return None
    return {key: round(value - first.get(key, 0.0), 6) for key, value in last.items()}


def bucket_quantile(bounds: Sequence[float], counts: Sequence[float], q: float) -> float:
    """Quantile `q` of cumulative bucket counts, linear within a bucket (Prometheus' rule)."""
    total = counts[-1]
    if total <= 0:
        return math.nan
    rank, lower, below = q * total, 0.0, 0.0
    for bound, cum in zip(bounds, counts, strict=True):
        if cum >= rank:
            if math.isinf(bound):
                return lower
            inside = cum - below
            return lower + (bound - lower) * ((rank - below) / inside if inside > 0 else 1.0)
        lower, below = bound, cum
    return lower


def lag_figures(
    first: LagScrape | None, last: LagScrape | None, scrapes: Sequence[LagScrape] = ()
) -> dict[str, float] | None:
    """p50, p99 and max of the lag of samples applied between two scrapes (seconds)."""
    if last is None:
        return None
    before: Mapping[float, float] = first.buckets if first else {}
    bounds = sorted(last.buckets)
    counts = [last.buckets[b] - before.get(b, 0.0) for b in bounds]
    if not counts or counts[-1] <= 0:
        return None
    # The histogram bounds the largest lag from below by its highest non-empty bucket's lower
    # edge; the per-shard last lag may have seen more.
    lowers, befores = [0.0, *bounds[:-1]], [0.0, *counts[:-1]]
    floor = max((lo for lo, cum, prev in zip(lowers, counts, befores, strict=True)
                 if cum > prev), default=0.0)  # fmt: skip
    worst = max((v for s in (*scrapes, last) for v in s.last.values()), default=0.0)
    p99 = bucket_quantile(bounds, counts, 0.99)
    # never below the p99 it is reported beside, nor below any second's in the timeline
    seconds = [lag_since(a, b, 0.99) for a, b in itertools.pairwise(scrapes)]
    worst = max([worst, floor, p99, *(v for v in seconds if math.isfinite(v))])
    return {
        "p50": round(bucket_quantile(bounds, counts, 0.50), 4),
        "p99": round(p99, 4),
        "max": round(max(worst, 0.0), 4),
        "samples": int(counts[-1]),
    }


def lag_since(before: LagScrape, now: LagScrape, q: float) -> float:
    """Quantile `q` of the lag of the samples applied between two scrapes (NaN: none were).

    `twin_leaderboard_lag_last_seconds` only moves when a sample is applied, so while the
    consumers are paused it holds a stale figure; the histogram's growth between scrapes is
    what reached the leaderboard then, and how late."""
    bounds = sorted(now.buckets)
    counts = [now.buckets[b] - before.buckets.get(b, 0.0) for b in bounds]
    return bucket_quantile(bounds, counts, q) if counts and counts[-1] > 0 else math.nan
