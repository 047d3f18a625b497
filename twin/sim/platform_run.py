"""A platform scenario end to end: load it and its architecture, build the riders, compile,
run an engine, and complete the summary with what only a platform has (architecture, riders,
incident windows, cost). The engines stay free of files; this module reads the scenario."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from twin.errors import InputError
from twin.sim.result import RunResult
from twin.sim.summary import rank_bottlenecks

__all__ = ["cost_block", "incident_windows", "run_platform_file"]

Progress = Callable[[float, float], None]


def run_platform_file(
    path: Path,
    overrides: Sequence[str],
    *,
    engine: str,
    seed: int | None,
    replications: int,
    progress: Progress | None = None,
) -> tuple[RunResult, Any]:
    """Simulate the platform scenario at `path`; return the result and the scenario."""
    from twin.platform.compile import compile_platform
    from twin.platform.riders import load_platform, scenario_catalog, scenario_population

    scenario, architecture = load_platform(path, list(overrides))
    compiled = compile_platform(
        scenario, architecture, scenario_population(scenario), catalog=scenario_catalog(scenario)
    )
    seed = scenario.seed if seed is None else seed
    if engine == "fluid":
        from twin.sim.fluid import run_fluid

        result = run_fluid(compiled, seed=seed, replications=replications, progress=progress)
    elif engine == "exact":
        from twin.sim.exact.platform import run_exact_platform

        result = run_exact_platform(
            compiled, scenario, seed=seed, replications=replications, progress=progress
        )
    else:
        raise InputError("--engine", None, f"unknown engine {engine!r} (known: exact, fluid)")
    summary = dict(result.summary)
    timeseries = result.timeseries
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
        incidents=incident_windows(compiled.incidents),
        riders_end=round(float(compiled.riders[-1])),
        cost=cost_block(
            architecture,
            summary.get("usage"),
            # Growth scenarios add riders as they go: price per rider of the run's average.
            max(round(float(compiled.riders.mean())), 1),
            float(summary["simulated_seconds"]),
        ),
    )
    return RunResult(summary=summary, timeseries=timeseries), scenario


def _egress_utilization(
    summary: dict[str, Any], timeseries: Any, name: str, spec: Any, compiled: Any
) -> Any:
    """A CDN is busy by the egress it serves, not by request slots: its utilization is the
    share of egress capacity in use, and its offered egress against capacity is kept too."""
    import numpy as np

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


def incident_windows(incidents: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
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
    from twin.platform.architecture import HOURS_PER_MONTH
    from twin.platform.cost import Usage, monthly_cost, per_user

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
