"""Capacity search: the largest load (riders, or a load factor on a bare network) that meets
every SLO, by bracketing then bisection, with the final point confirmed by replications.

Pure orchestration around an `evaluate(load, replications) -> summary` function that the CLI
supplies; every probe is kept as a flat record for the latency-versus-load plot.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from twin.results.slo import OPS, Slo, read_metric, verdicts

__all__ = ["CapacityResult", "Probe", "binding_slo", "capacity_document", "distinct", "search"]

Evaluate = Callable[[float, int], dict[str, Any]]


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


def _probe(evaluate: Evaluate, slos: Sequence[Slo], load: float, reps: int) -> Probe:
    summary = evaluate(load, reps)
    results = verdicts(slos, summary)
    return Probe(
        load=load,
        passed=all(v["passed"] for v in results),
        observed={v["metric"]: read_metric(summary, v["metric"])[0] for v in results},
        replications=reps,
    )


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
) -> CapacityResult:
    """Bracket the SLO boundary from `start` by doubling or halving, then bisect to `rel_tol`.
    No load past `ceiling` (an input limit) is probed: if it passes there, that is the answer."""
    snap = (lambda x: float(max(1, round(x)))) if integer else float
    probes: list[Probe] = []

    def run(load: float, reps: int = 1) -> Probe:
        probe = _probe(evaluate, slos, snap(load), reps)
        probes.append(probe)
        return probe

    floor = 1.0 if integer else start * 1e-3
    good, bad = _bracket(run, snap(min(start, ceiling)), max_probes, floor, ceiling)
    if good is None:
        return CapacityResult(max_load=None, confirmed=False, probes=probes)
    while bad is not None and (bad - good) > rel_tol * bad and len(probes) < max_probes:
        mid = snap((good + bad) / 2)
        if mid in (good, bad):
            break
        if run(mid).passed:
            good = mid
        else:
            bad = mid
    return _confirm(run, good, snap, confirm_replications, probes)


def _bracket(
    run: Callable[[float], Probe], start: float, max_probes: int, floor: float, ceiling: float
) -> tuple[float | None, float | None]:
    """A load that passes and one above it that fails (None where none was found)."""
    first = run(start)
    step = 2.0 if first.passed else 0.5
    good, bad = (start, None) if first.passed else (None, start)
    load = start
    for _ in range(max_probes // 2):
        if load >= ceiling and step > 1:
            break
        load = min(load * step, ceiling)
        if load < floor:
            break
        probe = run(load)
        if probe.passed:
            good = probe.load if good is None else max(good, probe.load)
            if bad is not None:
                break
        else:
            bad = probe.load if bad is None else min(bad, probe.load)
            if good is not None:
                break
    return good, bad


def _confirm(
    run: Callable[..., Probe],
    good: float,
    snap: Callable[[float], float],
    reps: int,
    probes: list[Probe],
) -> CapacityResult:
    """Re-run the answer with replications; step down 5 % at a time until it holds."""
    load = good
    for _ in range(5):
        if run(load, reps).passed:
            return CapacityResult(max_load=load, confirmed=True, probes=probes)
        load = snap(load * 0.95)
    return CapacityResult(max_load=good, confirmed=False, probes=probes)


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
