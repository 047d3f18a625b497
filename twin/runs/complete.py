"""A run made complete: what an engine cannot know, added to what it measured.

A platform run gets its scenario, architecture and riders, the incidents as the report marks
them, a CDN's utilization by egress, the bottlenecks ranked again, and its cost; a bare network
gets queueing theory's prediction beside it; every run gets its scenario's SLO verdicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from twin.analytic.jackson import analyze_network
from twin.config.architecture import HOURS_PER_MONTH
from twin.config.network import NetworkScenario
from twin.errors import TwinError
from twin.platform.cost import Usage, monthly_cost, per_user
from twin.results.slo import Slo, from_mapping, verdicts
from twin.runs.compile import PlatformBuild
from twin.sim.summary import rank_bottlenecks

__all__ = ["add_analytic", "add_slo_verdicts", "complete_platform", "cost_block", "incident_marks"]


def complete_platform(
    summary: dict[str, Any], timeseries: pd.DataFrame, build: PlatformBuild
) -> tuple[dict[str, Any], pd.DataFrame]:
    """The engine's platform summary with the scenario's facts, egress and cost added."""
    compiled, scenario = build.compiled, build.scenario
    summary = dict(summary)
    for name, spec in compiled.services.items():
        if spec.egress_bps is not None and name in summary["services"]:
            timeseries = _egress_utilization(summary, timeseries, name, spec, compiled)
    summary["bottlenecks"] = rank_bottlenecks(summary["services"])
    summary.update(
        scenario=scenario.name,
        architecture=scenario.architecture,
        riders=int(scenario.population.riders),
        peak_active_riders=round(float(compiled.active_riders.max())),
        start=str(scenario.start),
        incidents=incident_marks(compiled.incidents),
        riders_end=round(float(compiled.riders[-1])),
        cost=cost_block(
            build.architecture,
            summary.get("usage"),
            # Growth scenarios add riders as they go: price per rider of the run's average.
            max(round(float(compiled.riders.mean())), 1),
            float(summary["simulated_seconds"]),
        ),
    )
    return summary, timeseries


def add_analytic(scenario: NetworkScenario, summary: dict[str, Any]) -> None:
    """Put queueing theory's prediction beside a bare network's simulated means."""
    try:
        summary["analytic"] = analyze_network(scenario).as_dict()
    except TwinError as exc:  # unstable, or no steady state to speak of: say so, do not fake it
        summary["analytic"] = {"unavailable": str(exc)}


def add_slo_verdicts(scenario: Any, summary: dict[str, Any], source: str) -> None:
    """Judge the scenario's own `slo:` block, unless the engine already did."""
    entries = list(getattr(scenario, "slo", []) or [])
    if not entries or "slo" in summary:
        return
    slos = [
        e if isinstance(e, Slo) else from_mapping(_as_mapping(e), source=source, index=i)
        for i, e in enumerate(entries)
    ]
    summary["slo"] = verdicts(slos, summary)


def _as_mapping(entry: Any) -> dict[str, Any]:
    return entry if isinstance(entry, dict) else entry.model_dump()


def _egress_utilization(
    summary: dict[str, Any], timeseries: Any, name: str, spec: Any, compiled: Any
) -> Any:
    """A CDN is busy by the egress it serves, not by request slots: its utilization is the
    share of egress capacity in use, and its offered egress against capacity is kept too."""
    capacity = np.maximum(np.asarray(spec.egress_bps, dtype=float), 1e-9)
    offered = np.asarray(compiled.bytes_per_s, dtype=float) * 8.0 / capacity
    used = np.minimum(offered, 1.0)
    block = summary["services"][name]
    block["utilization_mean"] = round(float(used.mean()), 6)
    block["egress_offered_ratio_peak"] = round(float(offered.max()), 4)
    block["egress_short_seconds"] = round(float((offered > 1.0).sum() * compiled.tick_s), 1)
    rows = timeseries["service"] == name
    t = np.asarray(compiled.t, dtype=float) - float(compiled.t[0])
    per_row = []
    for start, width in zip(
        timeseries.loc[rows, "t_s"], timeseries.loc[rows, "interval_s"], strict=True
    ):
        inside = (t >= start) & (t < start + width)
        per_row.append(float(used[inside].mean()) if inside.any() else float("nan"))
    timeseries = timeseries.copy()
    timeseries.loc[rows, "utilization"] = per_row
    block["utilization_peak"] = round(float(np.nanmax(per_row)) if per_row else 0.0, 6)
    return timeseries


def incident_marks(incidents: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The scenario's incidents as the report marks them: name, start_s, end_s, service."""
    windows = []
    for inc in incidents:
        kind = str(inc.get("type", "incident"))
        component = inc.get("component")
        name = f"{kind.replace('_', ' ')}: {component}" if component else kind
        if kind == "surge":
            name = f"surge x{inc.get('multiplier', 0):g}"
        window = {"name": name, "start_s": inc.get("start_s"), "end_s": inc.get("end_s")}
        if component:
            window["service"] = component
        windows.append(window)
    return windows


def cost_block(
    architecture: Any, usage: dict[str, Any] | None, riders: int, duration_s: float
) -> dict[str, Any]:
    """The month with this run in it: the listed month, plus what the run used beyond the
    listed capacity (instances, shards, egress) for as long as the run lasted.

    Pricing the run's usage as if it lasted all month would make a one-hour surge cost a
    month of surge; that figure is kept as `sustained_monthly_usd` ("if this were normal").
    """
    usage = usage or {}
    priced = Usage(
        instances=usage.get("instances", {}),
        egress_gb_month=usage.get("egress_gb_month", {}),
        shards=usage.get("shards", {}),
    )
    listed = monthly_cost(architecture, riders=riders).by_component
    sustained = monthly_cost(architecture, priced, riders=riders).by_component
    share = min(duration_s / 3600.0 / HOURS_PER_MONTH, 1.0)
    month = {
        name: listed.get(name, 0.0) + max(0.0, sustained[name] - listed.get(name, 0.0)) * share
        for name in sustained
    }
    total = sum(month.values())
    return {
        "monthly_usd": round(total, 2),
        "per_user_month_usd": round(per_user(total, riders), 4),
        "by_component": {k: round(v, 2) for k, v in month.items()},
        "listed_monthly_usd": round(sum(listed.values()), 2),
        "sustained_monthly_usd": round(sum(sustained.values()), 2),
        "basis": "listed month plus this run's usage beyond it, for the run's duration",
    }
