"""Plain-language findings: what a run says, in sentences an SRE can paste into a ticket.

Pure: computed from the summary and the time series, never from the plots. One finding per
service ("api runs at 90% utilization; p99 latency 12.4 s, with requests waiting 74% of
their time.") with a level (ok, warn, critical), and headlines for the whole run: the
saturation ranking, the slowest request end to end, SLO verdicts, rider experience, cost,
agreement with queueing theory and the incidents marked on the plots.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from twin.report.series import Saturation, saturation
from twin.report.tempo import tempo_sentence
from twin.report.units import (
    ci_bounds,
    fmt_count,
    fmt_duration_s,
    fmt_metric,
    fmt_ms,
    fmt_pct,
    fmt_usd,
)
from twin.results.reading import Window, dig, is_number

__all__ = ["HOT", "SATURATED", "Finding", "headlines", "service_findings"]

HOT = 0.8  # utilization where waiting starts to dominate on most stations
SATURATED = 0.95  # utilization treated as saturated
_DROPS_CRITICAL = 0.01  # share of arrivals dropped that is an outage for someone

Level = Literal["ok", "warn", "critical"]


@dataclass(frozen=True)
class Finding:
    """One sentence or three about one service, and how worried to be."""

    subject: str
    text: str
    level: Level


def _pct0(value: float) -> str:
    return fmt_pct(value, digits=0)


def _load_sentence(name: str, entry: Mapping[str, Any]) -> str:
    util = dig(entry, "utilization_mean")
    peak = dig(entry, "utilization_peak")
    text = f"{name} runs at {_pct0(util)} utilization" if is_number(util) else name
    if is_number(peak) and is_number(util) and peak - util >= 0.05:
        text += f" (peak {_pct0(peak)})"
    p99, wait, latency = (
        dig(entry, "latency_ms", "p99"),
        dig(entry, "wait_ms", "mean"),
        dig(entry, "latency_ms", "mean"),
    )
    if is_number(p99):
        text += f"; p99 latency {fmt_ms(p99)}"
    if is_number(wait) and is_number(latency) and latency > 0:
        text += f", with requests waiting {_pct0(wait / latency)} of their time"
    return text + "."


def _drop_sentence(entry: Mapping[str, Any]) -> str:
    dropped, arrivals = dig(entry, "dropped"), dig(entry, "arrivals")
    if not (is_number(dropped) and dropped > 0):
        return ""
    share = ""
    if is_number(arrivals) and arrivals > 0:
        share = f" ({fmt_pct(dropped / arrivals)} of arrivals)"
    return f" It dropped {fmt_count(dropped)} requests{share} because its queue was full."


def _share_text(share: float) -> str:
    return "under 1%" if 0 < share < 0.005 else _pct0(share)


def _saturation_sentence(sat: Saturation | None) -> str:
    if sat is None:
        return ""
    share = sat.total_s / sat.measured_s if sat.measured_s > 0 else 0.0
    return (
        f" It first saturates (at least {_pct0(SATURATED)} busy) {fmt_duration_s(sat.first_s)}"
        f" into the run and is saturated for {fmt_duration_s(sat.total_s)} in all"
        f" ({_share_text(share)} of the measured time)."
    )


def _theory_sentence(entry: Mapping[str, Any], theory: object) -> str:
    predicted = dig(theory, "latency_ms_mean")
    if not is_number(predicted):
        return ""
    method = dig(theory, "method")
    if method and dig(theory, "approximate"):
        method = f"{method}, an approximation"
    text = f" Queueing theory ({method}) predicts" if method else " Queueing theory predicts"
    text += f" a mean latency of {fmt_ms(predicted)}"
    mean, ci = dig(entry, "latency_ms", "mean"), ci_bounds(dig(entry, "latency_ms", "ci95"))
    if ci is not None and ci[0] <= predicted <= ci[1]:
        return text + f", inside the simulated 95% CI ({fmt_ms(ci[0])} to {fmt_ms(ci[1])})."
    if is_number(mean) and mean > 0:
        return text + f", {(predicted - mean) / mean:+.1%} from the simulated mean {fmt_ms(mean)}."
    return text + "."


def _level(entry: Mapping[str, Any], sat: Saturation | None) -> Level:
    util = dig(entry, "utilization_mean")
    dropped, arrivals = dig(entry, "dropped"), dig(entry, "arrivals")
    share = dropped / arrivals if is_number(dropped) and is_number(arrivals) and arrivals else 0.0
    if (is_number(util) and util >= SATURATED) or share >= _DROPS_CRITICAL:
        return "critical"
    if (is_number(util) and util >= HOT) or sat is not None or share > 0:
        return "warn"
    return "ok"


def service_findings(
    summary: Mapping[str, Any], ts: pd.DataFrame | None, *, warmup_s: float = 0.0
) -> list[Finding]:
    """A finding per service, most saturated first."""
    services = summary.get("services")
    if not isinstance(services, Mapping):
        return []
    stations = dig(summary, "analytic", "stations")
    findings = []
    for name in _ranking(summary):
        entry = services[name]
        sat = None
        if ts is not None:
            sat = saturation(ts, name, warmup_s=warmup_s, threshold=SATURATED)
        text = _load_sentence(name, entry) + _drop_sentence(entry) + _saturation_sentence(sat)
        text += _theory_sentence(entry, dig(stations, name))
        findings.append(Finding(name, text, _level(entry, sat)))
    return findings


def _ranking(summary: Mapping[str, Any]) -> list[str]:
    """Services most saturated first: the summary's `bottlenecks`, then by mean utilization."""
    services = summary.get("services")
    names = list(services) if isinstance(services, Mapping) else []
    given = summary.get("bottlenecks")
    ranked = [n for n in given if n in names] if isinstance(given, list) else []

    def utilization(name: str) -> float:
        value = dig(services, name, "utilization_mean")
        return float(value) if is_number(value) else -1.0

    rest = sorted((n for n in names if n not in ranked), key=utilization, reverse=True)
    return ranked + rest


def _ranking_headline(summary: Mapping[str, Any]) -> str | None:
    names = _ranking(summary)
    if not names:
        return None
    parts = []
    for name in names[:5]:
        util = dig(summary, "services", name, "utilization_mean")
        parts.append(f"{name} ({_pct0(util)})" if is_number(util) else name)
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    return "Most saturated first: " + ", ".join(parts) + more + "."


def _requests_headline(summary: Mapping[str, Any]) -> str | None:
    requests = summary.get("requests")
    if not isinstance(requests, Mapping) or not requests:
        return None

    def p99(name: str) -> float:
        value = dig(requests, name, "latency_ms", "p99")
        return float(value) if is_number(value) else -1.0

    worst = max(requests, key=p99)
    entry = requests[worst]
    count, errors = dig(entry, "count"), dig(entry, "errors")
    lead = f"End to end ({worst})" if len(requests) == 1 else f"Slowest end to end: {worst}"
    text = f"{lead}: p99 {fmt_ms(dig(entry, 'latency_ms', 'p99'))}"
    text += f", median {fmt_ms(dig(entry, 'latency_ms', 'p50'))}"
    if is_number(count):
        text += f", over {fmt_count(count)} requests"
    if is_number(errors):
        text += f" with {fmt_count(errors)} errors"
    return text + "."


def _num(value: object) -> str:
    """A number as people read it: 149.6, 0.9661, 101,866."""
    if not is_number(value):
        return "absent" if value is None else str(value)
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.1f}" if abs(value) >= 1000 else f"{value:.4g}"


def _slo_num(slo: object, key: str) -> str:
    """An SLO's figure in its metric's unit (`101,866`, `96.6%`, `150 ms`)."""
    metric = dig(slo, "metric")
    return _num(dig(slo, key)) if metric is None else fmt_metric(metric, dig(slo, key))


def _slo_headline(summary: Mapping[str, Any]) -> str | None:
    slos = summary.get("slo")
    if not isinstance(slos, list) or not slos:
        return None
    failed = [s for s in slos if not dig(s, "passed")]
    if not failed:
        return f"All {len(slos)} SLOs pass."
    named = ", ".join(
        f"{dig(s, 'name')} (observed {_slo_num(s, 'observed')}, "
        f"target {(str(dig(s, 'op') or '') + ' ' + _slo_num(s, 'target')).strip()})"
        for s in failed
    )
    return f"{len(failed)} of {len(slos)} SLOs fail: {named}."


def _experience_headline(summary: Mapping[str, Any]) -> str | None:
    experience = summary.get("experience")
    if not isinstance(experience, Mapping):
        return None
    parts = []
    lag = dig(experience, "leaderboard_lag_s", "p99")
    if is_number(lag):
        parts.append(f"leaderboard lag p99 {fmt_duration_s(lag)}")
    if is_number(experience.get("join_failures")):
        parts.append(f"{fmt_count(experience['join_failures'])} failed joins")
    if is_number(experience.get("video_degraded_fraction")):
        video = f"{fmt_pct(experience['video_degraded_fraction'])} of video degraded"
        minutes = experience.get("video_degraded_rider_minutes")
        if is_number(minutes) and minutes > 0:
            video += f" ({_big(minutes)} rider-minutes)"
        parts.append(video)
    return "Riders: " + "; ".join(parts) + "." if parts else None


def _big(value: float) -> str:
    """1.2M, 350k, 912: the size of a number at a glance."""
    if value >= 1e6:
        return f"{value / 1e6:.1f}M"
    if value >= 1e4:
        return f"{value / 1e3:.0f}k"
    return fmt_count(value)


def _cost_headline(summary: Mapping[str, Any]) -> str | None:
    monthly = dig(summary, "cost", "monthly_usd")
    per_user = dig(summary, "cost", "per_user_month_usd")
    if not is_number(monthly):
        return None
    text = f"Cost: {fmt_usd(monthly)} a month"
    return text + (f", {fmt_usd(per_user)} per user per month." if is_number(per_user) else ".")


def _theory_headline(summary: Mapping[str, Any]) -> str | None:
    stations = dig(summary, "analytic", "stations")
    if not isinstance(stations, Mapping) or not stations:
        return None
    inside = checked = 0
    for name, theory in stations.items():
        predicted = dig(theory, "latency_ms_mean")
        ci = ci_bounds(dig(summary, "services", name, "latency_ms", "ci95"))
        if is_number(predicted) and ci is not None:
            checked += 1
            inside += int(ci[0] <= predicted <= ci[1])
    if not checked:
        return None
    return (
        f"Queueing theory's mean latency lies inside the simulated 95% CI at {inside} of "
        f"{checked} stations."
    )


def _incident_headline(windows: Sequence[Window]) -> str | None:
    if not windows:
        return None
    labels = ", ".join(w.label for w in windows)
    noun = "incident falls" if len(windows) == 1 else "incidents fall"
    return f"{len(windows)} {noun} within the run: {labels} (see Incidents)."


def headlines(summary: Mapping[str, Any], windows: Sequence[Window] = ()) -> list[str]:
    """The run in a few sentences, most important first; absent blocks say nothing."""
    candidates = (
        _slo_headline(summary),
        _ranking_headline(summary),
        _requests_headline(summary),
        _experience_headline(summary),
        tempo_sentence(summary),
        _cost_headline(summary),
        _theory_headline(summary),
        _incident_headline(windows),
    )
    return [text for text in candidates if text]
