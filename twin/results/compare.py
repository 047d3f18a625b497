"""Several runs side by side: what an architect weighs when choosing between designs, as data.

Pure: `compare` takes each run's folder name and its `summary.json` mapping and returns a
`Comparison`. Designs may differ in their services (phase 2 microservices against phase 3
global), so request types (the common vocabulary) and cost are set side by side, and
services go in a union where a design without a service has `None`, never a made-up zero.

Headroom is read from utilization peaks: a service's headroom is the share of its servers
still free in its busiest interval (1 - peak utilization); a design's headroom is that of
its most saturated service, its bottleneck. `load_growth` is how far the load could grow
before that peak reaches 100%, if utilization grew in proportion to the load (1/peak - 1).

A summary's counts (requests, errors, drops) are totals over its replications, so they are
set side by side per run (total / replications; a summary that does not say counts as one),
and a drill beside its three-replication prediction compares like with like. Incident windows
of every run are gathered, equal ones once, for the over-time figure.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from twin.config.architecture import REQUEST_TYPES
from twin.errors import InputError
from twin.results.reading import cost_items, dig, incident_windows

__all__ = [
    "PERCENTILES",
    "REQUEST_TYPES",
    "Comparison",
    "Design",
    "Incident",
    "Overview",
    "RequestFigures",
    "RunInput",
    "ServiceFigures",
    "change",
    "compare",
    "design_names",
    "replications_of",
]

PERCENTILES = ("p50", "p95", "p99", "p999")
_DIGITS = 6  # derived fractions (headroom, error ratio) in compare.json
_COUNT_DIGITS = 3  # counts per run: a total over three replications is a third of a whole
_EXPERIENCE = (
    ("leaderboard lag p50 (s)", ("leaderboard_lag_s", "p50")),
    ("leaderboard lag p99 (s)", ("leaderboard_lag_s", "p99")),
    ("leaderboard lag max (s)", ("leaderboard_lag_s", "max")),
    ("join failures", ("join_failures",)),
    ("video degraded fraction", ("video_degraded_fraction",)),
)


@dataclass(frozen=True)
class RunInput:
    """One run to compare: the folder it was read from and its summary.json."""

    folder: str
    summary: Mapping[str, Any]


@dataclass(frozen=True)
class Design:
    """A compared run as the tables name it, with the facts that set it apart."""

    name: str
    folder: str
    scenario: str | None
    architecture: str | None
    engine: str | None
    riders: float | None
    seed: int | None
    replications: int | None
    simulated_seconds: float | None
    warmup_s: float | None


@dataclass(frozen=True)
class RequestFigures:
    """End-to-end figures of one request type in one design (latencies in ms).

    Counts are per run: the summary's total divided by its replications.
    """

    count_per_run: float | None
    errors_per_run: float | None
    error_ratio: float | None
    mean_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    p999_ms: float | None


@dataclass(frozen=True)
class ServiceFigures:
    """One service in one design: size, utilization, headroom, drops per run and p99 (ms)."""

    servers: float | None
    utilization_mean: float | None
    utilization_peak: float | None
    headroom: float | None
    dropped_per_run: float | None
    p99_ms: float | None


@dataclass(frozen=True)
class Overview:
    """The at-a-glance figures of one design (requests and errors per run)."""

    bottleneck: str | None
    utilization_peak: float | None
    headroom: float | None
    load_growth: float | None
    worst_request: str | None
    worst_p99_ms: float | None
    requests_per_run: float | None
    errors_per_run: float | None
    error_ratio: float | None
    monthly_usd: float | None
    per_user_month_usd: float | None
    slo_passed: int | None
    slo_total: int | None


@dataclass(frozen=True)
class Incident:
    """An incident window of one or more designs; equal windows of several runs appear once.

    `end_s` is infinite for an incident that lasts to the end of its run (None in JSON).
    """

    label: str
    start_s: float
    end_s: float
    designs: tuple[str, ...]


Cells = dict[str, dict[str, Any]]  # row -> design name -> value (None where absent)


@dataclass(frozen=True)
class Comparison:
    """The designs and their figures; every mapping is keyed by design name, in input order."""

    designs: tuple[Design, ...]
    overview: dict[str, Overview]
    requests: dict[str, dict[str, RequestFigures | None]]
    services: dict[str, dict[str, ServiceFigures | None]]
    cost: Cells = field(default_factory=dict)
    experience: Cells = field(default_factory=dict)
    slo: Cells = field(default_factory=dict)
    incidents: tuple[Incident, ...] = ()

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.designs]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (compare.json): NaN becomes None."""
        data = {
            "baseline": self.designs[0].name,
            "designs": [asdict(d) for d in self.designs],
            "overview": {k: asdict(v) for k, v in self.overview.items()},
            "requests": _rows_dict(self.requests),
            "services": _rows_dict(self.services),
            "cost": self.cost,
            "experience": self.experience,
            "slo": self.slo,
            "incidents": [asdict(i) for i in self.incidents],
        }
        return _json_safe(data)


def _rows_dict(rows: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        row: {name: None if v is None else asdict(v) for name, v in cells.items()}
        for row, cells in rows.items()
    }


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _num(value: object) -> float | None:
    """A finite number as float, else None (bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def change(value: float | None, base: float | None) -> float | None:
    """Relative change of `value` against `base` (0.25 = 25% more); None when undefined."""
    if value is None or base is None or base == 0:
        return None
    return value / base - 1.0


def _label(summary: Mapping[str, Any]) -> str:
    design = summary.get("architecture") or summary.get("scenario") or "run"
    engine = summary.get("engine")
    return f"{design} ({engine})" if engine else str(design)


def design_names(runs: Sequence[RunInput]) -> list[str]:
    """Architecture (else scenario) and engine; the folder added where two would be the same."""
    labels = [_label(r.summary) for r in runs]
    names = [
        f"{label} [{run.folder}]" if labels.count(label) > 1 else label
        for label, run in zip(labels, runs, strict=True)
    ]
    seen: dict[str, int] = {}
    unique = []
    for name in names:  # the same folder name twice: number the repeats
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name} #{seen[name]}")
    return unique


def replications_of(summary: Mapping[str, Any]) -> int:
    """How many replications a summary's counts add up: its `replications`, else 1."""
    reps = _num(summary.get("replications"))
    return int(reps) if reps is not None and reps >= 1 else 1


def _per_run(total: float | None, replications: int) -> float | None:
    """A total over `replications` runs as the figure of one run."""
    return None if total is None else round(total / replications, _COUNT_DIGITS)


def _design(name: str, run: RunInput) -> Design:
    s = run.summary
    seed, reps = _num(s.get("seed")), _num(s.get("replications"))
    return Design(
        name=name,
        folder=run.folder,
        scenario=None if s.get("scenario") is None else str(s["scenario"]),
        architecture=None if s.get("architecture") is None else str(s["architecture"]),
        engine=None if s.get("engine") is None else str(s["engine"]),
        riders=_num(s.get("riders")),
        seed=None if seed is None else int(seed),
        replications=None if reps is None else int(reps),
        simulated_seconds=_num(s.get("simulated_seconds")),
        warmup_s=_num(s.get("warmup_s")),
    )


def _ratio(part: float | None, whole: float | None) -> float | None:
    if part is None or whole is None or whole <= 0:
        return None
    return round(part / whole, _DIGITS)


def _spare(peak: float | None) -> float | None:
    """Headroom: the share of servers still free at the peak."""
    return None if peak is None else round(max(0.0, 1.0 - peak), _DIGITS)


def _growth(peak: float | None) -> float | None:
    """How far the load could grow before the peak reaches 100%, if it scaled linearly."""
    return None if not peak else round(max(0.0, 1.0 / peak - 1.0), _DIGITS)


def _request(entry: object, replications: int) -> RequestFigures:
    count, errors = _num(dig(entry, "count")), _num(dig(entry, "errors"))
    attempts = None if count is None else count + (errors or 0.0)
    return RequestFigures(
        count_per_run=_per_run(count, replications),
        errors_per_run=_per_run(errors, replications),
        error_ratio=_ratio(errors, attempts),
        mean_ms=_num(dig(entry, "latency_ms", "mean")),
        **{f"{p}_ms": _num(dig(entry, "latency_ms", p)) for p in PERCENTILES},
    )


def _service(entry: object, replications: int) -> ServiceFigures:
    peak = _num(dig(entry, "utilization_peak"))
    return ServiceFigures(
        servers=_num(dig(entry, "servers")),
        utilization_mean=_num(dig(entry, "utilization_mean")),
        utilization_peak=peak,
        headroom=_spare(peak),
        dropped_per_run=_per_run(_num(dig(entry, "dropped")), replications),
        p99_ms=_num(dig(entry, "latency_ms", "p99")),
    )


def _union(blocks: Sequence[object]) -> list[str]:
    """Keys of every mapping in `blocks`, in order of first appearance."""
    keys: dict[str, None] = {}
    for block in blocks:
        if isinstance(block, Mapping):
            keys.update((str(k), None) for k in block)
    return list(keys)


def _request_order(keys: list[str]) -> list[str]:
    known = [t for t in REQUEST_TYPES if t in keys]
    return known + [k for k in keys if k not in REQUEST_TYPES]


def _table(
    names: Sequence[str],
    runs: Sequence[RunInput],
    block: str,
    build: Callable[[object, int], Any],
) -> dict[str, dict[str, Any]]:
    """One row per key of `block` in any run; `build(entry, replications)` fills a cell."""
    keys = _union([r.summary.get(block) for r in runs])
    return {
        key: {
            name: build(dig(run.summary, block, key), replications_of(run.summary))
            if _has(run.summary, block, key)
            else None
            for name, run in zip(names, runs, strict=True)
        }
        for key in keys
    }


def _has(summary: Mapping[str, Any], block: str, key: str) -> bool:
    entries = summary.get(block)
    return isinstance(entries, Mapping) and key in entries


def _hottest_first(services: dict[str, dict[str, ServiceFigures | None]]) -> list[str]:
    def peak(name: str) -> float:
        peaks = [f.utilization_peak for f in services[name].values() if f is not None]
        return max((p for p in peaks if p is not None), default=-1.0)

    return sorted(services, key=lambda n: -peak(n))  # stable: ties keep first appearance


def _bottleneck(summary: Mapping[str, Any], services: Mapping[str, ServiceFigures | None]) -> str:
    """The most saturated service; ties go to the engine's own ranking (`bottlenecks`)."""
    ranked = [str(b) for b in summary.get("bottlenecks") or [] if b in services]
    order = ranked + [s for s in services if s not in ranked]
    peaks = {
        n: f.utilization_peak
        for n, f in services.items()
        if f is not None and f.utilization_peak is not None
    }
    known = [n for n in order if n in peaks]
    return max(known, key=lambda n: peaks[n]) if known else (order[0] if order else "")


def _worst(requests: Mapping[str, RequestFigures | None]) -> tuple[str | None, float | None]:
    p99s = {k: f.p99_ms for k, f in requests.items() if f is not None and f.p99_ms is not None}
    if not p99s:
        return None, None
    worst = max(p99s, key=lambda k: p99s[k])
    return worst, p99s[worst]


def _slo_counts(summary: Mapping[str, Any]) -> tuple[int | None, int | None]:
    verdicts = [v for v in summary.get("slo") or [] if isinstance(v, Mapping) and "passed" in v]
    if not verdicts:
        return None, None
    return sum(bool(v["passed"]) for v in verdicts), len(verdicts)


def _overview(
    summary: Mapping[str, Any],
    services: Mapping[str, ServiceFigures | None],
    requests: Mapping[str, RequestFigures | None],
) -> Overview:
    present = {n: f for n, f in services.items() if f is not None}
    bottleneck = _bottleneck(summary, present) or None
    peak = present[bottleneck].utilization_peak if bottleneck else None
    worst, worst_p99 = _worst(requests)
    figures = [f for f in requests.values() if f is not None]
    total = sum(f.count_per_run or 0.0 for f in figures) if figures else None
    errors = sum(f.errors_per_run or 0.0 for f in figures) if figures else None
    passed, slo_total = _slo_counts(summary)
    return Overview(
        bottleneck=bottleneck,
        utilization_peak=peak,
        headroom=_spare(peak),
        load_growth=_growth(peak),
        worst_request=worst,
        worst_p99_ms=worst_p99,
        requests_per_run=None if total is None else round(total, _COUNT_DIGITS),
        errors_per_run=None if errors is None else round(errors, _COUNT_DIGITS),
        error_ratio=_ratio(errors, None if total is None else total + (errors or 0.0)),
        monthly_usd=_num(dig(summary, "cost", "monthly_usd")),
        per_user_month_usd=_num(dig(summary, "cost", "per_user_month_usd")),
        slo_passed=passed,
        slo_total=slo_total,
    )


def _cost(names: Sequence[str], runs: Sequence[RunInput]) -> Cells:
    """Monthly USD per component (union, largest first), then the total and per user."""
    if not any(isinstance(r.summary.get("cost"), Mapping) for r in runs):
        return {}
    parts = {n: dict(cost_items(r.summary.get("cost"))) for n, r in zip(names, runs, strict=True)}
    keys = _union(list(parts.values()))
    keys.sort(key=lambda k: -max((p.get(k) or 0.0) for p in parts.values()))
    rows: Cells = {k: {n: parts[n].get(k) for n in names} for k in keys}
    for key in ("monthly_usd", "per_user_month_usd"):
        rows[key] = {n: _num(dig(r.summary, "cost", key)) for n, r in zip(names, runs, strict=True)}
    return rows


def _experience(names: Sequence[str], runs: Sequence[RunInput]) -> Cells:
    rows: Cells = {}
    for label, path in _EXPERIENCE:
        values = {
            n: _num(dig(r.summary, "experience", *path)) for n, r in zip(names, runs, strict=True)
        }
        if any(v is not None for v in values.values()):
            rows[label] = values
    return rows


def _slo(names: Sequence[str], runs: Sequence[RunInput]) -> Cells:
    rows: Cells = {}
    for name, run in zip(names, runs, strict=True):
        for verdict in run.summary.get("slo") or []:
            if isinstance(verdict, Mapping) and "passed" in verdict:
                label = str(verdict.get("name") or verdict.get("metric"))
                rows.setdefault(label, dict.fromkeys(names))[name] = bool(verdict["passed"])
    return rows


def _windows(run: RunInput) -> list[Any]:
    """The run's incident windows; a malformed one is named with the run's folder."""
    entries = run.summary.get("incidents") or []
    if not isinstance(entries, Sequence) or isinstance(entries, str):
        raise InputError(f"{run.folder}/summary.json", "incidents", "must be a list")
    try:
        return list(incident_windows(entries))
    except InputError as exc:
        raise InputError(f"{run.folder}/summary.json", exc.field, exc.message) from None


def _incidents(names: Sequence[str], runs: Sequence[RunInput]) -> tuple[Incident, ...]:
    """Every run's incident windows, earliest first; equal windows (start, end) once."""
    found: dict[tuple[float, float], tuple[list[str], list[str]]] = {}
    for name, run in zip(names, runs, strict=True):
        for window in _windows(run):
            labels, designs = found.setdefault((window.start_s, window.end_s), ([], []))
            labels.extend([window.label] if window.label not in labels else [])
            designs.extend([name] if name not in designs else [])
    return tuple(
        Incident(" / ".join(labels), start, end, tuple(designs))
        for (start, end), (labels, designs) in sorted(found.items())
    )


def compare(runs: Sequence[RunInput]) -> Comparison:
    """The comparison of two or more runs, the first being the baseline of every change."""
    if len(runs) < 2:
        raise ValueError("a comparison needs at least two runs")
    names = design_names(runs)
    requests = _table(names, runs, "requests", _request)
    requests = {k: requests[k] for k in _request_order(list(requests))}
    services = _table(names, runs, "services", _service)
    services = {k: services[k] for k in _hottest_first(services)}
    overview = {
        name: _overview(
            run.summary,
            {k: cells[name] for k, cells in services.items()},
            {k: cells[name] for k, cells in requests.items()},
        )
        for name, run in zip(names, runs, strict=True)
    }
    return Comparison(
        designs=tuple(_design(n, r) for n, r in zip(names, runs, strict=True)),
        overview=overview,
        requests=requests,
        services=services,
        cost=_cost(names, runs),
        experience=_experience(names, runs),
        slo=_slo(names, runs),
        incidents=_incidents(names, runs),
    )
