"""A sweep's results: the tidy table, each SLO's margin, and the cheapest design at each load.

Pure calculation on the summaries of a grid's points (`twin.runs.sweep` runs them). One axis
is the load: `riders` when it is swept, else the last axis; the other axes make the designs
(every combination of their values), so the grid reads as designs x loads, which is how an
architect presents it: for each SLO its margin over the grid, the cost per user over the
grid, and at each load the cheapest design that meets every SLO.

The margin of an SLO is its headroom relative to its target: (target - observed) / |target|
for `<=` and `<`, (observed - target) / |target| for `>=` and `>`; positive meets it, negative
misses it by that share; None when the summary has no value there (a miss).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from twin.config.grid import Axis
from twin.results.slo import lookup

__all__ = [
    "LOAD_LABEL",
    "Axis",
    "Cheapest",
    "Grid",
    "SweepPoint",
    "cheapest",
    "design_name",
    "margin",
    "point_metrics",
    "tidy_rows",
]

LOAD_LABEL = "riders"
COST_KEY = "cost.per_user_month_usd"

_SERVICE_KEYS = (
    "utilization_mean", "utilization_peak", "dropped", "latency_ms.mean", "latency_ms.p99",
    "wait_ms.mean",
)  # fmt: skip
_REQUEST_KEYS = (
    "count", "errors", "latency_ms.mean", "latency_ms.p50", "latency_ms.p95", "latency_ms.p99",
)  # fmt: skip


@dataclass(frozen=True)
class SweepPoint:
    """One point of the grid: its index in grid order and each axis's value (by label)."""

    index: int
    values: dict[str, Any]


@dataclass(frozen=True)
class Cheapest:
    """At one load: the cheapest design meeting every SLO (None when no design does)."""

    load: Any
    design: str | None
    per_user_month_usd: float | None
    worst_margin: float | None


def margin(verdict: Mapping[str, Any]) -> float | None:
    """An SLO verdict's margin (see the module), or None without an observed value."""
    observed, target, op = verdict.get("observed"), float(verdict["target"]), verdict["op"]
    if observed is None or not math.isfinite(float(observed)):
        return None
    scale = abs(target) or 1.0
    if op in ("<=", "<"):
        return (target - float(observed)) / scale
    if op in (">=", ">"):
        return (float(observed) - target) / scale
    return -abs(float(observed) - target) / scale


def _ci(summary: Mapping[str, Any], key: str) -> tuple[float | None, float | None]:
    """The 95 % interval beside a `.mean` key, when the summary has one."""
    if not key.endswith(".mean"):
        return None, None
    low, high = (lookup(summary, f"{key[: -len('.mean')]}.ci95.{i}") for i in (0, 1))
    return low, high


def point_metrics(summary: Mapping[str, Any]) -> list[str]:
    """The dotted keys a sweep tabulates for a summary: cost, each service and request type,
    the rider experience; those the summary has a number at."""
    keys = ["cost.monthly_usd", COST_KEY]
    keys += [f"services.{s}.{k}" for s in summary.get("services", {}) for k in _SERVICE_KEYS]
    keys += [f"requests.{r}.{k}" for r in summary.get("requests", {}) for k in _REQUEST_KEYS]
    keys += [f"experience.{k}" for k in _leaves(summary.get("experience", {}))]
    return [k for k in keys if lookup(summary, k) is not None]


def _leaves(block: Any, prefix: str = "") -> list[str]:
    if not isinstance(block, Mapping):
        number = isinstance(block, int | float) and not isinstance(block, bool)
        return [prefix[:-1]] if number else []
    return [leaf for k, v in block.items() for leaf in _leaves(v, f"{prefix}{k}.")]


def tidy_rows(
    axes: Sequence[Axis], points: Sequence[SweepPoint], summaries: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """One row per point and metric (and per SLO on that metric): the point's axis values,
    its engine, the value and its interval, and for an SLO its target, verdict and margin."""
    rows: list[dict[str, Any]] = []
    for point, summary in zip(points, summaries, strict=True):
        head = {"point": point.index, **{a.label: point.values[a.label] for a in axes}}
        head |= {"engine": summary.get("engine"), "replications": summary.get("replications")}
        judged = _judged(summary)
        for key in [*point_metrics(summary), *(k for k in judged if lookup(summary, k) is None)]:
            low, high = _ci(summary, key)
            base = head | {"metric": key, "value": lookup(summary, key)}
            base |= {"ci95_low": low, "ci95_high": high}
            verdicts: list[Mapping[str, Any] | None] = [*judged.get(key, [])] or [None]
            rows += [base | _slo_columns(verdict) for verdict in verdicts]
    return rows


def _judged(summary: Mapping[str, Any]) -> dict[str, list[Mapping[str, Any]]]:
    """The SLO verdicts of a summary by the metric they judge."""
    judged: dict[str, list[Mapping[str, Any]]] = {}
    for verdict in summary.get("slo", []):
        judged.setdefault(verdict["metric"], []).append(verdict)
    return judged


def _slo_columns(verdict: Mapping[str, Any] | None) -> dict[str, Any]:
    if verdict is None:
        return {"slo": None, "op": None, "target": None, "passed": None, "margin": None}
    return {
        "slo": verdict["name"],
        "op": verdict["op"],
        "target": float(verdict["target"]),
        "passed": bool(verdict["passed"]),
        "margin": margin(verdict),
    }


@dataclass(frozen=True)
class Grid:
    """The points as designs (rows) x loads (columns); `cell[r][c]` is a point's index."""

    load: Axis | None
    design_axes: tuple[Axis, ...]
    designs: tuple[str, ...]
    loads: tuple[Any, ...]
    cell: tuple[tuple[int, ...], ...]

    @classmethod
    def of(cls, axes: Sequence[Axis], points: Sequence[SweepPoint]) -> Grid:
        load = next((a for a in axes if a.label == LOAD_LABEL), axes[-1] if axes else None)
        others = tuple(a for a in axes if a is not load)
        loads = load.values if load is not None else (None,)
        index: dict[tuple[str, Any], int] = {}
        designs: list[str] = []
        for p in points:
            name = design_name(others, p)
            designs += [] if name in designs else [name]
            index[(name, p.values.get(load.label) if load else None)] = p.index
        cell = tuple(tuple(index[(d, v)] for v in loads) for d in designs)
        return cls(load, others, tuple(designs), tuple(loads), cell)


def design_name(design_axes: Sequence[Axis], point: SweepPoint) -> str:
    """`phase3-global` or `architecture=phase3-global, cdn.egress_gbps=5`; `as given` when
    only the load is swept."""
    if not design_axes:
        return "as given"
    if len(design_axes) == 1:
        return str(point.values[design_axes[0].label])
    return ", ".join(f"{a.label}={point.values[a.label]}" for a in design_axes)


def _all_met(summary: Mapping[str, Any]) -> bool:
    return all(v["passed"] for v in summary.get("slo", []))


def _worst(summary: Mapping[str, Any]) -> float | None:
    margins = [margin(v) for v in summary.get("slo", [])]
    known = [m for m in margins if m is not None]
    return min(known) if known and len(known) == len(margins) else None


def cheapest(grid: Grid, summaries: Sequence[Mapping[str, Any]]) -> list[Cheapest]:
    """At each load, the design meeting every SLO at the lowest cost per user."""
    answers = []
    for c, load in enumerate(grid.loads):
        best: tuple[float, str, int] | None = None
        for r, design in enumerate(grid.designs):
            summary = summaries[grid.cell[r][c]]
            cost = lookup(summary, COST_KEY)
            if _all_met(summary) and cost is not None and (best is None or cost < best[0]):
                best = (cost, design, grid.cell[r][c])
        if best is None:
            answers.append(Cheapest(load, None, None, None))
        else:
            answers.append(Cheapest(load, best[1], best[0], _worst(summaries[best[2]])))
    return answers
