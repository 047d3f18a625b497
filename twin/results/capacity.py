"""Capacity search: the largest load (riders, or a load factor on a bare network) that meets
every SLO, by bracketing then bisection, with the final point confirmed by replications.

Pure orchestration around an `evaluate(load, replications) -> summary` function that the CLI
supplies (or `evaluate_many`, several probes at once on several processes); every probe is
kept as a flat record for the latency-versus-load plot. The search is written as steps (a
generator sent each verdict) so that it can be run ahead speculatively without changing its
path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from twin.results.slo import OPS, Slo, read_metric, verdicts
from twin.results.speculate import drive

__all__ = [
    "CapacityResult",
    "Probe",
    "Request",
    "binding_slo",
    "capacity_document",
    "distinct",
    "search",
]

Evaluate = Callable[[float, int], dict[str, Any]]
EvaluateMany = Callable[[list["Request"]], list[dict[str, Any]]]


@dataclass(frozen=True)
class Probe:
    """One evaluated load: did it meet every SLO, and what each SLO metric read (None when the
    summary had no finite number there)."""

    load: float
    passed: bool
    observed: dict[str, float | None]
    replications: int = 1


@dataclass
class CapacityResult:
    """The answer: `max_load` meets every SLO (None if even the smallest load does not)."""

    max_load: float | None
    confirmed: bool
    probes: list[Probe] = field(default_factory=list)


def _probe(slos: Sequence[Slo], request: Request, summary: dict[str, Any]) -> Probe:
    results = verdicts(slos, summary)
    return Probe(
        load=request.load,
        passed=all(v["passed"] for v in results),
        observed={v["metric"]: read_metric(summary, v["metric"])[0] for v in results},
        replications=request.replications,
    )


class Request(NamedTuple):
    """One probe the search asks for: a load and its replications."""

    load: float
    replications: int = 1


@dataclass(frozen=True)
class _Plan:
    """What the search steps take (see `search`)."""

    start: float
    integer: bool
    rel_tol: float
    max_probes: int
    confirm: int
    ceiling: float

    def snap(self, load: float) -> float:
        return float(max(1, round(load))) if self.integer else float(load)


Steps = Generator[Request, bool, tuple[float | None, bool]]


def _steps(plan: _Plan) -> Steps:
    """The search as steps: yields each probe, is sent whether it passed, returns
    (max_load, confirmed)."""
    floor = 1.0 if plan.integer else plan.start * 1e-3
    first = plan.snap(min(plan.start, plan.ceiling))
    good, bad, probes = yield from _bracket(plan, first, floor)
    if good is None:
        return None, False
    while bad is not None and (bad - good) > plan.rel_tol * bad and probes < plan.max_probes:
        mid = plan.snap((good + bad) / 2)
        if mid in (good, bad):
            break
        probes += 1
        if (yield Request(mid)):
            good = mid
        else:
            bad = mid
    return (yield from _confirm(plan, good))


def search(
    evaluate: Evaluate,
    slos: Sequence[Slo],
    *,
    start: float,
    integer: bool = True,
    rel_tol: float = 0.02,
    max_probes: int = 24,
    confirm_replications: int = 3,
    ceiling: float = math.inf,
    evaluate_many: EvaluateMany | None = None,
    width: int = 1,
) -> CapacityResult:
    """Bracket the SLO boundary from `start` by doubling or halving, then bisect to `rel_tol`.
    No load past `ceiling` (an input limit) is probed: if it passes there, that is the answer.

    With `evaluate_many` (requests to summaries, in order) the search probes up to `width`
    loads at once, those it may ask for next (`twin.results.speculate`): the answer and the
    probes it reports are the same as one at a time."""
    plan = _Plan(start, integer, rel_tol, max_probes, confirm_replications, ceiling)
    many = evaluate_many or (lambda batch: [evaluate(r.load, r.replications) for r in batch])

    def probes(batch: list[Request]) -> list[Probe]:
        return [_probe(slos, r, s) for r, s in zip(batch, many(batch), strict=True)]

    (best, confirmed), path = drive(
        lambda: _steps(plan),
        probes,
        lambda _r, probe: probe.passed,
        width=width,
        cost=lambda r: r.load * r.replications,  # a run's work grows with its load
    )
    return CapacityResult(max_load=best, confirmed=confirmed, probes=[p for _, p in path])


def _bracket(
    plan: _Plan, start: float, floor: float
) -> Generator[Request, bool, tuple[float | None, float | None, int]]:
    """A load that passes and one above it that fails (None where none was found), and the
    probes it took."""
    probes = 1
    first = yield Request(start)
    step = 2.0 if first else 0.5
    good, bad = (start, None) if first else (None, start)
    load = start
    for _ in range(plan.max_probes // 2):
        if load >= plan.ceiling and step > 1:
            break
        load = min(load * step, plan.ceiling)
        if load < floor:
            break
        probed = plan.snap(load)
        probes += 1
        if (yield Request(probed)):
            good = probed if good is None else max(good, probed)
            if bad is not None:
                break
        else:
            bad = probed if bad is None else min(bad, probed)
            if good is not None:
                break
    return good, bad, probes


def _confirm(plan: _Plan, good: float) -> Generator[Request, bool, tuple[float | None, bool]]:
    """Re-run the answer with replications; step down 5 % at a time until it holds."""
    load = good
    for _ in range(5):
        if (yield Request(load, plan.confirm)):
            return load, True
        load = plan.snap(load * 0.95)
    return good, False


def distinct(slos: Iterable[Slo]) -> list[Slo]:
    """The SLOs without repeats (the same metric, comparison and target), first name kept."""
    seen: dict[tuple[str, str, float], Slo] = {}
    for slo in slos:
        seen.setdefault((slo.metric, slo.op, slo.target), slo)
    return list(seen.values())


def _excess(slo: Slo, observed: float | None) -> float:
    """How far past its target an SLO is (relative); infinite when there is no value."""
    if observed is None or observed != observed:
        return float("inf")
    if OPS[slo.op](observed, slo.target):
        return -1.0
    return abs(observed - slo.target) / (abs(slo.target) or 1.0)


def binding_slo(result: CapacityResult, slos: Sequence[Slo]) -> dict[str, Any] | None:
    """The SLO that bound the answer: the one furthest past its target at the nearest failing
    load above the answer, with its value there (`above`) and at the answer (`below`)."""
    above_load = result.max_load if result.max_load is not None else -float("inf")
    failing = [p for p in result.probes if not p.passed and p.load > above_load]
    if not failing:
        return None
    above = min(failing, key=lambda p: p.load)
    slo = max(slos, key=lambda s: _excess(s, above.observed.get(s.metric)))
    at_answer = [p for p in result.probes if p.load == result.max_load]
    below = max(at_answer, key=lambda p: p.replications) if at_answer else None
    return {
        "name": slo.name,
        "metric": slo.metric,
        "op": slo.op,
        "target": slo.target,
        "below": None if below is None else _point(below, slo),
        "above": _point(above, slo),
    }


def _point(probe: Probe, slo: Slo) -> dict[str, Any]:
    return {"load": probe.load, "observed": probe.observed.get(slo.metric)}


def capacity_document(
    name: str, engine: str, knob: str, current: float, result: CapacityResult,
    slos: Sequence[Slo],
) -> dict[str, Any]:  # fmt: skip
    """`capacity.json`: the answer, its headroom over the scenario's load, and every probe."""
    best = result.max_load
    return {
        "scenario": name,
        "engine": engine,
        "knob": knob,
        f"max_{knob}": None if best is None else (int(best) if knob == "riders" else best),
        f"scenario_{knob}": int(current) if knob == "riders" else current,
        "headroom": None if best is None else round(best / current - 1.0, 4),
        "confirmed": result.confirmed,
        "slo": [s.name for s in slos],
        "binding_slo": binding_slo(result, slos),
        "probes": [
            {
                "load": p.load,
                "passed": p.passed,
                "replications": p.replications,
                "observed": p.observed,
            }
            for p in result.probes
        ],
    }
