"""A run's time series as OpenMetrics text, timestamped from a chosen start, for Prometheus.

`promtool tsdb create-blocks-from openmetrics FILE DIR` turns the text into TSDB blocks, so a
simulated run can be graphed in Grafana beside the production metrics it predicts. Every
series carries `scenario` and `engine` labels (a run never passes for a real service).

Each row of `timeseries.csv` (an interval of one service) becomes a sample at the END of its
interval, when its figures are known; counters are cumulative from 0 at the start, so
`rate()` gives the simulated rates. Names follow `twin serve`'s `/metrics` where a figure
means the same (the `route` label is the request type, as the reference platform's); the
others are the twin's own, listed in `FAMILIES`:

    twin_service_*              per service: utilization, arrivals / completed / dropped
                                (counters), queue (the backlog waiting), requests in the
                                system, latency (summary: p50, p95, p99, _sum, _count)
    twin_active_riders, twin_video_degraded_riders, twin_video_degraded_ratio,
    twin_leaderboard_lag_p99_seconds
                                what riders saw (platform runs), per interval
    twin_cost_usd_per_hour      the run's month (listed plus its usage) over 730 h, per
                                component: the summary gives one figure per run, so it is
                                flat over the run
    twin_requests_total, twin_request_errors_total, twin_request_latency_seconds
                                per request type (`route`), end to end: the summary holds
                                them for the whole run only, so one sample at its end
                                (counters also start at 0), never a made-up curve

Pure: text in memory; the CLI writes it (atomically, `twin.results.files`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from twin.errors import InputError

__all__ = ["FAMILIES", "Family", "openmetrics_text", "parse_start"]

HOURS_PER_MONTH = 730.0  # as twin.config.architecture: AWS bills a month as 730 hours


@dataclass(frozen=True)
class Family:
    """One metric family: its name, OpenMetrics type, unit (or "") and help text."""

    name: str
    type: str
    unit: str
    help: str


_SERVICE = {  # timeseries column -> family, for gauges read as they are
    "utilization": Family("twin_service_utilization", "gauge", "", "Busy share of capacity"),
    "queue_mean": Family(
        "twin_service_queue_length", "gauge", "", "Requests waiting (backlog), interval mean"
    ),
    "in_system_mean": Family(
        "twin_service_in_system", "gauge", "", "Requests waiting or in service, interval mean"
    ),
}
_COUNTERS = {
    "arrivals": Family("twin_service_arrivals", "counter", "", "Requests arrived"),
    "completed": Family("twin_service_completed", "counter", "", "Requests completed"),
    "dropped": Family("twin_service_dropped", "counter", "", "Requests dropped (queue full)"),
}
_LATENCY = Family(
    "twin_service_latency_seconds", "summary", "seconds",
    "Wait plus service at the service, per interval (quantiles of the interval)",
)  # fmt: skip
_RIDERS = {
    "active_riders": Family("twin_active_riders", "gauge", "", "Riders riding, interval mean"),
    "video_degraded_riders": Family(
        "twin_video_degraded_riders", "gauge", "", "Riders with degraded video, interval mean"
    ),
    "leaderboard_lag_p99_s": Family(
        "twin_leaderboard_lag_p99_seconds",
        "gauge",
        "seconds",
        "p99 of sample-to-leaderboard lag of the samples taken in the interval",
    ),
}
_DEGRADED = Family(
    "twin_video_degraded_ratio", "gauge", "", "Share of riding riders with degraded video"
)
_COST = Family(
    "twin_cost_usd_per_hour", "gauge", "",
    "The run's monthly cost by component over 730 hours (one figure per run)",
)  # fmt: skip
_REQUESTS = Family("twin_requests", "counter", "", "End-to-end requests completed, by type")
_ERRORS = Family("twin_request_errors", "counter", "", "End-to-end requests failed, by type")
_REQUEST_LATENCY = Family(
    "twin_request_latency_seconds", "summary", "seconds",
    "End-to-end latency by request type over the whole run",
)  # fmt: skip
FAMILIES: tuple[Family, ...] = (
    *_SERVICE.values(), *_COUNTERS.values(), _LATENCY, *_RIDERS.values(), _DEGRADED, _COST,
    _REQUESTS, _ERRORS, _REQUEST_LATENCY,
)  # fmt: skip
_QUANTILES = (("0.5", "p50"), ("0.95", "p95"), ("0.99", "p99"))


def parse_start(text: str) -> datetime:
    """An ISO 8601 date-time (`2026-01-01T07:00:00Z`, or with an offset; none means UTC)."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            "--openmetrics-start", None, f"{text!r} is not an ISO 8601 time like 2026-01-01T07:00Z"
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def openmetrics_text(summary: Mapping[str, Any], timeseries: pd.DataFrame, start: datetime) -> str:
    """The run as OpenMetrics text (ending `# EOF`), its time 0 at `start` (aware)."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    base = {"scenario": str(summary.get("scenario", "")), "engine": str(summary.get("engine", ""))}
    t0 = start.timestamp()
    lines: list[str] = []
    for family, series in _families(summary, timeseries, t0):
        lines.extend(_family_lines(family, series, base))
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


# A series: its labels and (suffix, extra labels, value, timestamp) points in time order.
Point = tuple[str, dict[str, str], float, float]
Series = tuple[dict[str, str], list[Point]]


def _families(
    summary: Mapping[str, Any], ts: pd.DataFrame, t0: float
) -> Iterator[tuple[Family, list[Series]]]:
    frame = ts.sort_values(["service", "t_s"], kind="stable")
    groups = [(str(name), rows) for name, rows in frame.groupby("service", sort=False)]
    for column, family in _SERVICE.items():
        if column in frame.columns:
            yield family, [_gauge({"service": n}, rows, column, t0) for n, rows in groups]
    for column, family in _COUNTERS.items():
        if column in frame.columns:
            yield family, [_counter({"service": n}, rows, column, t0) for n, rows in groups]
    yield _LATENCY, [_latency({"service": n}, rows, t0) for n, rows in groups]
    yield from _rider_families(frame, groups, t0)
    end = t0 + float(summary.get("simulated_seconds") or _span(frame))
    cost = _cost_series(summary, _ends(groups[0][1], t0) if groups else np.array([end]))
    if cost:
        yield _COST, cost
    yield from _request_families(summary.get("requests") or {}, t0, end)


def _ends(rows: pd.DataFrame, t0: float) -> np.ndarray:
    return t0 + rows["t_s"].to_numpy(float) + rows["interval_s"].to_numpy(float)


def _span(frame: pd.DataFrame) -> float:
    return float((frame["t_s"] + frame["interval_s"]).max()) if len(frame) else 0.0


def _gauge(labels: dict[str, str], rows: pd.DataFrame, column: str, t0: float) -> Series:
    values = rows[column].to_numpy(float)
    return labels, [("", {}, v, t) for v, t in zip(values, _ends(rows, t0), strict=True)]


def _counter(labels: dict[str, str], rows: pd.DataFrame, column: str, t0: float) -> Series:
    totals = np.cumsum(np.nan_to_num(rows[column].to_numpy(float)))
    first = t0 + float(rows["t_s"].iloc[0]) if len(rows) else t0
    points: list[Point] = [("_total", {}, 0.0, first)]
    points += [("_total", {}, v, t) for v, t in zip(totals, _ends(rows, t0), strict=True)]
    return labels, points


def _latency(labels: dict[str, str], rows: pd.DataFrame, t0: float) -> Series:
    completed = np.nan_to_num(rows["completed"].to_numpy(float))
    mean_s = np.nan_to_num(rows["latency_ms_mean"].to_numpy(float)) / 1e3
    count, total = np.cumsum(completed), np.cumsum(completed * mean_s)
    points: list[Point] = []
    for i, t in enumerate(_ends(rows, t0)):
        for q, key in _QUANTILES:
            column = f"latency_ms_{key}"
            if column in rows.columns:
                points.append(("", {"quantile": q}, float(rows[column].iloc[i]) / 1e3, t))
        points += [("_sum", {}, float(total[i]), t), ("_count", {}, float(count[i]), t)]
    return labels, points


def _rider_families(
    frame: pd.DataFrame, groups: list[tuple[str, pd.DataFrame]], t0: float
) -> Iterator[tuple[Family, list[Series]]]:
    """Rider columns repeat on every service's row of an interval: read them from one."""
    if not groups or "active_riders" not in frame.columns:
        return
    rows = groups[0][1]
    for column, family in _RIDERS.items():
        if column in rows.columns:
            yield family, [_gauge({}, rows, column, t0)]
    if "video_degraded_riders" in rows.columns:
        with np.errstate(invalid="ignore", divide="ignore"):
            share = rows["video_degraded_riders"] / rows["active_riders"].where(
                rows["active_riders"] > 0
            )
        share = share.clip(0.0, 1.0)  # all riders degraded can divide to 1 + 2e-16
        yield _DEGRADED, [_gauge({}, rows.assign(share=share), "share", t0)]


def _cost_series(summary: Mapping[str, Any], ends: np.ndarray) -> list[Series]:
    by_component = (summary.get("cost") or {}).get("by_component") or {}
    return [
        ({"component": str(name)}, [("", {}, float(usd) / HOURS_PER_MONTH, t) for t in ends])
        for name, usd in by_component.items()
    ]


def _request_families(
    requests: Mapping[str, Any], t0: float, end: float
) -> Iterator[tuple[Family, list[Series]]]:
    if not requests:
        return
    names = sorted(requests)
    counts = [_run_counter(n, requests[n].get("count"), t0, end) for n in names]
    errors = [_run_counter(n, requests[n].get("errors"), t0, end) for n in names]
    yield _REQUESTS, [s for s in counts if s is not None]
    yield _ERRORS, [s for s in errors if s is not None]
    yield _REQUEST_LATENCY, [_run_latency(n, requests[n], end) for n in names]


def _run_counter(route: str, value: Any, t0: float, end: float) -> Series | None:
    if value is None:
        return None
    return {"route": route}, [("_total", {}, 0.0, t0), ("_total", {}, float(value), end)]


def _run_latency(route: str, block: Mapping[str, Any], end: float) -> Series:
    latency = block.get("latency_ms") or {}
    points: list[Point] = [
        ("", {"quantile": q}, _seconds(latency.get(key)), end) for q, key in _QUANTILES
    ]
    count = block.get("count")
    mean = latency.get("mean")
    if count is not None and mean is not None:
        points += [
            ("_sum", {}, float(count) * float(mean) / 1e3, end),
            ("_count", {}, float(count), end),
        ]
    return {"route": route}, points


def _seconds(ms: Any) -> float:
    return float("nan") if ms is None else float(ms) / 1e3


def _family_lines(family: Family, series: Iterable[Series], base: dict[str, str]) -> list[str]:
    lines = [f"# TYPE {family.name} {family.type}"]
    if family.unit:
        lines.append(f"# UNIT {family.name} {family.unit}")
    lines.append(f"# HELP {family.name} {_escape(family.help)}")
    for labels, points in series:
        common = {**base, **labels}
        for suffix, extra, value, t in points:
            if math.isnan(value):
                continue  # nothing was measured there: a gap, not a made-up value
            text = _labels({**common, **extra})
            lines.append(f"{family.name}{suffix}{text} {_number(value)} {_number(t)}")
    return lines


def _labels(labels: Mapping[str, str]) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    return "{" + inner + "}"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))
