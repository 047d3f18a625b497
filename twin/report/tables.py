"""The report's tables, as rows of formatted cells built from `summary.json`.

Pure: each function takes the summary (or one block of it) and returns a `Table` or pairs
of label and value; the template only lays them out. A cell keeps the unrounded figure in
its `title` (a tooltip) so nothing is lost to formatting. Blocks a run does not have (no
`analytic`, no `cost`) give `None`, and the report leaves their section out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from twin.report.incidents import Shown, incident_rows
from twin.report.tempo import tempo_facts
from twin.report.units import (
    MISSING,
    ci_bounds,
    fmt_count,
    fmt_duration_s,
    fmt_metric,
    fmt_ms,
    fmt_ms_ci,
    fmt_pct,
    fmt_usd,
)
from twin.results.reading import cost_items, dig, is_number

__all__ = [
    "Cell",
    "Table",
    "cost_table",
    "experience_facts",
    "header_facts",
    "incident_table",
    "latency_table",
    "load_table",
    "requests_table",
    "slo_table",
]


@dataclass(frozen=True)
class Cell:
    """One table cell: what is shown, the exact figure as a tooltip, a CSS class, a sub-line."""

    text: str
    title: str = ""
    css: str = ""
    sub: str = ""  # a second, smaller line (a confidence interval)


@dataclass(frozen=True)
class Table:
    """Column headings and rows of cells; `note` explains what the table cannot show."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    note: str = ""


def _raw(value: object, unit: str = "") -> str:
    return f"{value!r}{unit}" if is_number(value) else ""


def _ms(entry: object, *keys: str) -> Cell:
    value = dig(entry, *keys)
    return Cell(fmt_ms(value), _raw(value, " ms"))


def _share(part: object, whole: object) -> str:
    if is_number(part) and is_number(whole) and whole > 0:
        return f" ({fmt_pct(part / whole)})"
    return ""


def _pct_of(part: float, whole: float) -> str:
    return fmt_pct(part / whole) if whole > 0 else MISSING


def _riders_label(summary: Mapping[str, Any]) -> str:
    return "riders in the population" if summary.get("engine") == "drill" else "riders"


def _drill_riders(drill: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A drill's riders at once (Locust users), mean and peak over its tracking windows; the
    header's `riders` is the population the workload draws from, scaled."""
    windows = dig(drill, "tracking", "windows")
    if not isinstance(windows, Sequence):
        return []
    achieved = [float(w["riders_achieved"]) for w in windows
                if isinstance(w, Mapping) and is_number(w.get("riders_achieved"))]  # fmt: skip
    if not achieved:
        return []
    mean, peak = sum(achieved) / len(achieved), max(achieved)
    return [("riders at once (mean / busiest window)", f"{mean:,.1f} / {peak:,.1f}")]


def _drill_load(drill: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Who made a drill's load: remote `twin drill-worker`s (their records came over Locust's
    messages) or Locust processes on the drilling machine."""
    shares = drill.get("load_shares")
    if not is_number(drill.get("workers")) or not isinstance(shares, Sequence):
        return []
    remote = any(str(s.get("process", "")).startswith("rec-worker-") for s in shares
                 if isinstance(s, Mapping))  # fmt: skip
    n = int(drill["workers"])
    if remote:
        return [("load generators", f"{n} remote worker{'s' * (n != 1)} (Locust master/worker)")]
    return [("load generators", f"{n} local Locust process{'es' * (n != 1)}")]


def header_facts(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The at-a-glance facts of a run, in reading order; absent keys are left out."""
    facts = [
        ("scenario", summary.get("scenario")),
        ("architecture", summary.get("architecture")),
        ("engine", summary.get("engine")),
        (_riders_label(summary), fmt_count(summary.get("riders")) if "riders" in summary else None),
        ("seed", summary.get("seed")),
        ("replications", summary.get("replications")),
    ]
    simulated = summary.get("simulated_seconds")
    drill = summary.get("drill") if summary.get("engine") == "drill" else None
    if is_number(simulated):
        # a drill plays the scenario's time compressed: its own length is the drill's
        label = "scenario time played" if isinstance(drill, Mapping) else "simulated time"
        facts.append((label, f"{fmt_count(simulated)} s ({fmt_duration_s(simulated)})"))
    if isinstance(drill, Mapping):
        facts += _drill_riders(drill) + _drill_load(drill)
    if isinstance(drill, Mapping) and is_number(drill.get("duration_s")):
        runs = int(summary.get("replications") or 1)
        seconds = fmt_count(drill["duration_s"])
        length = f"{runs} x {seconds}" if runs > 1 else seconds
        facts.append(
            ("drill", f"{length} s at {drill.get('speedup'):g}x, scale {drill.get('scale'):g}")
        )
    warmup = summary.get("warmup_s")
    if is_number(warmup):
        facts.append(("warm-up (not in statistics)", f"{fmt_count(warmup)} s"))
    wall = summary.get("wall_seconds")
    if is_number(wall):
        facts.append(("wall-clock time", f"{wall:,.1f} s"))
    return [(label, str(value)) for label, value in facts if value is not None]


def _theory(summary: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    station = dig(summary, "analytic", "stations", name)
    return station if isinstance(station, Mapping) else None


def _has_theory(summary: Mapping[str, Any]) -> bool:
    return isinstance(dig(summary, "analytic", "stations"), Mapping)


def _method(station: object) -> str:
    """The analytic method's name, flagged when it is an approximation."""
    method = dig(station, "method")
    if not method:
        return MISSING
    return f"{method} (approx.)" if dig(station, "approximate") else str(method)


def load_table(summary: Mapping[str, Any]) -> Table | None:
    """Per service: arrivals, completions, drops, utilization (and theory's utilization)."""
    services = summary.get("services")
    if not isinstance(services, Mapping) or not services:
        return None
    theory = _has_theory(summary)
    columns = ["service", "arrivals", "completed", "dropped", "utilization mean", "peak"]
    columns += ["theory: utilization", "method"] if theory else []
    rows = []
    for name, entry in services.items():
        dropped = dig(entry, "dropped")
        row = [
            Cell(str(name), css="name"),
            Cell(fmt_count(dig(entry, "arrivals"))),
            Cell(fmt_count(dig(entry, "completed"))),
            Cell(fmt_count(dropped) + _share(dropped, dig(entry, "arrivals"))),
            Cell(fmt_pct(dig(entry, "utilization_mean")), _raw(dig(entry, "utilization_mean"))),
            Cell(fmt_pct(dig(entry, "utilization_peak")), _raw(dig(entry, "utilization_peak"))),
        ]
        if theory:
            station = _theory(summary, name)
            row += [
                Cell(fmt_pct(dig(station, "utilization")), _raw(dig(station, "utilization"))),
                Cell(_method(station)),
            ]
        rows.append(tuple(row))
    return Table(tuple(columns), tuple(rows))


def _verdict(predicted: object, ci: object) -> Cell:
    """A prediction as a cell that says whether it lies inside the simulated 95% CI."""
    text = fmt_ms(predicted)
    if not is_number(predicted):
        return Cell(text)
    bounds = ci_bounds(ci)
    if bounds is None:
        return Cell(text, _raw(predicted, " ms"))
    if bounds[0] <= predicted <= bounds[1]:
        return Cell(f"{text} \u2713", f"{predicted!r} ms: inside the 95% CI", "agree")
    return Cell(f"{text} \u2717", f"{predicted!r} ms: outside the 95% CI", "differ")


def _mean_ci(entry: object, block: str) -> Cell:
    """A mean with its 95% CI on a second line."""
    mean, ci = dig(entry, block, "mean"), dig(entry, block, "ci95")
    sub = f"({fmt_ms_ci(ci)})" if ci_bounds(ci) is not None else ""
    return Cell(fmt_ms(mean), _raw(mean, " ms"), sub=sub)


def latency_table(summary: Mapping[str, Any]) -> Table | None:
    """Per service: mean wait and latency with their 95% CIs, theory beside them, percentiles."""
    services = summary.get("services")
    if not isinstance(services, Mapping) or not services:
        return None
    theory = _has_theory(summary)
    columns = ["service", "wait mean (95% CI)"] + (["theory: wait"] if theory else [])
    columns += ["latency mean (95% CI)"] + (["theory: latency"] if theory else [])
    columns += ["p50", "p95", "p99", "p99.9"]
    rows = []
    for name, entry in services.items():
        station = _theory(summary, name)
        row = [Cell(str(name), css="name")]
        for block in ("wait_ms", "latency_ms"):
            row.append(_mean_ci(entry, block))
            if theory:
                row.append(_verdict(dig(station, f"{block}_mean"), dig(entry, block, "ci95")))
        row += [_ms(entry, "latency_ms", key) for key in ("p50", "p95", "p99", "p999")]
        rows.append(tuple(row))
    note = "" if summary.get("replications", 1) != 1 else "One replication: no confidence interval."
    if theory:
        note += (
            " \u2713 = the queueing-theory mean lies inside the simulated 95% CI;"
            " \u2717 = it lies outside."
        )
    return Table(tuple(columns), tuple(rows), note.strip())


def requests_table(summary: Mapping[str, Any]) -> Table | None:
    """End-to-end latency and errors per request type (or per source of a bare network)."""
    requests = summary.get("requests")
    if not isinstance(requests, Mapping) or not requests:
        return None
    columns = (
        "request",
        "completed",
        "errors (share of all)",
        "mean",
        "p50",
        "p95",
        "p99",
        "p99.9",
    )
    rows = []
    for name, entry in requests.items():
        errors, count = dig(entry, "errors"), dig(entry, "count")
        attempted = errors + count if is_number(errors) and is_number(count) else None
        row = [
            Cell(str(name), css="name"),
            Cell(fmt_count(count)),
            Cell(fmt_count(errors) + _share(errors, attempted)),
        ]
        row += [_ms(entry, "latency_ms", k) for k in ("mean", "p50", "p95", "p99", "p999")]
        rows.append(tuple(row))
    return Table(columns, tuple(rows))


def _plain(value: object) -> str:
    if is_number(value):
        return f"{value:,.4g}"
    return MISSING if value is None else str(value)


def _slo_value(slo: object, key: str) -> str:
    value = dig(slo, key)
    metric = dig(slo, "metric")
    return fmt_metric(metric, value) if metric is not None else _plain(value)


def slo_table(summary: Mapping[str, Any]) -> Table | None:
    """Each SLO with its target, the observed value and PASS or FAIL."""
    slos = summary.get("slo")
    if not isinstance(slos, Sequence) or isinstance(slos, str) or not slos:
        return None
    rows = []
    for slo in slos:
        passed = dig(slo, "passed")
        verdict = Cell("PASS", css="pass") if passed else Cell("FAIL", css="fail")
        rows.append(
            (
                Cell(_plain(dig(slo, "name")), css="name"),
                Cell(_slo_value(slo, "target")),
                Cell(_slo_value(slo, "observed"), _raw(dig(slo, "observed"))),
                verdict,
            )
        )
    return Table(("SLO", "target", "observed", "verdict"), tuple(rows))


def experience_facts(summary: Mapping[str, Any]) -> list[tuple[str, str]] | None:
    """What riders felt: leaderboard lag, join failures, degraded video, the music's tempo."""
    experience = summary.get("experience")
    if not isinstance(experience, Mapping):
        return None
    facts = []
    lag = experience.get("leaderboard_lag_s")
    for key in ("p50", "p99", "max"):
        if is_number(dig(lag, key)):
            facts.append((f"leaderboard lag {key}", fmt_duration_s(dig(lag, key))))
    if "join_failures" in experience:
        facts.append(("join failures", fmt_count(experience["join_failures"])))
    if "video_degraded_fraction" in experience:
        facts.append(("video degraded", fmt_pct(experience["video_degraded_fraction"])))
    return facts + tempo_facts(summary)



def cost_table(summary: Mapping[str, Any]) -> tuple[list[tuple[str, str]], Table] | None:
    """Monthly total and per-user cost, and the breakdown by component."""
    cost = summary.get("cost")
    if not isinstance(cost, Mapping):
        return None
    facts = [
        ("monthly cost", fmt_usd(cost.get("monthly_usd"))),
        ("cost per user per month", fmt_usd(cost.get("per_user_month_usd"))),
    ]
    items = cost_items(cost)
    total = sum(amount for _, amount in items)
    rows = tuple(
        (Cell(name, css="name"), Cell(fmt_usd(usd), _raw(usd, " USD")), Cell(_pct_of(usd, total)))
        for name, usd in items
    )
    return facts, Table(("component", "monthly", "share"), rows)


def incident_table(shown: Sequence[Shown]) -> Table | None:
    """The incidents within the run: clipped to it, with their length within the run."""
    if not shown:
        return None
    rows = tuple(
        (Cell(name, css="name"), Cell(start), Cell(end), Cell(length), Cell(drawn))
        for name, start, end, length, drawn in incident_rows(shown)
    )
    return Table(("incident", "starts", "ends", "lasts in the run", "on the plots"), rows)
