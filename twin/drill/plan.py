"""The drill's workload: the scenario's riders and requests, scaled down and time-compressed.

Drill second `k` stands for scenario seconds `[k X, (k + 1) X)` at speedup `X`. Over it:

- users = scale x the mean active riders (dithered to whole users so that their running
  mean follows the fractional target: a 7.4-rider plan alternates 7 and 8, not always 7);
- requests a rider makes *while riding* keep their real-time pace (the player reloads every
  target duration), so their rates are scale x the scenario's rates;
- session starts and ends (`recommend`, `join`, `workout`, `feedback`) come `X` times as often,
  since every session lasts `1/X` as long with the same riders in session (Little's law).

Pure calculation: `compress` and `drill_workload` return arrays; `twin.drill.run` writes files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from twin.errors import InputError

__all__ = [
    "EVENT_TYPES",
    "DrillWorkload",
    "compress",
    "dither",
    "drill_duration",
    "drill_workload",
]

# Request types counted once per session start or end: they speed up with the clock.
EVENT_TYPES = frozenset({"recommend", "join", "workout", "feedback"})


@dataclass(frozen=True)
class DrillWorkload:
    """Per drill second: planned users, requested riders and request rates, live shares."""

    duration_s: int
    speedup: float
    scale: float
    users: np.ndarray  # whole users per second (what Locust is told)
    riders: np.ndarray  # the fractional target the users follow
    rates: dict[str, np.ndarray]  # requested requests/s per type
    live_start_share: np.ndarray
    active_live_share: np.ndarray
    device_share: float  # share of active riders on a bike or tread (telemetry senders)

    @property
    def total_rate(self) -> np.ndarray:
        return np.sum(list(self.rates.values()), axis=0)


def drill_duration(scenario_s: float, speedup: float, duration: float | None) -> int:
    """Whole drill seconds: `--duration`, else the scenario's length over the speedup."""
    if not speedup > 0:
        raise InputError("--speedup", None, f"must be > 0, got {speedup:g}")
    longest = math.floor(scenario_s / speedup + 1e-9)
    if duration is None:
        if longest < 1:
            raise InputError("--speedup", None, "compresses the scenario to under one second")
        return longest
    if not duration >= 1:
        raise InputError("--duration", None, f"must be >= 1 second, got {duration:g}")
    if duration > longest:
        raise InputError(
            "--duration",
            None,
            f"{duration:g} s at {speedup:g}x would run past the scenario's {scenario_s:g} s "
            f"(at most {longest} s)",
        )
    return int(duration)


def compress(series: np.ndarray, tick_s: float, speedup: float, seconds: int) -> np.ndarray:
    """Mean of a per-tick series over each drill second's scenario window."""
    values = np.asarray(series, dtype=float)
    out = np.empty(seconds)
    for k in range(seconds):
        lo = math.floor(k * speedup / tick_s + 1e-9)
        hi = max(lo + 1, math.ceil((k + 1) * speedup / tick_s - 1e-9))
        out[k] = values[min(lo, values.size - 1) : min(hi, values.size)].mean()
    return out


def dither(target: np.ndarray) -> np.ndarray:
    """Whole numbers whose running sum stays within 1/2 of the target's (error diffusion)."""
    out = np.empty(target.size, dtype=np.int64)
    carried = 0.0
    for i, want in enumerate(np.asarray(target, dtype=float)):
        level = max(0, math.floor(want + carried + 0.5))
        carried += want - level
        out[i] = level
    return out


def _share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    return np.clip(np.divide(part, whole, out=np.zeros_like(part), where=whole > 0), 0.0, 1.0)


def drill_workload(
    compiled: object, *, scale: float, speedup: float, seconds: int, rider_factor: float = 1.0
) -> DrillWorkload:
    """The scaled, compressed workload of a `CompiledPlatform` for `seconds` drill seconds.

    `rider_factor` multiplies on top of `scale` when the platform was compiled for fewer riders
    than the scenario names (demand is proportional to riders).
    """
    if not scale > 0:
        raise InputError("--scale", None, f"must be > 0, got {scale:g}")
    cp = compiled
    factor = scale * rider_factor
    tick = float(cp.tick_s)  # type: ignore[attr-defined]

    def squeeze(series: np.ndarray) -> np.ndarray:
        return compress(series, tick, speedup, seconds)

    active = squeeze(cp.active_riders)  # type: ignore[attr-defined]
    sessions = cp.sessions  # type: ignore[attr-defined]
    rates = {
        name: squeeze(rate) * factor * (speedup if name in EVENT_TYPES else 1.0)
        for name, rate in cp.demand.items()  # type: ignore[attr-defined]
    }
    live_starts = squeeze(sessions.starts_live.sum(axis=0))
    all_starts = live_starts + squeeze(sessions.starts_od.sum(axis=0))
    live_active = squeeze(sessions.active_live.sum(axis=0))
    device_riders = squeeze(cp.telemetry_samples_per_s)  # type: ignore[attr-defined]
    riders = active * factor
    return DrillWorkload(
        duration_s=seconds,
        speedup=speedup,
        scale=scale,
        users=dither(riders),
        riders=riders,
        rates=rates,
        live_start_share=_share(live_starts, all_starts),
        active_live_share=_share(live_active, active),
        device_share=float(device_riders.sum() / max(active.sum(), 1e-12)),
    )
