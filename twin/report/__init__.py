"""The run report: `report.html` with its PNGs, from `summary.json` and the time series.

    units     numbers as people read them (12.4 s, 89.7%, $38,550)
    series    the long time series made wide, incident windows, saturation spans
    tables    table rows for the page, from the summary
    findings  plain-language findings per service and for the whole run
    figures   size, style and colours every figure shares; PNG encoding
    plots     time plots (latency, utilization, queue, throughput, extra columns)
    charts    summary charts (latency percentiles with theory, cost by component)
    html      `render_report`: writes the PNGs and the self-contained page, atomically

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
        from twin.report.html import render_report

        return render_report
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
