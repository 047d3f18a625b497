"""The drill plan as the load generators read it: one JSON file written by `twin drill`.

`twin.drill.plan` computes everything from the scenario (users per drill second, the share of
sessions that start live, the scenario's live classes on the compressed clock, the target's
class list, the rider pool with its tokens) so the Locust processes never import twin: they
only read this file, named by the `TWIN_DRILL_PLAN` environment variable.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ENV_PLAN", "LiveClass", "Plan", "load_plan"]

ENV_PLAN = "TWIN_DRILL_PLAN"


@dataclass(frozen=True)
class LiveClass:
    """A live class: `start`/`end` in the clock it belongs to, and its weight (riders)."""

    id: str
    start: float
    end: float
    weight: float


@dataclass(frozen=True)
class Plan:
    """The parts of the plan a load generator uses (see `twin.drill.plan.DrillPlan`)."""

    t0: float  # epoch seconds at drill second 0, shared by every process
    duration_s: int
    speedup: float
    users: tuple[int, ...]
    spawn_rate: float
    live_start_share: tuple[float, ...]
    active_live_share: tuple[float, ...]
    scenario_live: tuple[LiveClass, ...]  # drill seconds
    # per drill second: (index into scenario_live, joiners) of the classes taking joiners
    live_joins: tuple[tuple[tuple[int, float], ...], ...]
    od_lengths: tuple[tuple[float, float], ...]  # on-demand session (scenario s, probability)
    target_live: tuple[LiveClass, ...]  # epoch seconds, the target's own live classes
    on_demand: dict[str, float]  # class id -> length in seconds
    riders: tuple[dict[str, Any], ...]
    out_dir: str
    segment_s: float
    telemetry_batch_s: float
    leaderboard_live_s: float
    leaderboard_od_s: float
    feedback_share: float
    seed: int

    def at(self, series: tuple[float, ...] | tuple[int, ...], tau: float) -> float:
        """The value of a per-second series at drill second `tau` (clamped to the run)."""
        if not series:
            return 0.0
        return float(series[min(max(int(tau), 0), len(series) - 1)])


def _classes(items: list[dict[str, Any]]) -> tuple[LiveClass, ...]:
    return tuple(LiveClass(c["id"], c["start"], c["end"], c.get("weight", 1.0)) for c in items)


def load_plan(path: str | Path | None = None) -> Plan:
    """Read the plan file (`path`, or the one `TWIN_DRILL_PLAN` names)."""
    where = path or os.environ.get(ENV_PLAN)
    if not where:
        raise RuntimeError(f"{ENV_PLAN} is not set: run the rider through `twin drill`")
    doc = json.loads(Path(where).read_text(encoding="utf-8"))
    consts = doc["constants"]
    return Plan(
        t0=float(doc["t0"]),
        duration_s=int(doc["duration_s"]),
        speedup=float(doc["speedup"]),
        users=tuple(doc["users"]),
        spawn_rate=float(doc["spawn_rate"]),
        live_start_share=tuple(doc["live_start_share"]),
        active_live_share=tuple(doc["active_live_share"]),
        scenario_live=_classes(doc["scenario_live"]),
        live_joins=tuple(tuple((int(i), float(w)) for i, w in sec) for sec in doc["live_joins"]),
        od_lengths=tuple((float(s), float(p)) for s, p in doc["od_lengths"]),
        target_live=_classes(doc["target_live"]),
        on_demand={k: float(v) for k, v in doc["on_demand"].items()},
        riders=tuple(doc["riders"]),
        out_dir=str(doc["out_dir"]),
        segment_s=float(consts["segment_s"]),
        telemetry_batch_s=float(consts["telemetry_batch_s"]),
        leaderboard_live_s=float(consts["leaderboard_live_s"]),
        leaderboard_od_s=float(consts["leaderboard_od_s"]),
        feedback_share=float(consts["feedback_share"]),
        seed=int(doc.get("seed", 0)),
    )
