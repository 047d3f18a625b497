"""The CI performance gate: SLO checks and regression checks against a baseline, as data.

A check is a flat record (name, kind, passed, observed, limit, message, near_miss, margin).
It never passes by accident: a value that is missing, null, NaN or not a number fails with
the reason. The binding check is the one with the least margin (the most failed, or the
closest to failing): `binding` finds it, `binding_line` says it. `junit_xml` turns the checks
into the JUnit XML that CI systems read, the binding check among the suite's properties.
Pure: the CLI reads and writes the files.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from twin.results.slo import OPS, Slo, read_metric

__all__ = [
    "DEFAULT_FLOORS",
    "Check",
    "binding",
    "binding_line",
    "compared_metrics",
    "junit_xml",
    "regression_checks",
    "slo_checks",
    "unit_of",
]

# A regression must also exceed an absolute floor in the metric's unit, so that 0.9998 ms ->
# 1.135 ms (+13.5 %) is noise, not a failure.
DEFAULT_FLOORS: dict[str, float] = {
    "ms": 1.0,
    "s": 0.001,
    "fraction": 0.001,  # a ratio must move by 0.1 point
    "USD": 0.001,
    "count": 1.0,
}
NEAR = 0.10  # a passing SLO within 10 % of its target is a near miss


@dataclass(frozen=True)
class Check:
    """One line of the gate's verdict. `observed` is None only when the check failed because
    the value was not a finite number (the message says why). A near miss passed narrowly.
    `margin` is the room left before the limit, relative to the target (or the baseline):
    0.25 is 25 % of room, negative is past it; None when there is no finite value."""

    name: str
    kind: str  # "slo" or "regression"
    passed: bool
    observed: float | None
    limit: float | None
    message: str
    near_miss: bool = False
    margin: float | None = None


def slo_checks(summary: Mapping[str, Any], slos: Iterable[Slo]) -> list[Check]:
    """One check per SLO; a value that is missing, null, NaN or not a number fails."""
    checks = []
    for slo in slos:
        observed, why = read_metric(summary, slo.metric)
        goal = f"objective {slo.op} {slo.target:g}"
        if observed is None:
            message = f"{slo.metric} is {why} in the run, {goal}"
            checks.append(Check(slo.name, "slo", False, None, slo.target, message))
            continue
        passed = OPS[slo.op](observed, slo.target)
        near = passed and abs(observed - slo.target) <= NEAR * abs(slo.target)
        message = f"{slo.metric} = {observed:g}, {goal}"
        margin = _slo_margin(slo, observed)
        checks.append(Check(slo.name, "slo", passed, observed, slo.target, message, near, margin))
    return checks


def _slo_margin(slo: Slo, observed: float) -> float:
    """Room left before the target, relative to it: (target - observed) / |target| for an
    upper bound, the other way for a lower one; an equality has none to spare."""
    scale = abs(slo.target) or 1.0
    gap = (observed - slo.target) / scale
    if slo.op in ("<=", "<"):
        return -gap
    if slo.op in (">=", ">"):
        return gap
    return abs(gap) if slo.op == "!=" else -abs(gap)


def binding(checks: Iterable[Check]) -> Check | None:
    """The check that binds: among the SLO checks (else all), one that failed with no finite
    value, or else the one with the least margin."""
    checks = list(checks)
    pool = [c for c in checks if c.kind == "slo"] or checks
    if not pool:
        return None
    return min(pool, key=lambda c: -math.inf if c.margin is None else c.margin)


def binding_line(check: Check) -> str:
    """`binding: API p99 under 100 ms: services.api.latency_ms.p99 = 62.1 vs limit 100 (38 %
    margin)`: which check binds, its observed value against its limit, and the room left."""
    if check.margin is None:
        return f"binding: {check.name}: {check.message}"
    metric = check.message.split(" ", 1)[0].rstrip(":")
    observed = "none" if check.observed is None else f"{check.observed:g}"
    limit = "none" if check.limit is None else f"{check.limit:g}"
    room = f"{check.margin:.1%} margin" if check.margin >= 0 else f"{-check.margin:.1%} past it"
    named = "" if check.name.startswith(metric) else f"{check.name}: "  # `--slo` names itself
    return f"binding: {named}{metric} = {observed} vs limit {limit} ({room})"


def compared_metrics(slos: Iterable[Slo], extra: Iterable[str] = ()) -> dict[str, bool]:
    """Each metric a baseline comparison checks, mapped to whether higher is worse: the SLO'd
    ones (direction from the comparison: `>=` means lower is worse), then `extra`."""
    metrics: dict[str, bool] = {}
    for slo in slos:
        metrics.setdefault(slo.metric, slo.op not in (">", ">="))
    for metric in extra:
        metrics.setdefault(metric, True)
    return metrics


def unit_of(metric: str) -> str:
    """The unit a floor is given in: ms, s, fraction, USD or count, from the key's name."""
    parts = metric.split(".")
    if any(p.endswith("_ms") for p in parts):
        return "ms"
    if any(p.endswith("_usd") for p in parts):
        return "USD"
    last = parts[-1]
    if last.endswith(("_fraction", "ratio", "_ratio_peak")) or last.startswith("utilization"):
        return "fraction"
    if last.endswith(("_s", "seconds")) or (len(parts) > 1 and parts[-2].endswith("_s")):
        return "s"
    return "count"


def _interval(summary: Mapping[str, Any], metric: str) -> tuple[float, float] | None:
    """The 95 % interval of `metric` when the run has one: `X.ci95` for a mean `X.mean`, a
    drill's `requests.T.latency_ci95_ms.pNN` for `requests.T.latency_ms.pNN`."""
    head, _, stat = metric.rpartition(".")
    if stat == "mean":
        key = f"{head}.ci95"
    elif head.endswith(".latency_ms") and head.startswith("requests."):
        key = f"{head.removesuffix('latency_ms')}latency_ci95_ms.{stat}"
    else:
        return None
    low, high = read_metric(summary, f"{key}.0")[0], read_metric(summary, f"{key}.1")[0]
    return None if low is None or high is None else (low, high)


def regression_checks(
    summary: Mapping[str, Any],
    baseline: Mapping[str, Any],
    metrics: Mapping[str, bool],
    *,
    tolerance: float,
    floors: Mapping[str, float] = DEFAULT_FLOORS,
) -> list[Check]:
    """A check per metric (mapped to whether higher is worse). A regression is worse than the
    baseline by more than `tolerance` (relative) AND the unit's floor (absolute) AND, when both
    runs carry a 95 % interval, with the intervals apart. A value that is not a finite number
    in either file fails, with the reason."""
    checks = []
    for metric, higher_is_worse in metrics.items():
        name = f"no regression: {metric}"
        base, why_base = read_metric(baseline, metric)
        now, why_now = read_metric(summary, metric)
        if base is None or now is None:
            where = "in the baseline" if base is None else "in the run"
            why = f"{metric} is {why_base or why_now} {where}"
            checks.append(Check(name, "regression", False, now, None, why))
            continue
        checks.append(
            _judge(name, metric, now, base, higher_is_worse, tolerance, floors, summary, baseline)
        )
    return checks


def _judge(
    name: str, metric: str, now: float, base: float, higher_is_worse: bool, tolerance: float,
    floors: Mapping[str, float], summary: Mapping[str, Any], baseline: Mapping[str, Any],
) -> Check:  # fmt: skip
    sign = 1.0 if higher_is_worse else -1.0
    worsening = sign * (now - base)
    unit = unit_of(metric)
    allowed = max(abs(base) * tolerance, floors.get(unit, 0.0))
    rule = f"tolerance {tolerance:.0%}, floor {floors.get(unit, 0.0):g} {unit}"
    ci_now, ci_base = _interval(summary, metric), _interval(baseline, metric)
    apart = True
    if ci_now is not None and ci_base is not None:
        apart = ci_now[0] > ci_base[1] if higher_is_worse else ci_now[1] < ci_base[0]
        rule += ", 95 % intervals " + ("apart" if apart else "overlap")
        if not apart and worsening > allowed:
            rule += ": within noise"
    worse = worsening > allowed and apart
    near = not worse and worsening > allowed / 2
    change = f"{(now / base - 1) * 100:+.1f}%" if base else f"{now - base:+g}"
    message = f"{metric}: {now:g} vs baseline {base:g} ({change}; {rule})"
    limit = base + sign * allowed
    margin = (allowed - worsening) / (abs(base) or 1.0)
    return Check(name, "regression", not worse, now, limit, message, near, margin)


def junit_xml(checks: list[Check], *, suite: str = "twin gate") -> str:
    """JUnit XML with one testcase per check and a failure element for each failed one."""
    failures = sum(not c.passed for c in checks)
    root = ET.Element("testsuites", name=suite, tests=str(len(checks)), failures=str(failures))
    node = ET.SubElement(
        root, "testsuite", name=suite, tests=str(len(checks)), failures=str(failures), errors="0"
    )
    bound = binding(checks)
    if bound is not None:
        properties = ET.SubElement(node, "properties")
        ET.SubElement(properties, "property", name="binding", value=binding_line(bound))
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
