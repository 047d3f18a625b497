"""`twin gate RUN_DIR|SUMMARY`: exit 0 when every SLO holds and nothing regressed, 1 when a
check fails (a value missing, null, NaN or not a number included), 2 on bad input."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from twin.errors import InputError
from twin.results.gate import (
    DEFAULT_FLOORS,
    Check,
    binding,
    binding_line,
    compared_metrics,
    junit_xml,
    regression_checks,
    slo_checks,
)
from twin.results.slo import Slo, from_mapping, parse_expression
from twin.results.summary_keys import check_key

__all__ = ["load_summary", "parse_floors", "parse_tolerance", "register"]


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


_FLOOR = re.compile(
    r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(ms|s|%|usd|\$|counts?)\s*$", re.I
)
_UNITS = {"ms": "ms", "s": "s", "%": "fraction", "usd": "USD", "$": "USD"}


def parse_floors(texts: list[str]) -> dict[str, float]:
    """`--floor 1ms --floor 0.5% --floor 0.01USD --floor 2count`: the default floors, with
    each unit given replaced (a percentage is of a fraction's points: 0.5% = 0.005)."""
    floors = dict(DEFAULT_FLOORS)
    for text in texts:
        match = _FLOOR.match(text)
        if match is None:
            raise InputError(
                "--floor", text, "expected a number and a unit: 1ms, 0.01s, 0.1%, 0.01USD, 1count"
            )
        value, unit = float(match.group(1)), match.group(2).lower()
        floors[_UNITS.get(unit, "count")] = value / 100.0 if unit == "%" else value
    return floors


def _scenario_slos(summary: dict[str, Any], source: str) -> list[Slo]:
    entries = [e for e in summary.get("slo", []) if isinstance(e, dict) and "metric" in e]
    return [from_mapping(e, source=source, index=i) for i, e in enumerate(entries)]


def _write_junit(path: Path, checks: list[Check]) -> None:
    """Write the JUnit file; any unwritable path is bad input (one line, exit 2)."""
    from twin.results.files import write_text  # deferred: pandas

    try:
        write_text(path, junit_xml(checks))
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        if not path.parent.is_dir():
            reason = f"the folder {path.parent} does not exist"
        _refuse_junit(path, reason)


def _refuse_junit(path: Path, reason: str) -> NoReturn:
    raise InputError(str(path), None, f"cannot write the JUnit file: {reason}")


def _checks(
    run: Path, slo: list[str], baseline: Path | None, compare: list[str], tolerance: str,
    floor: list[str],
) -> tuple[list[Check], Path]:  # fmt: skip
    """Read the files, validate every key and option, and judge."""
    summary, file = load_summary(run)
    base = load_summary(baseline)[0] if baseline is not None else None
    tol, floors = parse_tolerance(tolerance), parse_floors(floor)
    known = [summary] if base is None else [summary, base]
    own, given = _scenario_slos(summary, str(file)), [parse_expression(s) for s in slo]
    for item in own:
        check_key(item.metric, known, source=f"{file}: slo {item.name!r}")
    for item in given:
        check_key(item.metric, known, source="--slo")
    slos = [*own, *given]
    for key in compare:
        check_key(key, known, source="--compare")
    if compare and base is None:
        raise InputError("--compare", None, "needs --baseline to compare with")
    if not slos and base is None:
        raise InputError(str(file), "slo", "nothing to check: give --slo or --baseline")
    if not slos and not compare:
        raise InputError("--baseline", None, "nothing to compare: give --slo or --compare KEY")
    checks = slo_checks(summary, slos)
    if base is not None:
        metrics = compared_metrics(slos, compare)
        checks += regression_checks(summary, base, metrics, tolerance=tol, floors=floors)
    return checks, file


def register(app: typer.Typer) -> None:
    @app.command("gate")
    def gate(
        run: Path = typer.Argument(..., help="A run folder or its summary.json."),
        slo: list[str] = typer.Option([], "--slo", help="dotted.key<=number; repeatable."),
        baseline: Path | None = typer.Option(None, help="Baseline summary.json (or run folder)."),
        compare: list[str] = typer.Option(
            [], "--compare", help="Also compare this key with the baseline; repeatable."
        ),
        tolerance: str = typer.Option("10%", help="Allowed relative worsening (10%)."),
        floor: list[str] = typer.Option(
            [], "--floor", help="Smallest worsening that counts, per unit: 1ms, 0.1%, 0.001USD."
        ),
        junit: Path | None = typer.Option(None, help="Write JUnit XML here."),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="List every check."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Print one verdict line."),
        as_json: bool = typer.Option(False, "--json", help="Print the checks as JSON."),
    ) -> None:
        """Check SLOs (and regressions against a baseline); exit 1 if any fails, 2 on bad input.

        Against a baseline, the SLO'd keys and each --compare key are checked: a regression is
        worse by more than --tolerance AND the unit's --floor (defaults 1ms, 0.001s, 0.1% of a
        fraction, 0.001USD, 1 count) AND, when both runs have 95 % intervals, outside them."""
        if junit is not None and not junit.parent.is_dir():  # before any work
            _refuse_junit(junit, f"the folder {junit.parent} does not exist")
        checks, file = _checks(run, slo, baseline, compare, tolerance, floor)
        if junit is not None:
            _write_junit(junit, checks)
        failed = [c for c in checks if not c.passed]
        if as_json:
            typer.echo(json.dumps(_document(checks), indent=2))
        elif quiet:
            typer.echo(_verdict(checks, with_binding=True))
        else:
            _print_checks(checks, file, verbose=verbose)
        if failed:
            raise typer.Exit(1)


def _document(checks: list[Check]) -> dict[str, Any]:
    """`--json`: the verdict, the binding check (with its line) and every check."""
    bound = binding(checks)
    return {
        "passed": all(c.passed for c in checks),
        "binding": None if bound is None else {**asdict(bound), "line": binding_line(bound)},
        "checks": [asdict(c) for c in checks],
    }


def _verdict(checks: list[Check], *, with_binding: bool = False) -> str:
    failed = sum(not c.passed for c in checks)
    near = sum(c.near_miss for c in checks)
    tail = f", {near} near miss{'es' if near != 1 else ''}" if near else ""
    bound = binding(checks) if with_binding else None
    if bound is not None:
        tail += f"; {binding_line(bound)}"
    if failed:
        return f"FAILED: {failed} of {len(checks)} checks failed{tail}"
    return f"PASSED: {len(checks)} of {len(checks)} checks passed{tail}"


def _print_checks(checks: list[Check], file: Path, *, verbose: bool) -> None:
    console = Console()
    shown = checks if verbose else [c for c in checks if not c.passed or c.near_miss]
    if shown:
        table = Table(title=f"twin gate: {file}", title_justify="left")
        for col in ("", "check", "detail"):
            table.add_column(col, overflow="fold")
        for c in shown:
            mark = "FAIL" if not c.passed else "NEAR" if c.near_miss else "PASS"
            colour = {"FAIL": "red", "NEAR": "yellow", "PASS": "green"}[mark]
            kind = "vs baseline" if c.kind == "regression" else "SLO"
            metric = c.message.split(" ", 1)[0]
            named = c.kind == "slo" and not c.name.replace(" ", "").startswith(metric)
            detail = f"{c.name}: {c.message}" if named else c.message
            table.add_row(f"[{colour}]{mark}[/]", kind, detail)
        console.print(table)
    hidden = len(checks) - len(shown)
    more = f" ({hidden} passing not shown: --verbose lists them)" if hidden else ""
    bound = binding(checks)
    if bound is not None:
        console.print(binding_line(bound), markup=False, highlight=False, soft_wrap=True)
    console.print(_verdict(checks) + more, markup=False, highlight=False, soft_wrap=True)
