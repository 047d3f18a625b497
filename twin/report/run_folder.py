"""A run's folder as `twin run` leaves it: timeseries.csv, the report, summary.json last.

summary.json is written last so that a folder holding it is a finished run; every file is
written atomically (`twin.results.files`), so nothing is left half-written. The CSV is
written (and synced to disk) on a thread while the report's figures are drawn by other
processes.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pandas as pd

from twin.report.drawing import Drawing
from twin.report.html import render_report
from twin.results.files import prepare_out_dir, timeseries_csv, write_summary, write_text

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
    incidents = summary.get("incidents", [])
    with ExitStack() as stack:
        if drawing is None:  # started before the thread below: a fork copies no thread
            drawing = stack.enter_context(Drawing.start())
        # The CSV's write and fsync while the figures are drawn (formatted here: the frame is
        # read by this thread too, to be sent to the drawing processes).
        text = timeseries_csv(timeseries)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="twin-csv") as writer:
            csv = writer.submit(write_text, out_dir / "timeseries.csv", text)
            render_report(out_dir, summary, timeseries, incidents=incidents, drawing=drawing)
            csv.result()
    write_summary(out_dir / "summary.json", summary)
    return out_dir
