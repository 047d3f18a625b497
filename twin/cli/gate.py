"""`twin gate RUN_DIR|SUMMARY`: exit 0 when every SLO holds and nothing regressed, 1 otherwise."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from twin.errors import InputError
from twin.results.gate import junit_xml, regression_checks, slo_checks
from twin.results.slo import from_mapping, parse_expression

__all__ = ["load_summary", "parse_tolerance", "register"]


def load_summary(path: Path) -> tuple[dict[str, Any], Path]:
    """A summary.json, given itself or the run folder holding it."""

    file = path / "summary.json" if path.is_dir() else path
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            str(file), None, "no such file (give a run folder or its summary.json)"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(
            str(file), None, f"not a readable summary.json ({exc.__class__.__name__})"
        ) from None
    if not isinstance(data, dict) or "services" not in data:
        raise InputError(str(file), "services", "missing: this is not a twin summary.json")
    return data, file


def parse_tolerance(text: str) -> float:
    """`10%`, `10` or `0.1`... read as a percentage when it has % or is above 1."""

    raw = text.strip()
    try:
        value = float(raw.rstrip("%"))
    except ValueError:
        raise InputError("--tolerance", None, f"{text!r} is not a percentage like 10%") from None
    fraction = value / 100.0 if raw.endswith("%") or value > 1 else value
    if fraction < 0:
        raise InputError("--tolerance", None, "must be >= 0")
    return fraction


def _scenario_slos(summary: dict[str, Any], source: str) -> list[Any]:

    entries = [e for e in summary.get("slo", []) if isinstance(e, dict) and "metric" in e]
    return [from_mapping(e, source=source, index=i) for i, e in enumerate(entries)]


def register(app: typer.Typer) -> None:
    @app.command("gate")
    def gate(
        run: Path = typer.Argument(..., help="A run folder or its summary.json."),
        slo: list[str] = typer.Option([], "--slo", help="dotted.key<=number; repeatable."),
        baseline: Path | None = typer.Option(None, help="Baseline summary.json (or run folder)."),
        tolerance: str = typer.Option("10%", help="Allowed worsening against the baseline."),
        junit: Path | None = typer.Option(None, help="Write JUnit XML here."),
        quiet: bool = typer.Option(
            False, "--quiet", "-q", help="Print nothing; use the exit code."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the checks as JSON."),
    ) -> None:
        """Check SLOs (and regressions against a baseline); exit 1 if any fails."""
        # Deferred: heavy libraries (pandas, pydantic, SimPy...) load only when the command runs.
        from twin.results.files import write_text

        summary, file = load_summary(run)
        slos = [*_scenario_slos(summary, str(file)), *(parse_expression(s) for s in slo)]
        tol = parse_tolerance(tolerance)
        if not slos and baseline is None:
            raise InputError(str(file), "slo", "nothing to check: give --slo or --baseline")
        checks = slo_checks(summary, slos)
        if baseline is not None:
            checks += regression_checks(summary, load_summary(baseline)[0], tol)
        if junit is not None:
            write_text(junit, junit_xml(checks))
        failed = [c for c in checks if not c.passed]
        if as_json:
            typer.echo(
                json.dumps({"passed": not failed, "checks": [asdict(c) for c in checks]}, indent=2)
            )
        elif not quiet:
            _print_checks(checks, file)
        if failed:
            raise typer.Exit(1)


def _print_checks(checks: list[Any], file: Path) -> None:

    console = Console()
    table = Table(title=f"twin gate: {file}", title_justify="left")
    for col in ("", "check", "detail"):
        table.add_column(col)
    for c in checks:
        table.add_row("[green]PASS[/]" if c.passed else "[red]FAIL[/]", c.name, c.message)
    console.print(table)
    failed = sum(not c.passed for c in checks)
    verdict = "[red]FAILED[/]" if failed else "[green]PASSED[/]"
    console.print(f"{verdict}: {len(checks) - failed} of {len(checks)} checks passed")
