"""Service-level objectives: `requests.join.latency_ms.p99<=500` read, checked and reported.

An SLO names a dotted key of summary.json, a comparison and a number. Scenarios carry them in
their `slo:` block (`{name, metric, op, target}`) and `twin gate` takes them as expressions.
Pure functions: a verdict is a plain mapping `{name, metric, op, target, observed, passed}`.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from twin.errors import InputError

__all__ = ["OPS", "Slo", "evaluate", "lookup", "parse_expression", "read_metric", "verdicts"]

OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
    "==": operator.eq,
    "!=": operator.ne,
}
_EXPRESSION = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(<=|>=|==|!=|<|>)\s*([-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class Slo:
    """One objective: `metric op target`, called `name` in reports."""

    name: str
    metric: str
    op: str
    target: float

    @property
    def expression(self) -> str:
        return f"{self.metric}{self.op}{self.target:g}"


def parse_expression(text: str, *, source: str = "--slo") -> Slo:
    """Read `dotted.key<=number` (also <, >=, >, ==, !=)."""
    match = _EXPRESSION.match(text)
    if match is None:
        raise InputError(source, text, "expected dotted.key<=number (or <, >=, >, ==, !=)")
    metric, op, raw = match.groups()
    try:
        target = float(raw)
    except ValueError:
        raise InputError(source, text, f"{raw!r} is not a number") from None
    return Slo(name=text.strip(), metric=metric, op=op, target=target)


def from_mapping(item: Mapping[str, Any], *, source: str, index: int) -> Slo:
    """An SLO from a scenario's `slo:` entry: `{name, metric, op, target}` or `{name, expr}`."""
    where = f"slo.{index}"
    if "expr" in item:
        slo = parse_expression(str(item["expr"]), source=source)
        return Slo(str(item.get("name", slo.name)), slo.metric, slo.op, slo.target)
    missing = [k for k in ("metric", "op", "target") if k not in item]
    if missing:
        raise InputError(source, where, f"needs {', '.join(missing)} (or an 'expr')")
    if item["op"] not in OPS:
        raise InputError(source, f"{where}.op", f"unknown comparison {item['op']!r}")
    try:
        target = float(item["target"])
    except (TypeError, ValueError):
        raise InputError(source, f"{where}.target", "must be a number") from None
    name = str(item.get("name", f"{item['metric']}{item['op']}{target:g}"))
    return Slo(name, str(item["metric"]), str(item["op"]), target)


_MISSING = object()


def _walk(summary: Mapping[str, Any], parts: list[str]) -> Any:
    """The value at the dotted path `parts` (list items by index), or `_MISSING`."""
    node: Any = summary
    for part in parts:
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif (
            isinstance(node, list)
            and part.lstrip("-").isdigit()
            and -len(node) <= int(part) < len(node)
        ):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def lookup(summary: Mapping[str, Any], metric: str) -> float | None:
    """The number at dotted `metric` in a summary (list items by index), or None if absent."""
    node = _walk(summary, metric.split("."))
    if node is _MISSING or isinstance(node, bool) or not isinstance(node, int | float):
        return None
    return float(node)


def read_metric(summary: Mapping[str, Any], metric: str) -> tuple[float | None, str]:
    """The finite number at dotted `metric`, or None and why not: `missing`, `null`, `NaN`,
    `infinite` or `not a number ('fast')`. `requests.<type>.error_ratio` is worked out as
    errors / (count + errors)."""
    parts = metric.split(".")
    if len(parts) == 3 and parts[0] == "requests" and parts[2] == "error_ratio":
        return _error_ratio(summary, parts[1])
    node = _walk(summary, parts)
    if node is _MISSING:
        return None, "missing"
    if node is None:
        return None, "null"
    if isinstance(node, bool) or not isinstance(node, int | float):
        return None, f"not a number ({str(node)[:20]!r})"
    if math.isnan(node):
        return None, "NaN"
    return (float(node), "") if math.isfinite(node) else (None, "infinite")


def _error_ratio(summary: Mapping[str, Any], name: str) -> tuple[float | None, str]:
    count, why = read_metric(summary, f"requests.{name}.count")
    errors, why_e = read_metric(summary, f"requests.{name}.errors")
    if count is None or errors is None:
        return None, f"count {why}" if count is None else f"errors {why_e}"
    total = count + errors
    return (errors / total, "") if total else (None, "no requests")


def evaluate(slo: Slo, summary: Mapping[str, Any]) -> dict[str, Any]:
    """The verdict of one SLO on a summary; a metric the summary lacks fails, observed None."""
    observed = lookup(summary, slo.metric)
    passed = observed is not None and not math.isnan(observed) and OPS[slo.op](observed, slo.target)
    return {
        "name": slo.name,
        "metric": slo.metric,
        "op": slo.op,
        "target": slo.target,
        "observed": observed,
        "passed": bool(passed),
    }


def verdicts(slos: Iterable[Slo], summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Verdicts of every SLO, in order."""
    return [evaluate(slo, summary) for slo in slos]
