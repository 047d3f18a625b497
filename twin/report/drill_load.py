"""A drill report's "Load generation" section: who made the load (local Locust processes or
remote `twin drill-worker`s on Locust's master/worker protocol), each process's share of the
requests, its CPU and its wait for a CPU, and the speed index the prediction was scaled by."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from twin.report.tables import Cell, Table
from twin.results.reading import is_number

__all__ = ["LoadGeneration", "load_generation"]


@dataclass(frozen=True)
class LoadGeneration:
    """The section: who made the load (a sentence), the processes' table, the speed line."""

    who: str
    table: Table | None
    speed: str | None
    sessions: str | None = None  # the sessions ridden, live and on demand (`drill.sessions`)


def _s(value: Any) -> str:
    return f"{value:.2f}" if is_number(value) else "-"


def _who(drill: Mapping[str, Any], processes: list[Mapping[str, Any]]) -> str:
    workers = int(drill.get("workers") or 1)
    remote = [p for p in processes if str(p.get("process", "")).startswith("rec-worker-")]
    if remote:
        runs = {p.get("run") for p in processes}
        return (f"{workers} remote worker{'s' * (workers != 1)} (twin drill-worker) connected "
                "to this drill's "
                f"Locust master; {len(remote)} sent their records over Locust's messages"
                + (f" in {len(runs)} runs" if len(runs) > 1 else "")
                + "; the master merged them.")  # fmt: skip
    return f"{workers} Locust process{'es' * (workers != 1)} on this machine."


def _sessions(drill: Mapping[str, Any]) -> str | None:
    s = drill.get("sessions")
    if not s:
        return None
    text = (f"The riders rode {s['started']:,} sessions: {s['live']:,} live, "
            f"{s['on_demand']:,} on demand")
    if s.get("live_unjoinable"):
        text += (f" ({s['live_unjoinable']:,} of them meant to be live, but the target ran no "
                 "live class then)")
    text += f"; {s.get('resumed', 0):,} were resumed by a new Locust user."
    return text + (" The prediction takes the live riders the drill rode, not the plan's "
                   "(twin.drill.predict.ridden).")


def _table(processes: list[Mapping[str, Any]]) -> Table:
    head = ("process", "run", "requests", "share", "errors", "CPU s", "waited for a CPU s",
            "wait / CPU")  # fmt: skip
    runs: dict[Any, int] = {}
    for p in processes:
        runs[p.get("run")] = runs.get(p.get("run"), 0) + int(p.get("requests") or 0)
    rows = []
    for p in processes:
        n, total = int(p.get("requests") or 0), runs.get(p.get("run")) or 0
        cpu, wait = p.get("cpu_s"), p.get("wait_s")
        ratio = wait / cpu if is_number(cpu) and is_number(wait) and cpu > 0 else None
        cells = (str(p.get("process")), str(p.get("run", 1)), f"{n:,}",
                 f"{n / total:.0%}" if total else "-", f"{int(p.get('errors') or 0):,}",
                 _s(cpu), _s(wait), _s(ratio))  # fmt: skip
        rows.append(tuple(Cell(c) for c in cells))
    return Table(head, tuple(rows))


def _speed(prediction: Mapping[str, Any] | None) -> str | None:
    if not prediction or not is_number(prediction.get("speed_index")):
        return None
    parts = [f"speed index {prediction['speed_index']:.2f}"]
    if is_number(prediction.get("cpu_index")):
        parts.append(f"CPU time per unit of work {prediction['cpu_index']:.2f}x the calibration's")
    if is_number(prediction.get("stall_factor")):
        r, r_cal = prediction.get("wait_per_cpu", 0), prediction.get("calibration_wait_per_cpu", 0)
        parts.append(f"stall factor {prediction['stall_factor']:.2f} (load generator and target "
                     f"waited {r:.2f} s for a CPU per CPU second, in calibration "
                     f"{r_cal:.2f})")  # fmt: skip
    elif is_number(prediction.get("wait_per_cpu")):
        parts.append(f"load generator and target waited {prediction['wait_per_cpu']:.2f} s for "
                     "a CPU per CPU second (the model's file has no calibration figure to set it "
                     "against)")  # fmt: skip
    if is_number(prediction.get("target_speed_index")):
        parts.append(f"the target's components at their own speed index "
                     f"{prediction['target_speed_index']:.2f} (its CPU time per unit of work "
                     f"{prediction['target_cpu_index']:.2f}x the calibration's), the load "
                     "generator's at the speed index")  # fmt: skip
    return "; ".join(parts) + "."


def load_generation(
    measured: Mapping[str, Any], predicted: Mapping[str, Any] | None
) -> LoadGeneration | None:
    """The section, or None for a summary without the drill's per-process figures."""
    drill = measured.get("drill") or {}
    processes = list(drill.get("load_shares") or [])
    if not processes:
        return None
    prediction = (predicted or {}).get("prediction")
    return LoadGeneration(_who(drill, processes), _table(processes), _speed(prediction),
                          _sessions(drill))
