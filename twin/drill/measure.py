"""What the load generators measured, merged across processes.

Each Locust process writes `rec-<pid>.json` (`locustfiles/drill_recorder.py`, in the format of
`twin.drill.wire.RecordFile`): per request type an HdrHistogram of latency from the intended
send time and one of the service latency, counts, errors and sends per drill second.
`merge_records` adds them up; `latency_block` turns a histogram into the summary's
`latency_ms` block. Locust's own CSV statistics are read by `locust_stats` and
`achieved_users`, so the two views sit side by side.

How well a drill measured a percentile. `quantile_ci` treats the requests as independent
samples; `window_ci` does not: requests sent in the same few seconds share a class-start burst
or a hiccup of the machine, so it resamples blocks of consecutive latency windows (a
non-overlapping block bootstrap: Kunsch 1989, "The jackknife and the bootstrap for general
stationary observations"; Lahiri, *Resampling Methods for Dependent Data*, 2003, ch. 2).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram

from twin.drill.wire import RECORD_GLOB, RecordFile, TypeRecord, read_records

__all__ = [
    "Measured",
    "TypeMeasure",
    "achieved_users",
    "latency_block",
    "locust_stats",
    "merge_records",
    "pinned",
    "pool_measured",
    "quantile_ci",
    "window_ci",
]

_HIGHEST_US = 3_600_000_000
_QUANTILES = {"p50": 50.0, "p95": 95.0, "p99": 99.0, "p999": 99.9}
_Z975 = 1.959963984540054  # two-sided 95 %
BLOCK_WINDOWS = 3  # windows per bootstrap block: 3 s of a short drill (3 min at 60x)


def _histogram() -> HdrHistogram:
    return HdrHistogram(1, _HIGHEST_US, 3)


@dataclass
class TypeMeasure:
    """One request type over every process."""

    intended: HdrHistogram = field(default_factory=_histogram)
    service: HdrHistogram = field(default_factory=_histogram)
    count: int = 0
    errors: int = 0
    bytes: int = 0
    per_second: dict[int, int] = field(default_factory=dict)
    errors_per_second: dict[int, int] = field(default_factory=dict)
    messages: dict[str, int] = field(default_factory=dict)
    windows: dict[int, HdrHistogram] = field(default_factory=dict)  # intended latency
    run_starts: list[int] = field(default_factory=list)  # pooled: the window each run starts at

    def add(self, record: TypeRecord) -> None:
        """Add one process's record of this type."""
        self.intended.decode_and_add(record.intended_hdr.encode("ascii"))
        self.service.decode_and_add(record.service_hdr.encode("ascii"))
        self._count(record.count, record.errors, record.bytes, record.per_second,
                    record.messages, record.errors_per_second)  # fmt: skip
        for k, encoded in record.windows.items():  # at the recorder's own precision
            hist = self.windows.get(k)
            if hist is None:
                self.windows[k] = HdrHistogram.decode(encoded.encode("ascii"))
            else:
                hist.decode_and_add(encoded.encode("ascii"))

    def absorb(self, other: TypeMeasure, window_offset: int) -> None:
        """Add another drill's measure of this type (a repeat: `pool_measured`); its windows
        and run starts go `window_offset` windows after this one's."""
        self.intended.add(other.intended)
        self.service.add(other.service)
        self._count(other.count, other.errors, other.bytes, other.per_second, other.messages,
                    other.errors_per_second)  # fmt: skip
        self.run_starts.extend(window_offset + k for k in (other.run_starts or [0]))
        for k, hist in other.windows.items():
            self.windows[max(k, 0) + window_offset] = hist

    def _count(self, count: int, errors: int, nbytes: int, per_second: Mapping[int, int],
               messages: Mapping[str, int], errors_per_second: Mapping[int, int],
               ) -> None:  # fmt: skip
        self.count += count
        self.errors += errors
        self.bytes += nbytes
        for mine, theirs in ((self.per_second, per_second),
                             (self.errors_per_second, errors_per_second)):  # fmt: skip
            for second, n in theirs.items():
                mine[second] = mine.get(second, 0) + n
        for message, n in messages.items():
            self.messages[message] = self.messages.get(message, 0) + n

    def series(self, seconds: int) -> np.ndarray:
        """Requests sent in each drill second 0..seconds-1."""
        out = np.zeros(seconds)
        for k, v in self.per_second.items():
            if 0 <= k < seconds:
                out[k] += v
        return out


@dataclass
class Measured:
    """Every request type's measures and the riders' experience counters."""

    types: dict[str, TypeMeasure]
    experience: dict[str, float]
    processes: int
    cpu_s: float | None = None  # the load processes' CPU time under load (None: not recorded)
    window_s: float | None = None  # width of the latency windows (None: no records)
    runs: int = 1  # repeated drills pooled here (`pool_measured`); per-second series add up
    # users running in the middle of each drill second, over every process of one run
    users: dict[int, int] = field(default_factory=dict)
    wait_s: float | None = None  # their time runnable but waiting for a CPU (None: unknown)
    # each process's share: its records file's name, requests, errors, CPU and wait
    shares: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(t.count for t in self.types.values())

    @property
    def errors(self) -> int:
        return sum(t.errors for t in self.types.values())


def merge_records(folder: Path) -> Measured:
    """Add up every `rec-*.json` in `folder` (one not in the format of
    `twin.drill.wire.RecordFile` is an `InputError` naming the file and the field)."""
    types: dict[str, TypeMeasure] = {}
    experience: dict[str, float] = {}
    files = sorted(Path(folder).glob(RECORD_GLOB))
    cpu: list[float | None] = []
    wait: list[float | None] = []
    window_s = None
    users: dict[int, int] = {}
    shares = []
    for path in files:
        records = read_records(path)
        shares.append(process_share(path.stem, records))
        cpu.append(records.cpu_s)
        wait.append(records.wait_s)
        window_s = records.window_s
        for second, n in records.users.items():
            users[second] = users.get(second, 0) + n
        for name, record in records.names.items():
            types.setdefault(name, TypeMeasure()).add(record)
        for key, value in records.experience.items():
            experience[key] = experience.get(key, 0.0) + value
    return Measured(types, experience, len(files), _total(cpu), window_s, users=users,
                    wait_s=_total(wait), shares=shares)  # fmt: skip


def process_share(name: str, records: RecordFile) -> dict[str, Any]:
    """One load process's share of a drill (`drill.load_shares`): its records file's name
    (`rec-<pid>`, or `rec-worker-<Locust client id>` for a remote worker), the requests and
    errors it recorded, its CPU and its wait for a CPU (s; None: not measured)."""
    return {"process": name, "requests": sum(r.count for r in records.names.values()),
            "errors": sum(r.errors for r in records.names.values()),
            "cpu_s": records.cpu_s, "wait_s": records.wait_s}  # fmt: skip


def _total(values: list[float | None]) -> float | None:
    """The sum of every process's figure; None when any process lacks it (or none ran)."""
    known = [v for v in values if v is not None]
    return round(sum(known), 4) if known and len(known) == len(values) else None


def pool_measured(runs: list[Measured], block: int = BLOCK_WINDOWS) -> Measured:
    """Repeated drills of one workload as one measurement (`twin drill --repeat N`).

    Histograms, counts and per-second series add up (`Measured.runs` says how many). Latency
    windows do not: run k's windows are renumbered after run k-1's, starting on a whole
    bootstrap block, so `window_ci` resamples blocks of one run each and its interval sees
    how much the runs differ (a machine that drifts between runs), not only the seconds within one.
    """
    if not runs:
        raise ValueError("no drill to pool")
    types: dict[str, TypeMeasure] = {}
    experience: dict[str, float] = {}
    offset = 0
    for run in runs:
        top = 0
        for name, m in run.types.items():
            types.setdefault(name, TypeMeasure()).absorb(m, offset)
            top = max([top, *(max(k, 0) + 1 for k in m.windows)])
        offset += -(-top // block) * block
        for key, value in run.experience.items():
            experience[key] = experience.get(key, 0.0) + value
    return Measured(types, experience, sum(r.processes for r in runs),
                    _total([r.cpu_s for r in runs]), runs[0].window_s,
                    runs=sum(r.runs for r in runs),
                    wait_s=_total([r.wait_s for r in runs]),
                    shares=[{**p, "run": k + 1} for k, r in enumerate(runs)
                            for p in r.shares])  # fmt: skip


def latency_block(hist: HdrHistogram) -> dict[str, float | None]:
    """`{mean, p50, p95, p99, p999, max}` in milliseconds (None when nothing was recorded)."""
    if hist.get_total_count() == 0:
        return {k: None for k in ("mean", *_QUANTILES, "max")}
    block: dict[str, float | None] = {"mean": round(hist.get_mean_value() / 1000.0, 4)}
    for key, q in _QUANTILES.items():
        block[key] = round(hist.get_value_at_percentile(q) / 1000.0, 4)
    block["max"] = round(hist.get_max_value() / 1000.0, 4)
    return block


def quantile_ci(hist: HdrHistogram, q: float, z: float = _Z975) -> list[float] | None:
    """The distribution-free 95 % confidence interval (ms) of the `q` quantile (0 < q < 1).

    The count of samples below the true quantile is binomial(n, q), so the interval runs
    between the order statistics n q -+ z sqrt(n q (1 - q)) (normal approximation; Conover,
    *Practical Nonparametric Statistics*, 3.2). It assumes nothing of the distribution and
    says how well the drill pinned a percentile down: at 200 samples a p95 is known only
    between the 92nd and 98th percentiles. None when nothing was recorded.
    """
    n = hist.get_total_count()
    if n == 0:
        return None
    half = z * math.sqrt(n * q * (1.0 - q))
    lo, hi = max(0.0, (n * q - half) / n), min(1.0, (n * q + half) / n)
    return [round(hist.get_value_at_percentile(100.0 * p) / 1000.0, 4) for p in (lo, hi)]


_RESAMPLES = 2000
_MIN_BLOCKS = 8  # fewer blocks cannot say how the windows vary


def _block_counts(windows: Mapping[int, HdrHistogram], block: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct recorded values (us, ascending) and, per block of `block` consecutive
    windows from window 0, how many requests had each (blocks x values)."""
    parts = []
    for key, hist in windows.items():
        counts = np.ctypeslib.as_array(hist.counts)
        index = np.flatnonzero(counts)
        # a request sent just before the drill's t0 counts in the first window
        parts.append((max(key, 0) // block, index, counts[index].astype(np.int64)))
    every = np.unique(np.concatenate([index for _b, index, _c in parts]))
    matrix = np.zeros((max(b for b, _i, _c in parts) + 1, every.size), dtype=np.int64)
    for b, index, counts in parts:
        matrix[b, np.searchsorted(every, index)] += counts
    hist = next(iter(windows.values()))
    values = np.array([hist.get_highest_equivalent_value(hist.get_value_from_index(int(i)))
                       for i in every], dtype=float)  # fmt: skip
    return values, matrix


def window_ci(
    windows: Mapping[int, HdrHistogram],
    q: float,
    rng: np.random.Generator,
    *,
    block: int = BLOCK_WINDOWS,
    resamples: int = _RESAMPLES,
    run_starts: list[int] | None = None,
) -> list[float] | None:
    """The 95 % block-bootstrap interval (ms) of the `q` quantile of the latencies recorded in
    `windows` (window index -> histogram): blocks of `block` consecutive windows are drawn with
    replacement, as many as the drill had, and the quantile of each resample taken as
    HdrHistogram does; the interval runs between the 2.5th and 97.5th percentiles of those.
    None when there are fewer than 8 blocks (too few to say).

    Pooled repeats (`run_starts`: the window each run starts at, `pool_measured`) are
    resampled in two stages, runs with replacement and then blocks within each drawn run
    (Davison and Hinkley, *Bootstrap Methods*, 1997, 3.8): blocks of one run share its machine
    and are not independent of each other, so drawing them as if they were would leave out
    how much the runs differ."""
    windows = {k: h for k, h in windows.items() if h.get_total_count()}
    if not windows:
        return None
    values, matrix = _block_counts(windows, block)
    blocks = matrix.shape[0]
    if blocks < _MIN_BLOCKS:
        return None
    groups = _groups(matrix, block, run_starts)
    found = []
    for start in range(0, resamples, 250):
        size = min(250, resamples - start)
        weights = _resample(rng, groups, blocks, size)
        cum = np.cumsum(weights @ matrix, axis=1)
        total = cum[:, -1]
        target = np.maximum(1, np.floor(q * total + 0.5))
        at = (cum < target[:, None]).sum(axis=1)
        found.append(values[at[total > 0]])
    quantiles = np.concatenate(found)
    lo, hi = np.percentile(quantiles, [2.5, 97.5])
    return [round(float(lo) / 1000.0, 4), round(float(hi) / 1000.0, 4)]


def _groups(matrix: np.ndarray, block: int, run_starts: list[int] | None) -> list[np.ndarray]:
    """The blocks of each run (one group when the windows are one drill's)."""
    rows = np.arange(matrix.shape[0])
    if not run_starts or len(run_starts) < 2:
        return [rows]
    starts = np.array(sorted({max(0, k) // block for k in run_starts}))
    run = np.searchsorted(starts, rows, side="right") - 1
    return [rows[run == r] for r in range(starts.size) if np.any(run == r)]


def _resample(
    rng: np.random.Generator, groups: list[np.ndarray], blocks: int, size: int
) -> np.ndarray:
    """Resample weights (size x blocks): runs with replacement, then blocks within each drawn
    run, as many as it has. With one group: blocks with replacement, as many as there are."""
    weights = np.zeros((size, blocks), dtype=np.int64)
    if len(groups) == 1:
        g = groups[0]
        weights[:, g] = rng.multinomial(g.size, np.full(g.size, 1.0 / g.size), size=size)
        return weights
    drawn = rng.multinomial(len(groups), np.full(len(groups), 1.0 / len(groups)), size=size)
    for r, g in enumerate(groups):
        weights[:, g] = rng.multinomial(drawn[:, r] * g.size, np.full(g.size, 1.0 / g.size))
    return weights


def pinned(block: Mapping[str, Any], q: str, tolerance: float = 0.25) -> bool:
    """Whether a summary's `requests.<type>` block measured percentile `q` to within
    `tolerance` of its value: its 95 % interval (`latency_ci95_ms`) lies inside. A summary
    without intervals (older drills) counts as pinned."""
    value = (block.get("latency_ms") or {}).get(q)
    intervals = block.get("latency_ci95_ms")
    if intervals is None:
        return value is not None
    ci = intervals.get(q)
    if not value or ci is None:
        return False
    return max(value - ci[0], ci[1] - value) <= tolerance * value


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def locust_stats(folder: Path, prefix: str = "locust") -> dict[str, dict[str, Any]]:
    """Locust's own final statistics per request name (its `_stats.csv`), times in ms."""
    path = Path(folder) / f"{prefix}_stats.csv"
    if not path.is_file():
        return {}
    out: dict[str, dict[str, Any]] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            out[row["Name"]] = {
                "count": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "mean_ms": _number(row["Average Response Time"]),
                "p50_ms": _number(row["50%"]),
                "p95_ms": _number(row["95%"]),
                "p99_ms": _number(row["99%"]),
                "max_ms": _number(row["Max Response Time"]),
                "requests_per_s": _number(row["Requests/s"]),
            }
    return out


def sampled_users(measured: Measured, seconds: int) -> np.ndarray | None:
    """The users running in the middle of each drill second, as the load processes sampled
    them (NaN where none did); None when the records carry no samples."""
    if not measured.users:
        return None
    out = np.full(seconds, np.nan)
    for second, n in measured.users.items():
        if 0 <= second < seconds:
            out[second] = float(n)
    return out


def achieved_users(folder: Path, t0: float, seconds: int, prefix: str = "locust") -> np.ndarray:
    """Locust's user count in each drill second (its `_stats_history.csv`), NaN when unseen.

    Its rows are stamped with whole epoch seconds at an arbitrary phase, so one can land while
    a shape tick is still spawning: `sampled_users` is preferred where the records have it."""
    out = np.full(seconds, np.nan)
    path = Path(folder) / f"{prefix}_stats_history.csv"
    if not path.is_file():
        return out
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["Name"] != "Aggregated":
                continue
            k = math.floor(float(row["Timestamp"]) - t0)
            if 0 <= k < seconds:
                out[k] = float(row["User Count"])
    return out
