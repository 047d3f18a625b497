"""The engines' agreement, figure by figure: pure calculation from summaries to rows.

For one case, the exact engine's replications give each figure's mean and its Student-t 95 %
half-width; the fluid engine's runs (it is deterministic but for its probe requests) give its
mean. A row passes when the fluid figure is within the issue's target of the exact mean:

| figure | target |
|---|---|
| request mean latency (end to end, per type) | 10 % |
| request p99 latency (end to end, per type) | 20 % |
| service utilization (mean over the run) | 10 %, or 0.02 absolute (a fraction near zero) |
| leaderboard lag p99 | 15 % |
| degraded-video fraction, sessions spoiled fraction | 15 %, or 0.02 absolute |
| failed joins | 15 %, or 0.02 of the exact engine's joins absolute |
| each SLO verdict | identical to the exact engine's (majority of its replications) |
| each SLO verdict at full scale (fluid) | identical to the exact engine's at the suite's scale |

The last kind checks the suite itself: a scaled scenario that no longer carries its incident
(a component rounded up to one server or shard, `twin.config.scaling`) would make the engines
agree on the wrong question, so the exact engine's verdicts at the suite's scale are set
against the fluid engine's at full scale.

The point estimates are compared, not intervals: a figure the exact engine cannot pin down
at the suite's scale shows as a wide `exact ±` and fails honestly rather than being excused.
A request type with fewer than `MIN_REQUESTS` requests per replication has no meaningful
p99; its rows are listed as not judged (`passed` None), never silently dropped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from scipy import stats

__all__ = ["MIN_REQUESTS", "TARGETS", "Row", "compare", "within"]

Summary = Mapping[str, Any]
MIN_REQUESTS = 100
# kind -> (relative tolerance, absolute tolerance or None)
TARGETS: dict[str, tuple[float, float | None]] = {
    "mean": (0.10, None),
    "p99": (0.20, None),
    "utilization": (0.10, 0.02),
    "lag": (0.15, None),
    "fraction": (0.15, 0.02),
    "joins": (0.15, 0.02),
}


@dataclass(frozen=True)
class Row:
    """One figure of one case on both engines."""

    case: str
    figure: str
    kind: str
    exact: float | str | None
    exact_ci: float | None
    fluid: float | str | None
    diff: float | None  # (fluid - exact) / exact; None for verdicts and missing figures
    target: str
    passed: bool | None  # None: not judged (see `note`)
    note: str = ""

    def to_mapping(self) -> dict[str, Any]:
        return asdict(self)


def within(kind: str, exact: float, fluid: float, scale_abs: float = 1.0) -> bool:
    """Whether `fluid` is within the target of `kind` around `exact` (`scale_abs` converts
    the absolute tolerance to the figure's unit, e.g. joins per failed-join fraction)."""
    rel, absolute = TARGETS[kind]
    gap = abs(fluid - exact)
    if gap <= rel * abs(exact):
        return True
    return absolute is not None and gap <= absolute * scale_abs


def _target_text(kind: str) -> str:
    rel, absolute = TARGETS[kind]
    text = f"{rel:.0%}"
    return text if absolute is None else f"{text} or {absolute:g} abs"


def _mean_ci(values: Sequence[float]) -> tuple[float, float | None]:
    mean = float(sum(values) / len(values))
    if len(values) < 2:
        return mean, None
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return mean, float(stats.t.ppf(0.975, len(values) - 1) * sd / math.sqrt(len(values)))


def _dig(summary: Summary, path: str) -> Any:
    node: Any = summary
    for part in path.split("."):
        if not isinstance(node, Mapping) or node.get(part) is None:
            return None
        node = node[part]
    return node


def _figure_row(
    case: str, figure: str, kind: str, exact: list[Summary], fluid: list[Summary],
    *, path: str, scale_abs: float = 1.0, note: str = "",
) -> Row:  # fmt: skip
    e_values = [_dig(s, path) for s in exact]
    f_values = [_dig(s, path) for s in fluid]
    target = _target_text(kind)
    if any(v is None for v in e_values) or any(v is None for v in f_values):
        missing = "exact" if any(v is None for v in e_values) else "fluid"
        e = None if missing == "exact" else _mean_ci(e_values)[0]
        f = None if missing == "fluid" else _mean_ci(f_values)[0]
        return Row(case, figure, kind, e, None, f, None, target, False, f"missing on {missing}")
    e, half = _mean_ci([float(v) for v in e_values])
    f = _mean_ci([float(v) for v in f_values])[0]
    diff = (f - e) / e if e else None
    return Row(case, figure, kind, e, half, f, diff, target, within(kind, e, f, scale_abs), note)


def _request_rows(case: str, exact: list[Summary], fluid: list[Summary]) -> list[Row]:
    rows = []
    for name in exact[0].get("requests", {}):
        count = sum(float(_dig(s, f"requests.{name}.count") or 0) for s in exact) / len(exact)
        for stat, kind in (("mean", "mean"), ("p99", "p99")):
            path = f"requests.{name}.latency_ms.{stat}"
            row = _figure_row(case, f"{name} {stat}", kind, exact, fluid, path=path)
            if count < MIN_REQUESTS:
                note = f"not judged: {count:.0f} requests per replication"
                row = Row(**{**row.to_mapping(), "passed": None, "note": note})
            rows.append(row)
    return rows


def _service_rows(case: str, exact: list[Summary], fluid: list[Summary]) -> list[Row]:
    return [
        _figure_row(
            case, f"{name} utilization", "utilization", exact, fluid,
            path=f"services.{name}.utilization_mean",
        )
        for name in exact[0].get("services", {})
    ]


def _experience_rows(case: str, exact: list[Summary], fluid: list[Summary]) -> list[Row]:
    joins = sum(float(_dig(s, "requests.join.count") or 0) for s in exact) / len(exact)
    return [
        _figure_row(case, "leaderboard lag p99", "lag", exact, fluid,
                    path="experience.leaderboard_lag_s.p99"),
        _figure_row(case, "video degraded fraction", "fraction", exact, fluid,
                    path="experience.video_degraded_fraction"),
        _figure_row(case, "failed joins", "joins", exact, fluid, path="experience.join_failures",
                    scale_abs=max(joins, 1.0)),
        _figure_row(case, "sessions spoiled fraction", "fraction", exact, fluid,
                    path="experience.sessions_spoiled_fraction"),
        *_tempo_rows(case, exact, fluid),
    ]  # fmt: skip


def _tempo_rows(case: str, exact: list[Summary], fluid: list[Summary]) -> list[Row]:
    """The music's tempo lag and silence, for the cases whose sessions play it."""
    if _dig(exact[0], "experience.tempo_lag_ms") is None:
        return []
    return [
        _figure_row(case, "tempo lag p99", "p99", exact, fluid,
                    path="experience.tempo_lag_ms.p99"),
        _figure_row(case, "audio dry fraction", "fraction", exact, fluid,
                    path="experience.audio_dry_fraction"),
    ]  # fmt: skip


def _verdict_rows(case: str, exact: list[Summary], fluid: list[Summary]) -> list[Row]:
    rows = []
    for i, slo in enumerate(exact[0].get("slo", [])):
        e_pass = [bool(s["slo"][i]["passed"]) for s in exact]
        f_pass = [bool(s["slo"][i]["passed"]) for s in fluid]
        e_major = sum(e_pass) * 2 > len(e_pass)
        notes = []
        if 0 < sum(e_pass) < len(e_pass):
            notes.append(f"exact split: {sum(e_pass)}/{len(e_pass)} pass")
        if 0 < sum(f_pass) < len(f_pass):
            notes.append(f"fluid split: {sum(f_pass)}/{len(f_pass)} pass")
        word = {True: "pass", False: "fail"}
        rows.append(Row(case, f"SLO: {slo['name']}", "verdict", word[e_major], None,
                        word[f_pass[0]], None, "identical", f_pass[0] == e_major,
                        "; ".join(notes)))  # fmt: skip
    return rows


def _scaling_rows(case: str, exact: list[Summary], full: Summary) -> list[Row]:
    rows = []
    for mine in _verdict_rows(case, exact, [full]):
        note = "; ".join(n for n in mine.note.split("; ") if n.startswith("exact"))
        figure = mine.figure.replace("SLO: ", "SLO at full scale (fluid): ")
        rows.append(Row(**{**mine.to_mapping(), "figure": figure, "kind": "scaling",
                           "note": note}))  # fmt: skip
    return rows


def compare(
    case: str, exact: list[Summary], fluid: list[Summary], full: Summary | None = None
) -> list[Row]:
    """Every row of `case`: requests, services, experience, verdicts, and with `full` (the
    fluid engine at full scale) the verdicts at full scale (see the module)."""
    if not exact or not fluid:
        raise ValueError(f"{case}: need at least one run on each engine")
    rows = (
        _request_rows(case, exact, fluid)
        + _service_rows(case, exact, fluid)
        + _experience_rows(case, exact, fluid)
        + _verdict_rows(case, exact, fluid)
    )
    return rows if full is None else rows + _scaling_rows(case, exact, full)
