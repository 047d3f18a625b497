"""Writes a drill's `report.html`: the run report of what it measured, the prediction beside it.

The page is `drill.html.j2`, which extends the run report's template (`report.html.j2`) and
fills its `lead` block, above the findings, with two sections: "Measured against predicted"
(`twin.report.drill_predicted`: per request type, the measured and predicted figures and a
link to `vs-predicted/compare.html`, the full comparison of the two summaries by
`twin.report.compare_page`), "Drift" (`twin.report.drill_drift`: each type's KS and KL
against the prediction) and "Load shape" (`twin.report.drill_tracking`: how closely the
drill followed its plan). It takes plain data (the measured and predicted summaries, the
tracking series, the timeline), so `twin.report` stays below `twin.drill`. Every file is
written atomically, the page last.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from twin.report.compare_page import render_compare
from twin.report.drill_drift import FIGURE as DRIFT_FIGURE
from twin.report.drill_drift import drift_figure, drift_table
from twin.report.drill_load import load_generation
from twin.report.drill_over_time import FIGURES as OVER_TIME_FIGURES
from twin.report.drill_over_time import over_time_figures
from twin.report.drill_predicted import FIGURE as PREDICTED_FIGURE
from twin.report.drill_predicted import predicted_figure, predicted_tables, side_by_side
from twin.report.drill_tracking import FIGURE as TRACKING_FIGURE
from twin.report.drill_tracking import NOISE_SD, tracking_figure, tracking_table
from twin.report.html import REPORT_NAME, environment, report_context
from twin.report.tables import Table
from twin.results.compare import RunInput, compare
from twin.results.files import write_bytes, write_text

__all__ = ["COMPARE_DIR", "LoadShape", "VsPredicted", "render_drill_report"]

COMPARE_DIR = "vs-predicted"


@dataclass(frozen=True)
class VsPredicted:
    """The "Measured against predicted" section: what was predicted, and the table."""

    engine: str
    architecture: str
    scale: object
    speedup: object
    duration_s: object
    runs: int  # drills pooled in the measured figures (`--repeat`)
    compare_href: str
    tables: tuple[Table, Table]  # counts and errors; latency
    image: str | None  # the figure's file, beside the page


@dataclass(frozen=True)
class LoadShape:
    """The "Load shape" section: the tracking windows and, with the series, their figure."""

    window_s: object
    target: str  # "5%"
    noise_sd: str  # "2"
    runs: int  # the run shown is the worst tracked of these
    table: Table
    image: str | None


def _write_png(out_dir: Path, name: str, figure: Figure | None) -> str | None:
    """Write the figure as `name` beside the page; the name, or None without a figure."""
    if figure is None:
        return None
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})  # same data, same bytes
    write_bytes(out_dir / name, buffer.getvalue())
    return name


def _vs_predicted(
    out_dir: Path, measured: Mapping[str, Any], predicted: Mapping[str, Any], runs: int
) -> VsPredicted:
    """Write `vs-predicted/compare.html` and the figure; the section."""
    comparison = compare([RunInput("predicted", predicted), RunInput("measured", measured)])
    render_compare(out_dir / COMPARE_DIR, comparison, {})
    rows = side_by_side(measured, predicted)
    pred = predicted.get("prediction", {})
    return VsPredicted(
        engine=str(pred.get("engine")),
        architecture=str(predicted.get("architecture")),
        scale=pred.get("scale"),
        speedup=pred.get("speedup"),
        duration_s=pred.get("duration_s"),
        runs=runs,
        compare_href=f"{COMPARE_DIR}/compare.html",
        tables=predicted_tables(rows),
        image=_write_png(out_dir, PREDICTED_FIGURE, predicted_figure(rows)),
    )


def _load_shape(
    out_dir: Path,
    tracked: Mapping[str, Any] | None,
    series: Mapping[str, np.ndarray] | None,
    runs: int,
) -> LoadShape | None:
    """Write the tracking figure (when the per-second series is there); the section, or None
    when the summary tracked no window."""
    if not tracked or not tracked.get("windows"):
        return None
    window = int(tracked.get("window_s") or 0)
    figure = tracking_figure(series, window) if series is not None and series["t_s"].size else None
    return LoadShape(
        window_s=tracked.get("window_s"),
        target=f"{float(tracked.get('target') or 0.05):.0%}",
        noise_sd=f"{NOISE_SD:g}",
        runs=runs,
        table=tracking_table(tracked),
        image=_write_png(out_dir, TRACKING_FIGURE, figure),
    )


def _over_time(
    out_dir: Path, measured: pd.DataFrame, predicted: pd.DataFrame | None,
    incidents: list[Mapping[str, object]],
) -> list[dict[str, str]]:  # fmt: skip
    """Write the "Over time" figures; (image, caption) per figure for the page."""
    if predicted is None:
        return []
    shown = []
    for fig in over_time_figures(measured, predicted, incidents):
        name = _write_png(out_dir, OVER_TIME_FIGURES[fig.key], fig.figure)
        shown.append({"image": str(name), "caption": fig.caption, "key": fig.key})
    return shown


def predicted_rates(predicted: Mapping[str, Any]) -> dict[str, float]:
    """Requests per drill second the prediction expects of each type, on average."""
    seconds = (predicted.get("prediction") or {}).get("duration_s")
    reps = predicted.get("replications") or 1
    if not isinstance(seconds, (int, float)) or seconds <= 0:
        return {}
    return {
        name: float(block["count"]) / reps / seconds
        for name, block in (predicted.get("requests") or {}).items()
        if isinstance(block, Mapping) and isinstance(block.get("count"), (int, float))
    }


def render_drill_report(
    out_dir: Path,
    measured: Mapping[str, Any],
    predicted: Mapping[str, Any] | None,
    *,
    incidents: Iterable[Mapping[str, object]] = (),
    series: Mapping[str, np.ndarray] | None = None,
    timeseries: pd.DataFrame | None = None,
    drift_curves: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None,
    predicted_timeseries: pd.DataFrame | None = None,
) -> Path:
    """Write `report.html` (and `vs-predicted/compare.html` with a prediction) into `out_dir`.

    `measured` is the drill's summary; `predicted` the twin's for the same workload, or None.
    `series` is the per-second tracking series (the columns of `tracking.csv`) of the run the
    summary's tracking speaks for; the "Load shape" section plots it. `timeseries` is the
    drill's timeline (`timeseries.csv`): the run report's time plots draw it; `incidents` are
    the windows they mark (as `twin.report.render_report` takes them). `drift_curves` are
    the latency distributions the drift checks compared (per type: bin values in ms, measured
    and reference counts): the "Drift" section draws their CDFs. `predicted_timeseries`
    is the prediction on the same intervals (`predicted-timeseries.csv`): the "Over time"
    section draws both (`twin.report.drill_over_time`).
    """
    out_dir = Path(out_dir)
    frame = pd.DataFrame() if timeseries is None else timeseries
    rates = None if predicted is None else predicted_rates(predicted)
    context = report_context(out_dir, measured, frame, incidents=incidents, predicted_rates=rates)
    runs = int(measured.get("replications") or 1)
    tracked = (measured.get("drill") or {}).get("tracking")
    context["load_shape"] = _load_shape(out_dir, tracked, series, runs)
    drill = measured.get("drill") or {}
    context["profile"] = {"name": drill.get("profile"), "not_driven": drill.get("not_driven") or []}
    context["drift"] = drift_table(measured)
    figure = drift_figure(drift_curves, measured.get("drift") or {}) if drift_curves else None
    context["drift_image"] = _write_png(out_dir, DRIFT_FIGURE, figure)
    context["vs_predicted"] = (
        None if predicted is None else _vs_predicted(out_dir, measured, predicted, runs)
    )
    context["over_time"] = _over_time(out_dir, frame, predicted_timeseries, list(incidents))
    context["load_generation"] = load_generation(measured, predicted)
    page = environment().get_template("drill.html.j2").render(context)
    return write_text(out_dir / REPORT_NAME, page)
