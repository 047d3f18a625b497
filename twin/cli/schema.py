"""`twin schema NAME [--markdown]`: print the JSON Schema of a file twin reads or writes.

`scenario`, `architecture` and `profile` (a drill's target, `twin drill --profile`) are the
files a user writes (either scenario kind, chosen by
`kind`), in draft 07 for editors; `summary` is the contract of `summary.json` (a drill's
`predicted.json` included), for tools that read it. `--markdown` prints their fields as
tables: the README's list of summary keys, and `docs/fields.md`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import typer

from twin.errors import InputError
from twin.results.schema_doc import fields_table, keys_table

__all__ = ["markdown", "register", "schemas"]


def schemas() -> dict[str, Callable[[], dict[str, Any]]]:
    """Each schema's maker by name (imported when asked for: pydantic is slow to load)."""
    # Deferred: heavy libraries (pandas, pydantic, SimPy...) load only when the command runs.
    from twin.config.schema import architecture_schema, scenario_schema
    from twin.drill.profile import profile_schema
    from twin.results.summary import Summary

    return {
        "scenario": scenario_schema,
        "architecture": architecture_schema,
        "summary": Summary.json_schema,
        "profile": profile_schema,
    }


def markdown(name: str, document: dict[str, Any]) -> str:
    """The schema's fields as Markdown: a scenario's per kind, an architecture's with their
    defaults and limits, a summary's keys."""
    if name == "summary":
        return keys_table(document)
    if name == "scenario":
        return "\n".join(
            f"### `kind: {kind}`\n\n{fields_table(document, document[branch])}"
            for kind, branch in (("platform", "then"), ("network", "else"))
        )
    return fields_table(document)


def register(app: typer.Typer) -> None:
    @app.command("schema")
    def schema(
        name: str = typer.Argument(
            ..., help="Which file: scenario, architecture, profile or summary (summary.json)."
        ),
        as_markdown: bool = typer.Option(
            False, "--markdown", help="Print its fields as Markdown tables instead."
        ),
    ) -> None:
        """Print the JSON Schema of a scenario, an architecture, a profile or summary.json."""

        known = schemas()
        if name not in known:
            names = ", ".join(known)
            raise InputError("twin schema", None, f"unknown schema {name!r} (known: {names})")
        document = known[name]()
        if as_markdown:
            typer.echo(markdown(name, document), nl=False)
        else:
            typer.echo(json.dumps(document, indent=2))
