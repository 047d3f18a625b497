"""A run's folder as `twin run` leaves it: timeseries.csv, the report, summary.json last.

summary.json is written last so that a folder holding it is a finished run; every file is
written atomically (`twin.results.files`), so nothing is left half-written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from twin.report.drawing import Drawing
from twin.report.html import render_report
from twin.results.files import prepare_out_dir, write_summary, write_timeseries

__all__ = ["write_run"]


def write_run(
    out_dir: Path,
    summary: dict[str, Any],
    timeseries: pd.DataFrame,
    drawing: Drawing | None = None,
) -> Path:
    """Write a run's files into `out_dir` (created if need be) and return it; `drawing`:
    processes already started to draw the report's figures (`twin.report.drawing`)."""
    prepare_out_dir(out_dir)
    write_timeseries(out_dir / "timeseries.csv", timeseries)
    incidents = summary.get("incidents", [])
    render_report(out_dir, summary, timeseries, incidents=incidents, drawing=drawing)
    write_summary(out_dir / "summary.json", summary)
    return out_dir
