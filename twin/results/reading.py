"""Reading a summary: nested keys that may be missing, numbers that may be NaN, the cost by
component in any of its shapes, and the incidents as time windows. The report and the
comparison of designs read summaries through these, so both see the same values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

from twin.errors import InputError

__all__ = ["Window", "cost_items", "dig", "incident_windows", "is_number"]


def is_number(value: object) -> TypeGuard[float]:
    """True for a finite int or float (and not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


def dig(entry: object, *keys: str) -> Any:
    """`entry[k1][k2]...` through nested mappings, or None where a level is missing."""
    for key in keys:
        if not isinstance(entry, Mapping):
            return None
        entry = entry.get(key)
    return entry


def cost_items(cost: object) -> list[tuple[str, float]]:
    """`cost.by_component` as (component, monthly USD), largest first.

    Accepts `{name: usd}`, `{name: {monthly_usd: usd}}` or `[{name, monthly_usd}]`.
    """
    by = dig(cost, "by_component")
    if isinstance(by, Mapping):
        pairs = [(str(k), v if is_number(v) else dig(v, "monthly_usd")) for k, v in by.items()]
    elif isinstance(by, Sequence) and not isinstance(by, str):
        pairs = [(str(dig(i, "name") or dig(i, "component")), dig(i, "monthly_usd")) for i in by]
    else:
        return []
    items = [(name, float(v)) for name, v in pairs if is_number(v)]
    return sorted(items, key=lambda item: -item[1])


@dataclass(frozen=True)
class Window:
    """A span of simulated time to mark on every time plot (an incident)."""

    label: str
    start_s: float
    end_s: float


def _first(incident: Mapping[str, object], keys: Sequence[str]) -> object:
    for key in keys:
        if key in incident and incident[key] is not None:
            return incident[key]
    return None


def _label(incident: Mapping[str, object], index: int) -> str:
    name = _first(incident, ("name", "label", "kind"))
    label = str(name) if name is not None else f"incident {index + 1}"
    target = _first(incident, ("service", "target", "component"))
    return f"{label} ({target})" if target is not None else label


def _window(incident: Mapping[str, object], index: int) -> Window:
    start = _first(incident, ("start_s", "start"))
    if not is_number(start):
        raise InputError("incidents", f"{index}.start_s", "needs seconds into the run")
    end = _first(incident, ("end_s", "end"))
    duration = incident.get("duration_s")
    if not is_number(end):
        end = start + duration if is_number(duration) else math.inf
    if end < start:
        raise InputError("incidents", f"{index}.end_s", "ends before it starts")
    return Window(_label(incident, index), float(start), float(end))


def incident_windows(incidents: Iterable[Mapping[str, object]]) -> tuple[Window, ...]:
    """Incidents as time windows: `start_s` and `end_s` (or `duration_s`); no end = to the end."""
    return tuple(_window(incident, i) for i, incident in enumerate(incidents))
