"""Incident replay: the scenario's trouble, mapped onto the target's fault-injection API.

The compiled scenario already says, tick by tick, what each component has left (`up`), how
many records the stream can take against how many arrive, and how many bytes the CDN can send.
`fault_timeline` turns that into the reference platform's faults on the drill's clock:

- a stream that falls behind (records offered beyond its shards' capacity, and until the
  backlog it built has drained, as the twin's fluid backlog says) pauses stream consumers, the
  share of them its shortfall is (at least one): the 2021 IoT overload;
- a streaming origin that is down (`up` = 0) takes the origin down: the 2022 broadcast failure;
- a CDN whose egress is below the video riders ask for caps the origin's egress at the scaled
  capacity: the 2020 surge;
- any other service with capacity lost answers that share of its routes' requests with 503.

`IncidentReplay` applies each change at its compressed time through the admin API in a thread
and records what it applied. A `-fixed` scenario yields no faults, since nothing falls short.
`replayed_marks` turns what was applied into the windows a report shades (a shortfall that
is the provisioning itself, as the IoT overload's, declares no incident but is replayed).
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import numpy as np

from twin.drill.plan import DrillWorkload, compress
from twin.errors import TargetError

__all__ = ["IncidentReplay", "fault_timeline", "replayed_marks", "stream_backlog"]


def stream_backlog(offered: np.ndarray, capacity: np.ndarray, tick_s: float) -> np.ndarray:
    """The fluid backlog of a stream per tick: it grows by the excess and drains by the slack."""
    backlog = np.zeros(offered.size)
    level = 0.0
    for i in range(offered.size):
        level = max(0.0, level + (offered[i] - capacity[i]) * tick_s)
        backlog[i] = level
    return backlog


def _paused(compiled: Any, consumers: int, squeeze: Any) -> np.ndarray:
    paused = np.zeros(0)
    for spec in compiled.services.values():
        if spec.kind != "stream" or spec.records_capacity_per_s is None:
            continue
        offered = np.asarray(compiled.telemetry_records_per_s, dtype=float)
        capacity = np.asarray(spec.records_capacity_per_s, dtype=float)
        behind = squeeze(stream_backlog(offered, capacity, compiled.tick_s)) > 0
        short = squeeze(np.clip(1.0 - capacity / np.maximum(offered, 1e-12), 0.0, 1.0))
        n = np.where(behind, np.maximum(1, np.ceil(consumers * short - 1e-9)), 0)
        paused = n if paused.size == 0 else np.maximum(paused, n)
    return paused


def _origin(compiled: Any, squeeze: Any, factor: float) -> tuple[np.ndarray, np.ndarray]:
    down, cap = np.zeros(0, dtype=bool), np.zeros(0)
    for spec in compiled.services.values():
        if spec.kind != "cdn" or spec.egress_bps is None:
            continue
        origin = compiled.services.get(spec.origin)
        if origin is not None:
            down = squeeze(origin.up) < 0.5
        wanted = squeeze(np.asarray(compiled.bytes_per_s, dtype=float) * 8.0)
        egress = squeeze(np.asarray(spec.egress_bps, dtype=float))
        cap = np.where(egress < wanted, egress * factor, np.nan)
    return down, cap


def _route_errors(compiled: Any, squeeze: Any) -> dict[str, np.ndarray]:
    errors: dict[str, np.ndarray] = {}
    for rtype, hops in compiled.visits.items():
        lost = None
        for hop, _share in hops:
            spec = compiled.services[hop]
            if spec.kind in ("cdn", "stream") or np.all(spec.up >= 1.0):
                continue
            here = 1.0 - squeeze(spec.up)
            lost = here if lost is None else np.maximum(lost, here)
        if lost is not None and np.any(lost > 0):
            errors[rtype] = np.round(lost, 3)
    return errors


def _state(k: int, paused: Any, down: Any, cap: Any, errors: dict[str, Any]) -> dict[str, Any]:
    egress = None if cap.size == 0 or math.isnan(cap[k]) else float(cap[k])
    return {
        "paused_consumers": int(paused[k]) if paused.size else 0,
        "origin_down": bool(down[k]) if down.size else False,
        "origin_egress_bps": None if egress is None else max(1.0, egress),
        "routes": {r: float(v[k]) for r, v in errors.items() if v[k] > 0},
    }


def _patch(previous: dict[str, Any] | None, state: dict[str, Any]) -> dict[str, Any]:
    """A PATCH document moving from `previous` to `state` (routes no longer faulted cleared)."""
    doc = {k: v for k, v in state.items() if k != "routes"}
    routes: dict[str, Any] = {r: {"error_ratio": v} for r, v in state["routes"].items()}
    for gone in set((previous or {}).get("routes", {})) - set(state["routes"]):
        routes[gone] = None
    if routes:
        doc["routes"] = routes
    return doc


def fault_timeline(
    compiled: Any, work: DrillWorkload, *, consumers: int
) -> list[tuple[float, dict[str, Any]]]:
    """`(drill second, PATCH document)` at every change of the faults; empty when none."""

    def squeeze(series: Any) -> np.ndarray:
        return compress(np.asarray(series, dtype=float), compiled.tick_s, work.speedup,
                        work.duration_s)  # fmt: skip

    factor = float(work.riders.sum() / max(compress(compiled.active_riders, compiled.tick_s,
                   work.speedup, work.duration_s).sum(), 1e-12))  # fmt: skip
    paused = _paused(compiled, consumers, squeeze)
    down, cap = _origin(compiled, squeeze, factor)
    errors = _route_errors(compiled, squeeze)
    events: list[tuple[float, dict[str, Any]]] = []
    previous: dict[str, Any] | None = None
    quiet = _state(0, np.zeros(0), np.zeros(0), np.zeros(0), {})
    for k in range(work.duration_s):
        state = _state(k, paused, down, cap, errors)
        if state != (previous or quiet):
            events.append((float(k), _patch(previous, state)))
            previous = state
    return events


class IncidentReplay:
    """Applies a fault timeline at `t0 + drill second` in a thread; clears faults on exit."""

    def __init__(
        self, target: Any, admin_token: str, timeline: list[tuple[float, dict[str, Any]]],
        t0: float,
    ) -> None:  # fmt: skip
        self.target, self.token, self.timeline, self.t0 = target, admin_token, timeline, t0
        self.applied: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        for tau, doc in self.timeline:
            if self._stop.wait(max(0.0, self.t0 + tau - time.time())):
                return
            try:
                self.target.set_faults(self.token, doc)
                self.applied.append({"t_s": tau, "at": round(time.time() - self.t0, 3), **doc})
            except TargetError as exc:
                self.applied.append({"t_s": tau, "error": str(exc)})

    def __enter__(self) -> IncidentReplay:
        if self.timeline:
            self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self.timeline:
            self._thread.join(5)


def _fault_kinds(state: dict[str, Any]) -> dict[str, str]:
    """The faults in force in a replayed state, by kind: kind -> the report's name for it."""
    out = {}
    if state.get("paused_consumers"):
        out["paused"] = "stream consumers paused"
    if state.get("origin_down"):
        out["down"] = "origin down"
    if state.get("origin_egress_bps") is not None:
        out["egress"] = "origin egress capped"
    for route in sorted(state.get("routes") or {}):
        out[f"route:{route}"] = f"503s on {route}"
    return out


def _replayed_states(applied: list[dict[str, Any]]) -> list[tuple[float, dict[str, Any]]]:
    """(drill second, the faults in force from then) after each change the target took."""
    state: dict[str, Any] = {"routes": {}}
    out = []
    for doc in applied:
        if doc.get("error"):  # refused: nothing changed on the target
            continue
        routes = dict(state["routes"])
        for route, fault in (doc.get("routes") or {}).items():
            if fault is None:
                routes.pop(route, None)
            else:
                routes[route] = fault
        keep = ("paused_consumers", "origin_down", "origin_egress_bps")
        state = {**state, **{k: doc[k] for k in keep if k in doc}, "routes": routes}
        out.append((float(doc.get("at", doc.get("t_s", 0.0))), state))
    return out


def replayed_marks(applied: list[dict[str, Any]], duration_s: float) -> list[dict[str, Any]]:
    """The faults a drill replayed (`drill.faults_applied`) as the windows its report shades
    (name, start_s, end_s in drill seconds): one per kind of fault and stretch it was in force,
    from when the target took it; one still in force at the end runs to `duration_s`. Paused
    consumers are named with the most paused at once in the stretch."""
    open_: dict[str, list[Any]] = {}  # kind -> [name, start, most consumers paused]
    marks = []

    def close(kind: str, end: float) -> None:
        name, start, most = open_.pop(kind)
        if kind == "paused":
            name = f"{name}: {'up to ' if most > 1 else ''}{most}"
        marks.append({"name": f"{name} (replayed)", "start_s": start, "end_s": end})

    for t, state in _replayed_states(applied):
        kinds = _fault_kinds(state)
        for kind in [k for k in open_ if k not in kinds]:
            close(kind, t)
        for kind, name in kinds.items():
            entry = open_.setdefault(kind, [name, t, 0])
            entry[2] = max(entry[2], int(state.get("paused_consumers") or 0))
    for kind in list(open_):
        close(kind, float(duration_s))
    return sorted(marks, key=lambda m: (m["start_s"], m["name"]))
