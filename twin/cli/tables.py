"""One-screen Rich summaries of a run, for people at a terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["print_run", "terse_count", "terse_ms", "wide_console"]


def terse_ms(value: float | None) -> str:
    """Milliseconds in a narrow terminal column: 0.84 ms, 312 ms, 4.21 s ("-" when absent).

    Terser than the report's `twin.report.units.fmt_ms` (three significant figures)."""
    if value is None:
        return "-"
    if value >= 10_000:
        return f"{value / 1000:.1f} s"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    if value >= 10:
        return f"{value:.0f} ms"
    return f"{value:.2f} ms"


def wide_console() -> Console:
    """A console for tables: the terminal's width, or 120 columns in logs and pipes."""
    console = Console()
    return console if console.is_terminal else Console(width=120)


def terse_count(value: float) -> str:
    """Counts as a person reads them in a narrow column: 912, 57,301, 3.36M."""
    if value >= 10_000_000:
        return f"{value / 1e6:.1f}M"
    if value >= 1_000_000:
        return f"{value / 1e6:.2f}M"
    return f"{value:,.0f}"


def _services_table(summary: dict[str, Any], limit: int = 12) -> Table:
    analytic = summary.get("analytic", {}).get("stations", {})
    shown = min(limit, len(summary["services"]))
    title = "Services (most saturated first)"
    if shown < len(summary["services"]):
        title = f"The {shown} most saturated of {len(summary['services'])} services"
    table = Table(title=title, title_justify="left")
    for column in ("service", "util", "peak", "wait", "latency (±95% CI)", "p95", "p99", "drops"):
        table.add_column(column, justify="left" if column == "service" else "right")
    if analytic:
        table.add_column("theory", justify="right")
    for name in summary.get("bottlenecks", list(summary["services"]))[:limit]:
        s = summary["services"][name]
        lat = s["latency_ms"]
        low, high = lat.get("ci95", [None, None])
        half = (high - low) / 2 if low is not None and high is not None else None
        ci = terse_ms(lat["mean"]) + (f" ±{terse_ms(half)}" if half is not None else "")
        row = [
            name,
            f"{s['utilization_mean']:.1%}",
            f"{s['utilization_peak']:.1%}",
            terse_ms(s["wait_ms"]["mean"]),
            ci,
            terse_ms(lat["p95"]),
            terse_ms(lat["p99"]),
            terse_count(s["dropped"]),
        ]
        if analytic:
            row.append(terse_ms(analytic.get(name, {}).get("latency_ms_mean")))
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
            terse_count(r["count"]),
            terse_count(r["errors"]),
            terse_ms(lat["mean"]),
            terse_ms(lat["p50"]),
            terse_ms(lat["p95"]),
            terse_ms(lat["p99"]),
            terse_ms(lat["p999"]),
        )
    return table


def _retries(summary: dict[str, Any]) -> int:
    return sum(int(r.get("retries") or 0) for r in summary.get("requests", {}).values())


_CAUSES = (
    ("join", "gave up joining"),
    ("stream_lost", "lost the stream"),
    ("video", "10 %+ of segments stalled"),
    ("leaderboard", "leaderboard 30 s+ behind"),
)


def _spoiled_line(summary: dict[str, Any], exp: dict[str, Any], spoiled: dict[str, Any]) -> str:
    """Sessions spoiled by the causes the engine counted (the fluid engine counts two)."""
    causes = ", ".join(f"{words} {spoiled[k]:,}" for k, words in _CAUSES if k in spoiled)
    fraction = exp.get("sessions_spoiled_fraction")
    share = f"{fraction:.1%} spoiled" if fraction is not None else "spoiled"
    return (
        f"Sessions: {summary.get('sessions', 0):,}, {share} ({causes}); "
        f"{_retries(summary):,} retries"
    )


def _platform_lines(summary: dict[str, Any]) -> list[str]:
    """Riders, rider experience, money and SLOs, one line each (platform runs only)."""
    lines = []
    if "riders" in summary:
        lines.append(
            f"[bold]{summary.get('architecture', '')}[/bold]: {summary['riders']:,} riders, "
            f"{summary.get('peak_active_riders', 0):,} riding at the peak"
        )
    exp = summary.get("experience")
    if exp:
        lag = exp.get("leaderboard_lag_s", {})
        lines.append(
            f"Riders: leaderboard lag p50 {_secs(lag.get('p50'))}, p99 {_secs(lag.get('p99'))}, "
            f"max {_secs(lag.get('max'))}; join failures {exp.get('join_failures', 0):,}; "
            f"video degraded for {exp.get('video_degraded_fraction', 0):.1%} of viewing"
        )
    spoiled = exp.get("sessions_spoiled_by") if exp else None
    if exp and spoiled is not None:
        lines.append(_spoiled_line(summary, exp, spoiled))
    cost = summary.get("cost")
    if cost:
        listed = cost.get("listed_monthly_usd")
        extra = f" (listed ${listed:,.0f}, plus what this run used beyond it)" if listed else ""
        lines.append(
            f"Cost: ${cost['monthly_usd']:,.0f}/month{extra}, "
            f"${cost['per_user_month_usd']:,.4g} per user per month"
        )
    verdicts = summary.get("slo", [])
    if verdicts:
        failed = [v["name"] for v in verdicts if not v["passed"]]
        state = (
            f"[red]{len(failed)} failed[/red]: " + "; ".join(failed)
            if failed
            else "[green]all met[/green]"
        )
        lines.append(f"SLOs: {len(verdicts) - len(failed)} of {len(verdicts)} met; {state}")
    return lines


def _secs(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 3600:
        return f"{value / 3600:.1f} h"
    if value >= 60:
        return f"{value / 60:.1f} min"
    return f"{value:.1f} s"


def print_run(summary: dict[str, Any], out_dir: Path, console: Console | None = None) -> None:
    """Print the run's header, its services and requests, and where the files are."""
    console = console or wide_console()
    if summary.get("engine_choice"):
        console.print(f"[dim]{summary['engine_choice']}[/dim]")
    if summary.get("scale"):
        console.print(f"[dim]scaled: riders and capacities x {summary['scale']:g}[/dim]")
    console.print(
        f"[bold]{summary['scenario']}[/bold]  engine={summary['engine']}  seed={summary['seed']}  "
        f"replications={summary['replications']}  simulated={summary['simulated_seconds']:,.0f} s  "
        f"warm-up={summary.get('warmup_s', 0):,.0f} s  wall={summary['wall_seconds']:.1f} s"
    )
    platform = "riders" in summary
    console.print(_services_table(summary, limit=6 if platform else 12))
    if summary.get("requests"):
        console.print(_requests_table(summary))
    for line in _platform_lines(summary):
        console.print(line)
    console.print(
        f"Report: {out_dir / 'report.html'}  (summary.json, timeseries.csv beside it)",
        soft_wrap=True,
    )
