"""`twin architectures [--json]`: the built-in architectures, their cost and their size.

Any scenario, in any folder, can name one (`architecture: phase3-global`) unless a file of that
name sits beside it (`architectures/NAME.yaml`); the built-in scenarios run by name too
(`twin run new-year-surge`).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import typer

__all__ = ["register"]

# (figure, key, format): one row per figure an architect compares designs by.
_ROWS: tuple[tuple[str, str, str], ...] = (
    ("riders (its own scale)", "riders", "{:,}"),
    ("cost per month", "monthly_usd", "${:,.0f}"),
    ("cost per hour", "hourly_usd", "${:,.2f}"),
    ("cost per rider-month", "per_user_month_usd", "${:.4g}"),
    ("components", "components", "{}"),
    ("services (queues)", "services", "{}"),
    ("instances", "instances", "{:,}"),
    ("instances, autoscaled max", "instances_max", "{:,}"),
    ("CDN egress", "cdn_egress_gbps", "{:,.0f} Gb/s"),
    ("stream shards", "stream_shards", "{:,}"),
    ("database writes", "db_writes_per_s", "{:,.0f}/s"),
    ("best video", "max_rendition", "{}"),
)


def listing() -> list[dict[str, Any]]:
    """Each built-in architecture's sizing and file, by name."""
    # Deferred: pydantic and NumPy load only when the command runs.
    from twin.config.architecture import load_architecture
    from twin.config.builtin import builtin_architectures
    from twin.platform.sizing import sizing

    return [
        {**asdict(sizing(load_architecture(path))), "file": str(path)}
        for path in builtin_architectures().values()
    ]


def _table(rows: list[dict[str, Any]]) -> Any:
    """Figures down, architectures across: a sheet to compare them side by side."""
    from rich.table import Table

    table = Table(title="Built-in architectures (at their own riders)", title_justify="left")
    table.add_column("figure")
    for row in rows:
        table.add_column(row["name"], justify="right")
    for figure, key, fmt in _ROWS:
        cells = ["-" if row[key] is None else fmt.format(row[key]) for row in rows]
        table.add_row(figure, *cells)
    return table


def _print(rows: list[dict[str, Any]]) -> None:
    from twin.cli.tables import wide_console
    from twin.config.builtin import builtin_scenarios

    console = wide_console()
    console.print(_table(rows))
    for row in rows:
        console.print(f"[bold]{row['name']}[/bold]: {row['description']}", highlight=False)
    console.print(
        "Built-in scenarios (twin run NAME): " + ", ".join(builtin_scenarios()), highlight=False
    )


def register(app: typer.Typer) -> None:
    @app.command("architectures")
    def architectures(
        as_json: bool = typer.Option(False, "--json", help="Print them as JSON."),
    ) -> None:
        """List the built-in architectures with their cost and size."""
        rows = listing()
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
        else:
            _print(rows)
