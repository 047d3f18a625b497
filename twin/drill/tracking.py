"""How closely the drill followed its plan: achieved against requested riders and request rate.

The drill is cut into windows (a compressed minute, i.e. 60 drill seconds, or shorter for a
short drill); in each, the tracking error is |achieved - requested| / requested for the mean
active riders and for the request rate. The target is 5 % or better in every window.
Pure calculation.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["TARGET", "tracking", "window_s"]

TARGET = 0.05


def window_s(seconds: int) -> int:
    """A compressed minute (60 drill seconds), or a quarter of a shorter drill (at least 5 s)."""
    return 60 if seconds >= 120 else max(5, seconds // 4)


def _error(achieved: float, requested: float) -> float | None:
    if not requested > 0 or math.isnan(achieved):
        return None
    return round(abs(achieved - requested) / requested, 6)


def tracking(
    requested_riders: np.ndarray,
    achieved_riders: np.ndarray,
    requested_rate: np.ndarray,
    achieved_rate: np.ndarray,
    *,
    window: int,
) -> dict[str, Any]:
    """Per-window errors and their worst and mean, for riders and for the request rate."""
    rows = []
    for lo in range(0, requested_riders.size - window + 1, window):
        part = slice(lo, lo + window)
        seen = achieved_riders[part]
        users = float(np.nanmean(seen)) if np.isfinite(seen).any() else math.nan
        row = {
            "t_s": lo,
            "riders_requested": round(float(requested_riders[part].mean()), 4),
            "riders_achieved": None if math.isnan(users) else round(users, 4),
            "rate_requested": round(float(requested_rate[part].mean()), 4),
            "rate_achieved": round(float(achieved_rate[part].mean()), 4),
        }
        row["riders_error"] = _error(users, float(requested_riders[part].mean()))
        row["rate_error"] = _error(
            float(achieved_rate[part].mean()), float(requested_rate[part].mean())
        )
        rows.append(row)
    out: dict[str, Any] = {"window_s": window, "target": TARGET, "windows": rows}
    for key in ("riders_error", "rate_error"):
        values = [v for r in rows if (v := r[key]) is not None]
        out[f"{key}_max"] = max(values) if values else None
        out[f"{key}_mean"] = round(float(np.mean(values)), 6) if values else None
    worst = [out["riders_error_max"], out["rate_error_max"]]
    out["met"] = all(v is not None and v <= TARGET for v in worst)
    return out
