"""Out-of-sample accuracy for `twin calibrate --validate`: drills the fit never saw.

A calibration's error on the drills it was fitted to says how well it fits, not how well it
predicts. `twin calibrate FIT... --validate CHECK...` fits on one set and predicts the other
with the fitted file: `check_disjoint` refuses a drill in both sets (one line, exit 2), and
`error_rows` gives, per drill, request type and percentile (p50, p95), the measured and
predicted figure, their relative error and whether the figure *counts*: the type had enough
requests (`MIN_COUNT`) and the drill pinned the percentile down (its 95 % interval within
25 % of it, `twin.drill.measure.pinned`). A figure that does not count is printed but left
out of the mean and of the share within the target (`TARGET`). Pure calculation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from twin.drill.measure import pinned
from twin.errors import InputError

__all__ = [
    "MIN_COUNT", "QUANTILES", "TARGET", "check_disjoint", "error_rows", "error_table", "totals",
]

MIN_COUNT = 20  # a type with fewer requests in a drill: its percentiles are noise
QUANTILES = ("p50", "p95")
TARGET = 0.25  # the target for an out-of-sample p50 and p95


def _same(folder: Path) -> Path:
    return Path(folder).resolve()


def check_disjoint(fit: Sequence[Path], check: Sequence[Path]) -> None:
    """Raise an InputError naming `--validate` and the folder when a drill is in both sets."""
    fitted = {_same(f): f for f in fit}
    for folder in check:
        if _same(folder) in fitted:
            raise InputError(
                "--validate", None,
                f"{folder} is also a drill to fit: the validation drills must be others",
            )  # fmt: skip
    seen: set[Path] = set()
    for folder in check:
        if _same(folder) in seen:
            raise InputError("--validate", None, f"{folder} is named twice")
        seen.add(_same(folder))


def _latency(block: Mapping[str, Any] | None, q: str) -> float | None:
    value = ((block or {}).get("latency_ms") or {}).get(q)
    return float(value) if isinstance(value, int | float) and value > 0 else None


def error_rows(
    folder: str, measured: Mapping[str, Any], predicted: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """One row per (request type, percentile) that both summaries have: measured and
    predicted milliseconds, the relative error (predicted - measured) / measured, and whether
    it counts (enough requests, percentile pinned down)."""
    rows = []
    for rtype, p in (predicted.get("requests") or {}).items():
        m = (measured.get("requests") or {}).get(rtype)
        if not m:
            continue
        for q in QUANTILES:
            a, b = _latency(m, q), _latency(p, q)
            if a is None or b is None:
                continue
            count = int(m.get("count") or 0)
            rows.append({
                "drill": folder, "request": rtype, "q": q, "count": count,
                "measured_ms": round(a, 3), "predicted_ms": round(b, 3),
                "error": round((b - a) / a, 4),
                "counts": count >= MIN_COUNT and pinned(m, q),
            })  # fmt: skip
    return rows


def totals(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Over the rows that count: how many, their mean |error|, how many within `TARGET`."""
    kept = [abs(float(r["error"])) for r in rows if r["counts"]]
    return {
        "counted": len(kept),
        "mean_abs_error": round(sum(kept) / len(kept), 4) if kept else None,
        "within_target": sum(1 for e in kept if e <= TARGET),
        "target": TARGET,
    }


def error_table(
    drills: Sequence[tuple[str, Mapping[str, Any]]], predicted: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Every drill's (folder, measured summary) error rows against its prediction, and their
    totals."""
    rows = [r for (folder, measured), p in zip(drills, predicted, strict=True)
            for r in error_rows(folder, measured, p)]  # fmt: skip
    return {"rows": rows, **totals(rows)}
