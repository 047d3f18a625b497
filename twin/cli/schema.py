"""`twin schema NAME [--markdown]`: print the JSON Schema of a file twin writes.

`twin schema summary` is the contract of `summary.json` (a drill's `predicted.json` included),
for tools that read it; `--markdown` prints its keys as the README's table.
"""

from __future__ import annotations

import json
from typing import Any

import typer

from twin.errors import InputError
from twin.results.schema_doc import keys_table

__all__ = ["register", "schemas"]


def schemas() -> dict[str, Any]:
    """The models by schema name (imported when asked for: pydantic is slow to load)."""
    # Deferred: heavy libraries (pandas, pydantic, SimPy...) load only when the command runs.
    from twin.results.summary import Summary

    return {"summary": Summary}


def register(app: typer.Typer) -> None:
    @app.command("schema")
    def schema(
        name: str = typer.Argument(..., help="Which file: summary (summary.json)."),
        markdown: bool = typer.Option(
            False, "--markdown", help="Print its keys as a Markdown table (key, type, meaning)."
        ),
    ) -> None:
        """Print the JSON Schema of a file twin writes (summary: summary.json)."""

        known = schemas()
        if name not in known:
            names = ", ".join(sorted(known))
            raise InputError("twin schema", None, f"unknown schema {name!r} (known: {names})")
        document = known[name].json_schema()
        if markdown:
            typer.echo(keys_table(document), nl=False)
        else:
            typer.echo(json.dumps(document, indent=2))
