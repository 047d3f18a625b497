"""`twin analyze`: what queueing theory predicts for a network scenario, without simulating.

Prints one table of stations (arrival rate, servers, utilization, mean wait and sojourn,
the formula used) and one of sources (mean end-to-end latency), or the same as JSON. A
station at utilization >= 1 is an `UnstableError`: one line naming it, exit code 2.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from twin.errors import InputError

if TYPE_CHECKING:
    from twin.analytic.jackson import NetworkResult

__all__ = ["register"]

_APPROX_MARK = "~"


def register(app: typer.Typer) -> None:
    """Add `twin analyze` to the app."""
    app.command("analyze")(analyze)


def analyze(
    scenario: str = typer.Argument(..., help="A scenario file of kind: network."),
    overrides: list[str] = typer.Option(
        [],
        "--set",
        metavar="PATH=VALUE",
        help="Override a key by dotted path, e.g. network.stations.api.servers=5.",
    ),
    at_peak: bool = typer.Option(
        False, "--at-peak", help="Analyse every source at its peak rate, not its mean."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (times in ms) on stdout."),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="Print nothing unless --json; the exit code says stable."
    ),
) -> None:
    """Predict per-station utilization, waits and end-to-end latency by queueing theory."""
    # Deferred: heavy libraries (pandas, pydantic, SimPy...) load only when the command runs.
    from twin.analytic.jackson import analyze_network
    from twin.config.loader import load_scenario
    from twin.config.network import NetworkScenario

    model = load_scenario(scenario, overrides)
    if not isinstance(model, NetworkScenario):
        raise InputError(scenario, "kind", "twin analyze works on kind: network scenarios")
    result = analyze_network(model, at_peak=at_peak)
    if as_json:
        sys.stdout.write(json.dumps(result.as_dict(), indent=2) + "\n")
    elif not quiet:
        _print_tables(result)


def _print_tables(result: NetworkResult) -> None:

    console = Console()
    basis = "each source at its peak rate" if result.at_peak else "mean rates over duration_s"
    lossy = any(st.blocking is not None for st in result.stations.values())
    console.print(_station_table(result, f"{result.scenario}: stations (means), {basis}", lossy))
    console.print(_source_table(result, lossy))
    if any(st.approximate for st in result.stations.values()):
        note = "approximate: arrivals not Poisson or service not exponential here"
        console.print(f"{_APPROX_MARK} {note}")


def _short_methods() -> dict[str, str]:
    """Brief model names for the table, whose "~" already says approximate; JSON keeps the full."""
    # Deferred: heavy libraries (pandas, pydantic, SimPy...) load only when the command runs.
    from twin.analytic.jackson import MMC, MMCK_APPROX
    from twin.analytic.pk import ALLEN_CUNNEEN, PK

    return {MMC: "Erlang C", PK: "P-K", ALLEN_CUNNEEN: "Allen-Cunneen", MMCK_APPROX: "M/M/c/K"}


def _station_table(result: NetworkResult, title: str, lossy: bool) -> Any:
    short = _short_methods()
    table = _table(title, "station", "rate/s", "servers", "util.", "wait ms", "sojourn ms")
    table.add_column("method", no_wrap=True)
    if lossy:
        table.add_column("dropped", justify="right")
    for st in result.stations.values():
        label = short.get(st.method, st.method)
        row = [
            st.name,
            f"{st.arrival_rate:,.4g}",
            str(st.servers),
            f"{st.utilization:.1%}",
            _ms(st.wait_mean),
            _ms(st.sojourn_mean),
            f"{_APPROX_MARK} {label}" if st.approximate else label,
        ]
        if lossy:
            row.append("" if st.blocking is None else _percent(st.blocking))
        table.add_row(*row)
    return table


def _source_table(result: NetworkResult, lossy: bool) -> Any:
    table = _table("sources, end to end (means)", "source", "rate/s", "enters at", "latency ms")
    if lossy:
        table.add_column("completed", justify="right")
    for src in result.sources.values():
        row = [src.name, f"{src.rate:,.4g}", src.entry, _ms(src.latency_mean)]
        table.add_row(*row, *([_percent(src.completed_fraction)] if lossy else []))
    return table


def _table(title: str, first: str, *numeric: str) -> Any:

    table = Table(
        title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0)
    )
    table.add_column(first, no_wrap=True)
    for header in numeric:
        table.add_column(header, justify="left" if header == "enters at" else "right")
    return table


def _ms(seconds: float) -> str:
    ms = seconds * 1000.0
    return f"{ms:,.1f}" if ms >= 1 else f"{ms:.3g}"


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.4g}%"
