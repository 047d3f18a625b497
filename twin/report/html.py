"""Writes a run's report: its PNGs and one self-contained `report.html`.

This is the only module of `twin.report` that touches files. The HTML embeds every image
as a base64 data URI and its CSS inline, loads nothing from elsewhere and needs no
JavaScript, so it can be mailed or attached to a ticket as one file. Every file is written
to a temporary name in the same folder and renamed into place, so a reader never sees a
half-written report; the HTML is written last.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import pandas as pd

import twin
from twin.report.drawing import Drawing, Drawn
from twin.report.findings import headlines, service_findings
from twin.report.incidents import Shown, clip_windows, marked_windows
from twin.report.phone import by_group, stacked
from twin.report.riders import spoiled_table
from twin.report.series import check_columns, time_span
from twin.report.tables import (
    cost_table,
    experience_facts,
    header_facts,
    incident_table,
    latency_table,
    load_table,
    requests_table,
    slo_table,
)
from twin.results.files import write_bytes
from twin.results.reading import incident_windows, is_number

if TYPE_CHECKING:
    from twin.report.figures import Plot

__all__ = ["REPORT_NAME", "environment", "render_report", "report_context", "write_images"]

REPORT_NAME = "report.html"


@dataclass(frozen=True)
class Image:
    """A written PNG as the template embeds it."""

    name: str
    title: str
    caption: str
    data_uri: str
    width: int
    height: int


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def write_images(out_dir: Path, plots: Callable[[], Iterable[Plot]]) -> list[Image]:
    """Build the plots in the report's style, write each PNG, and return them for embedding."""
    from twin.report.figures import plot_style, png_bytes  # deferred: matplotlib

    with plot_style():
        drawn = [Drawn(p.name, p.title, p.caption, png_bytes(p.figure)) for p in plots()]
    return _write_drawn(out_dir, drawn)


def _write_drawn(out_dir: Path, drawn: Iterable[Drawn]) -> list[Image]:
    """Write each PNG as it comes (in any order) and return them in report order."""
    images = []
    for d in drawn:
        write_bytes(out_dir / f"{d.name}.png", d.png)
        uri = "data:image/png;base64," + base64.b64encode(d.png).decode("ascii")
        images.append((d.order, Image(d.name, d.title, d.caption, uri, *_png_size(d.png))))
    return [image for _, image in sorted(images, key=lambda pair: pair[0])]


def _run_span(summary: Mapping[str, Any], ts: pd.DataFrame) -> tuple[float, float]:
    """The simulated span: the time series', else from 0 to `simulated_seconds`."""
    if not ts.empty:
        return time_span(ts)
    simulated = summary.get("simulated_seconds")
    return 0.0, float(simulated) if is_number(simulated) else float("inf")


@cache
def environment() -> jinja2.Environment:
    """The Jinja2 environment of every page: package templates, autoescape, strict."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("twin.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals.update(stacked=stacked, by_group=by_group)  # how tables fit a phone
    return env


def _context(
    summary: Mapping[str, Any], ts: pd.DataFrame, shown: tuple[Shown, ...]
) -> dict[str, Any]:
    """What the page says besides its figures."""
    warmup = summary.get("warmup_s")
    return {
        "scenario": summary.get("scenario", "run"),
        "version": twin.__version__,
        # without a time series there is no timeseries.csv: name only the files that are there
        "sources": "summary.json" if ts.empty else "summary.json and timeseries.csv",
        "facts": header_facts(summary),
        "headlines": headlines(summary, tuple(s.window for s in shown)),
        "findings": service_findings(summary, ts, warmup_s=warmup if is_number(warmup) else 0.0),
        "slo": slo_table(summary),
        "incidents": incident_table(shown),
        "experience": experience_facts(summary),
        "spoiled": spoiled_table(summary),
        "load": load_table(summary),
        "latency": latency_table(summary),
        "requests": requests_table(summary),
        "cost": cost_table(summary),
    }


def _figures(images: list[Image]) -> dict[str, Any]:
    """Where the page shows its figures: the rider's view and the cost have places of their own."""
    return {
        "riders_image": next((i for i in images if i.name == "rider-view"), None),
        "cost_image": next((i for i in images if i.name == "cost"), None),
        "images": [i for i in images if i.name not in ("cost", "rider-view")],
    }


def report_context(
    out_dir: Path,
    summary: Mapping[str, Any],
    timeseries: pd.DataFrame,
    *,
    incidents: Iterable[Mapping[str, object]] = (),
    predicted_rates: Mapping[str, float] | None = None,
    drawing: Drawing | None = None,
) -> dict[str, Any]:
    """Write the run report's PNGs into `out_dir`; the context `report.html.j2` lays out.

    Pages that extend the run report (the drill's) start from this context; a drill gives
    its predicted mean rate per request type, drawn beside the measured throughput.
    `drawing`: processes already started to draw the figures (`twin.report.drawing`)."""
    out_dir = Path(out_dir)
    if timeseries.empty:  # a run with nothing measured still gets its tables
        timeseries = pd.DataFrame(columns=["t_s", "interval_s", "service"])
    check_columns(timeseries)
    shown = clip_windows(incident_windows(incidents), *_run_span(summary, timeseries))
    out_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        if drawing is None:  # drawing is most of a report's time, and other cores can share it
            drawing = stack.enter_context(Drawing.start())
        drawn = stack.enter_context(
            drawing.submit(summary, timeseries, marked_windows(shown), predicted_rates)
        )
        context = _context(summary, timeseries, shown)  # while the figures are drawn
        return {**context, **_figures(_write_drawn(out_dir, drawn))}


def render_report(
    out_dir: Path,
    summary: dict[str, Any],
    timeseries: pd.DataFrame,
    *,
    incidents: Iterable[Mapping[str, object]] = (),
    drawing: Drawing | None = None,
) -> Path:
    """Write the PNGs and `report.html` into `out_dir` and return the HTML's path.

    `incidents` are windows to mark on every time plot: mappings with `start_s` and `end_s`
    (or `duration_s`; neither means to the end of the run) and a `name` or `kind`, optionally
    the `service` it hit.
    """
    context = report_context(out_dir, summary, timeseries, incidents=incidents, drawing=drawing)
    page = environment().get_template("report.html.j2").render(context)
    path = Path(out_dir) / REPORT_NAME
    write_bytes(path, page.encode("utf-8"))
    return path
