"""How closely the drill followed its plan: achieved against requested riders and request rate.

The drill is cut into windows (a compressed minute, i.e. 60 drill seconds, or shorter for a
short drill); in each, the tracking error is |achieved - requested| / requested for the mean
active riders and for the request rate. The target is 5 % or better in every window.

The requested rate is what the twin expects; the riders draw their sessions at random, so a
window's request count has counting noise of its own: with n requests expected, about
1/sqrt(n) (Poisson; the periodic requests are steadier than that). `rate_noise` gives it per
window, so a reader can tell a shape that does not follow (an error many times its noise)
from a small drill (75 requests a window: 12 %) that cannot show 5 %. Pure calculation.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["SERIES_COLUMNS", "SERIES_FILE", "TARGET", "read_series", "tracking", "window_s",
           "write_series"]  # fmt: skip

TARGET = 0.05
SERIES_FILE = "tracking.csv"  # per drill second: what was requested and what was achieved
SERIES_COLUMNS = ("t_s", "riders_requested", "riders_achieved", "rate_requested",
                  "rate_achieved")  # fmt: skip


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
        expected = float(requested_rate[part].sum())  # requests the window should hold
        row["rate_noise"] = round(1.0 / math.sqrt(expected), 6) if expected > 0 else None
        rows.append(row)
    out: dict[str, Any] = {"window_s": window, "target": TARGET, "windows": rows}
    for key in ("riders_error", "rate_error"):
        values = [v for r in rows if (v := r[key]) is not None]
        out[f"{key}_max"] = max(values) if values else None
        out[f"{key}_mean"] = round(float(np.mean(values)), 6) if values else None
    worst = [out["riders_error_max"], out["rate_error_max"]]
    out["met"] = all(v is not None and v <= TARGET for v in worst)
    return out


def write_series(path: Path, series: Mapping[str, np.ndarray]) -> None:
    """The per-second series behind `tracking` (`SERIES_COLUMNS`), as CSV (an unseen second's
    riders empty)."""
    lines = [",".join(SERIES_COLUMNS)]
    wanted, seen = series["riders_requested"], series["riders_achieved"]
    rate, got = series["rate_requested"], series["rate_achieved"]
    for k in range(series["t_s"].size):
        riders = "" if math.isnan(seen[k]) else f"{seen[k]:g}"
        lines.append(f"{k},{wanted[k]:.4f},{riders},{rate[k]:.4f},{got[k]:g}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_series(path: Path) -> dict[str, np.ndarray] | None:
    """`write_series`'s columns as arrays (NaN where empty), or None without a readable file."""
    try:
        with Path(path).open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        return {c: np.array([float(r[c]) if r[c] else math.nan for r in rows])
                for c in SERIES_COLUMNS}  # fmt: skip
    except (OSError, KeyError, ValueError):
        return None
