"""What twin writes for people to read: the run, compare, capacity and drill reports.

Pages come from Jinja templates (`templates/`); every file is written atomically.

The run report: `report.html` with its PNGs, from `summary.json` and the time series.

    units     numbers as people read them (12.4 s, 89.7%, $38,550)
    series    the long time series made wide, incident windows, saturation spans
    tables    table rows for the page, from the summary
    findings  plain-language findings per service and for the whole run
    figures   size, style and colours every figure shares; PNG encoding
    plots     time plots (latency, utilization, queue, throughput, extra columns)
    charts    summary charts (latency percentiles with theory, cost by component)
    html      `render_report`: writes the PNGs and the self-contained page, atomically
    run_folder  a run's whole folder: timeseries.csv, the report, summary.json last

The other reports:

    compare_page     `render_compare`: `twin compare`'s compare.html, designs side by side
    compare_plots    its figures, one colour per design
    capacity_plot    `write_capacity`: capacity.png (each SLO metric against load, the knee
                     marked) and capacity.json
    drill_page       `render_drill_report`: a drill's report.html, the run report extended
                     (drill.html.j2) with the two sections below, above the findings
    drill_predicted  measured against predicted, per request type, and its figure
    drill_tracking   the load shape: requested against achieved riders and request rate

`render_report` is imported lazily so that `import twin.report` stays cheap: matplotlib
loads only when a report is drawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from twin.report.html import render_report

__all__ = ["render_report"]


def __getattr__(name: str) -> Any:
    if name == "render_report":
        from twin.report.html import render_report  # deferred: matplotlib, when drawn

        return render_report
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
