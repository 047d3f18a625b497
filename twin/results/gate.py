"""The CI performance gate: SLO checks and regression checks against a baseline, as data.

A check is a flat record (name, kind, passed, observed, limit, message). `junit_xml` turns a
list of them into the JUnit XML that CI systems read. Pure: the CLI reads and writes the files.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from twin.results.slo import Slo, evaluate, lookup

__all__ = ["Check", "junit_xml", "regression_checks", "slo_checks", "worse_is_higher_metrics"]

_LATENCY_KEYS = ("mean", "p50", "p95", "p99", "p999")
_RATIO_FLOOR = 0.001  # an error ratio must also rise by 0.1 point to count as a regression


@dataclass(frozen=True)
class Check:
    """One line of the gate's verdict."""

    name: str
    kind: str  # "slo" or "regression"
    passed: bool
    observed: float | None
    limit: float | None
    message: str


def slo_checks(summary: Mapping[str, Any], slos: Iterable[Slo]) -> list[Check]:
    """One check per SLO."""
    checks = []
    for slo in slos:
        v = evaluate(slo, summary)
        observed = v["observed"]
        shown = "absent from the summary" if observed is None else f"{observed:g}"
        message = f"{slo.metric} = {shown}, objective {slo.op} {slo.target:g}"
        checks.append(Check(slo.name, "slo", v["passed"], observed, slo.target, message))
    return checks


def worse_is_higher_metrics(summary: Mapping[str, Any]) -> Iterator[str]:
    """Dotted keys where a higher value is worse: latencies, error ratios, cost per user."""
    for group in ("services", "requests"):
        for name, block in summary.get(group, {}).items():
            for key in _LATENCY_KEYS:
                if block.get("latency_ms", {}).get(key) is not None:
                    yield f"{group}.{name}.latency_ms.{key}"
    for name in summary.get("requests", {}):
        yield f"requests.{name}.error_ratio"
    if lookup(summary, "cost.per_user_month_usd") is not None:
        yield "cost.per_user_month_usd"


def _value(summary: Mapping[str, Any], metric: str) -> float | None:
    if metric.endswith(".error_ratio"):
        block = summary["requests"].get(metric.split(".")[1], {})
        total = block.get("count", 0) + block.get("errors", 0)
        return block.get("errors", 0) / total if total else None
    return lookup(summary, metric)


def regression_checks(
    summary: Mapping[str, Any], baseline: Mapping[str, Any], tolerance: float
) -> list[Check]:
    """A check per metric present in both: fails when worse than baseline by over `tolerance`."""
    checks = []
    for metric in worse_is_higher_metrics(baseline):
        base, now = _value(baseline, metric), _value(summary, metric)
        if base is None or now is None or math.isnan(base) or math.isnan(now):
            continue
        limit = base * (1.0 + tolerance)
        worse = now > limit and (not metric.endswith("error_ratio") or now - base > _RATIO_FLOOR)
        change = f"{(now / base - 1) * 100:+.1f}%" if base > 0 else f"{now - base:+g}"
        message = f"{metric}: {now:g} vs baseline {base:g} ({change}, tolerance {tolerance:.0%})"
        checks.append(
            Check(f"no regression: {metric}", "regression", not worse, now, limit, message)
        )
    return checks


def junit_xml(checks: list[Check], *, suite: str = "twin gate") -> str:
    """JUnit XML with one testcase per check and a failure element for each failed one."""
    failures = sum(not c.passed for c in checks)
    root = ET.Element("testsuites", name=suite, tests=str(len(checks)), failures=str(failures))
    node = ET.SubElement(
        root, "testsuite", name=suite, tests=str(len(checks)), failures=str(failures), errors="0"
    )
    for check in checks:
        case = ET.SubElement(node, "testcase", classname=f"twin.gate.{check.kind}", name=check.name)
        if check.passed:
            ET.SubElement(case, "system-out").text = check.message
        else:
            ET.SubElement(
                case, "failure", message=check.message, type=check.kind
            ).text = check.message
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
