"""The target loop's wake-up in a calibration: measured, or searched from a fixed start.

`twin calibrate` gives the target's event loop (`api`) a wake-up from idle
(`twin.config.architecture.Wake`). When the drills kept request logs and the target's metrics,
`twin.drill.wake` measures it and nothing is searched. Otherwise the loops' pair is searched
at `WAKE_START` (not the file's, so that the fit is the drills'), then `WAKE_GRID` is; with one
drill and no log the file's stands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from twin.drill.fit import API
from twin.drill.wake import wake_fit

__all__ = ["WAKE_GRID", "WAKE_START", "wake_of", "wake_start", "woken"]

# waking the target's loop from idle (penalty_s, tau_s), searched after the loops' pair: none,
# or about what a request after a pause pays on a VM
WAKE_GRID: tuple[tuple[float, float] | None, ...] = (
    None, (0.001, 0.01), (0.0015, 0.02), (0.002, 0.02),
)
# the wake-up the pair's search runs with
WAKE_START = (0.0015, 0.02)


def woken(platform: Any, wake: tuple[float, float] | None) -> Any:
    """The drill platform with the target's loop waking as `wake` says (None: no wake-up)."""
    if API not in platform.services or platform.services[API].wake == wake:
        return platform
    services = {**platform.services, API: replace(platform.services[API], wake=wake)}
    return replace(platform, services=services)


def wake_of(platform: Any) -> tuple[float, float] | None:
    """The target loop's wake-up in a drill platform (None: none, or no such loop)."""
    spec = platform.services.get(API)
    return None if spec is None else spec.wake


def wake_start(drills: Sequence[Any]) -> tuple[list[Any], str, Sequence[Any]]:
    """The drills (each with `folder` and `platform`) with the wake-up the fit starts from,
    how it is had ("measured", "searched" or "file"), and the values searched after the
    loops' pair (none when measured or the file's)."""
    woke = wake_fit([d.folder for d in drills])
    if woke is None and len(drills) < 2:
        return list(drills), "file", ()
    start = WAKE_START if woke is None else (woke.penalty_s, woke.tau_s)
    out = [replace(d, platform=woken(d.platform, start)) for d in drills]
    return (out, "searched", WAKE_GRID) if woke is None else (out, "measured", ())
