"""A run's folder as `twin run` leaves it: timeseries.csv, the report, summary.json last.

summary.json is written last so that a folder holding it is a finished run; every file is
written atomically (`twin.results.files`), so nothing is left half-written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from twin.report.html import render_report
from twin.results.files import prepare_out_dir, write_summary, write_timeseries

__all__ = ["write_run"]


def write_run(out_dir: Path, summary: dict[str, Any], timeseries: pd.DataFrame) -> Path:
    """Write a run's files into `out_dir` (created if need be) and return it."""
    prepare_out_dir(out_dir)
    write_timeseries(out_dir / "timeseries.csv", timeseries)
    render_report(out_dir, summary, timeseries, incidents=summary.get("incidents", []))
    write_summary(out_dir / "summary.json", summary)
    return out_dir
