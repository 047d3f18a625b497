"""One-screen Rich summaries of a run, for people at a terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["fmt_ms", "print_run"]


def fmt_ms(value: float | None) -> str:
    """Milliseconds as a person reads them: 0.84 ms, 312 ms, 4.21 s."""
    if value is None:
        return "-"
    if value >= 10_000:
        return f"{value / 1000:.1f} s"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    if value >= 10:
        return f"{value:.0f} ms"
    return f"{value:.2f} ms"


def _services_table(summary: dict[str, Any], limit: int = 12) -> Table:
    analytic = summary.get("analytic", {}).get("stations", {})
    table = Table(title="Services (most saturated first)", title_justify="left")
    for column in ("service", "util", "peak", "wait", "latency ±95% CI", "p95", "p99", "drops"):
        table.add_column(column, justify="left" if column == "service" else "right")
    if analytic:
        table.add_column("theory", justify="right")
    for name in summary.get("bottlenecks", list(summary["services"]))[:limit]:
        s = summary["services"][name]
        lat = s["latency_ms"]
        low, high = lat.get("ci95", [None, None])
        half = (high - low) / 2 if low is not None and high is not None else None
        ci = f"{fmt_ms(lat['mean'])} ±{fmt_ms(half)}"
        row = [
            name,
            f"{s['utilization_mean']:.1%}",
            f"{s['utilization_peak']:.1%}",
            fmt_ms(s["wait_ms"]["mean"]),
            ci,
            fmt_ms(lat["p95"]),
            fmt_ms(lat["p99"]),
            f"{s['dropped']:,}",
        ]
        if analytic:
            row.append(fmt_ms(analytic.get(name, {}).get("latency_ms_mean")))
        table.add_row(*row)
    return table


def _requests_table(summary: dict[str, Any]) -> Table:
    table = Table(title="Requests end to end", title_justify="left")
    for column in ("request", "count", "errors", "mean", "p50", "p95", "p99", "p99.9"):
        table.add_column(column, justify="left" if column == "request" else "right")
    for name, r in summary.get("requests", {}).items():
        lat = r["latency_ms"]
        table.add_row(
            name,
            f"{r['count']:,}",
            f"{r['errors']:,}",
            fmt_ms(lat["mean"]),
            fmt_ms(lat["p50"]),
            fmt_ms(lat["p95"]),
            fmt_ms(lat["p99"]),
            fmt_ms(lat["p999"]),
        )
    return table


def print_run(summary: dict[str, Any], out_dir: Path, console: Console | None = None) -> None:
    """Print the run's header, its services and requests, and where the files are."""
    console = console or Console()
    console.print(
        f"[bold]{summary['scenario']}[/bold]  engine={summary['engine']}  seed={summary['seed']}  "
        f"replications={summary['replications']}  simulated={summary['simulated_seconds']:,.0f} s  "
        f"warm-up={summary.get('warmup_s', 0):,.0f} s  wall={summary['wall_seconds']:.1f} s"
    )
    console.print(_services_table(summary))
    if summary.get("requests"):
        console.print(_requests_table(summary))
    console.print(f"Report: {out_dir / 'report.html'}  (summary.json, timeseries.csv beside it)")
