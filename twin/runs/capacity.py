"""Capacity: the largest load a scenario carries within its SLOs, each probe a run.

On a platform the load is riders; on a bare network, a factor on every source's rate. The
scenario file is read once; each probe validates it again with the probed load set. Probes
are units of work (`twin.runs.units`): with several processes or a cluster the search
evaluates at once the loads it may probe next, and follows the same path as one at a time.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from twin.config.builtin import find_scenario
from twin.config.limits import MAX_RATE_PER_S, MAX_RIDERS
from twin.config.loader import Loaded, load, read_yaml
from twin.config.network import NetworkScenario
from twin.errors import InputError
from twin.results.capacity import CapacityResult, Request, capacity_document, distinct, search
from twin.results.slo import Slo, from_mapping, parse_expression
from twin.results.summary_keys import check_key
from twin.runs.engines import check_engine
from twin.runs.run import run_loaded
from twin.runs.units import Units

__all__ = ["CapacityAnswer", "expected_probes", "find_capacity", "run_probe"]

Progress = Callable[[float, float], None]
_SERIAL_PROBES = 12  # a typical search: 3 to bracket, 7 to bisect to 2 %, 1 to confirm, 1 spare


@dataclass(frozen=True)
class CapacityAnswer:
    """The search's result, the SLOs it met, what it varied, and `capacity.json`."""

    result: CapacityResult
    slos: list[Slo]
    knob: str
    document: dict[str, Any]


def _knob(loaded: Loaded) -> tuple[str, float]:
    """What the search varies: riders on a platform, a load factor on a bare network."""
    riders = getattr(getattr(loaded.scenario, "population", None), "riders", None)
    return ("riders", float(riders)) if riders is not None else ("load_factor", 1.0)


def _ceiling(loaded: Loaded) -> float:
    """The most load the input limits allow: MAX_RIDERS, or the factor that takes the
    busiest source to MAX_RATE_PER_S."""
    if not isinstance(loaded.scenario, NetworkScenario):
        return float(MAX_RIDERS)
    peak = max(src.rate_per_s.peak for src in loaded.scenario.network.sources)
    return MAX_RATE_PER_S / peak if peak > 0 else math.inf


def _scaled_sources(scenario: Any, factor: float) -> list[str]:
    overrides = []
    for i, src in enumerate(scenario.network.sources):
        points = [[t, r * factor] for t, r in src.rate_per_s.points]
        overrides.append(f"network.sources.{i}.rate_per_s={json.dumps(points)}")
    return overrides


def _slos(loaded: Loaded, expressions: Sequence[str], *, only: bool) -> list[Slo]:
    """The `--slo` expressions, then (unless `only`) the scenario's own `slo:` block, each
    distinct SLO once. Every key must name a number a summary can hold."""
    own = [] if only else getattr(loaded.scenario, "slo", []) or []
    given = [parse_expression(s) for s in expressions]
    for slo in given:
        check_key(slo.metric, source="--slo")
    slos = distinct(
        given
        + [
            e if not isinstance(e, dict) else from_mapping(e, source=str(loaded.path), index=i)
            for i, e in enumerate(own)
        ]
    )
    if not slos:
        hint = "give --slo" if only else "give --slo or an slo: block"
        raise InputError(str(loaded.path), "slo", f"nothing to meet: {hint}")
    return slos


def run_probe(engine: str, seed: int | None, probe: tuple[Loaded, int]) -> dict[str, Any]:
    """One probe as a unit of work: the scenario at the probed load, its summary."""
    loaded, replications = probe
    return run_loaded(loaded, engine=engine, seed=seed, replications=replications).summary


def expected_probes(width: int) -> float:
    """About how many probes a search evaluates probing `width` at once (for an ETA)."""
    return _SERIAL_PROBES * width / math.log2(width + 1)


def find_capacity(
    path: Path, overrides: Sequence[str], expressions: Sequence[str], *, engine: str,
    seed: int | None = None, confirm: int = 3, only: bool = False, units: Units | None = None,
    progress: Progress | None = None,
) -> CapacityAnswer:  # fmt: skip
    """Bisect the load of the scenario at `path` to the largest that meets every SLO (with
    `only`, the `expressions` alone, not the scenario's own `slo:` block), probing on
    `units` (one at a time without)."""
    check_engine(engine)
    path = find_scenario(path)
    data = read_yaml(path)
    base = load(path, overrides, data=data)
    slos = _slos(base, expressions, only=only)
    knob, current = _knob(base)
    units = units or Units()

    def probe(value: float) -> Loaded:
        extra = (
            [f"population.riders={int(value)}"]
            if knob == "riders"
            else _scaled_sources(base.scenario, value)
        )
        return load(path, [*overrides, *extra], data=data)

    done = [0]

    def evaluate_many(batch: list[Request]) -> list[dict[str, Any]]:
        work = [(probe(r.load), r.replications) for r in batch]
        summaries = units.map(partial(run_probe, engine, seed), work)
        done[0] += len(batch)
        if progress is not None:
            progress(done[0], max(expected_probes(units.jobs), done[0] + 1))
        return summaries

    result = search(
        lambda value, reps: evaluate_many([Request(value, reps)])[0], slos, start=current,
        integer=knob == "riders", confirm_replications=confirm, ceiling=_ceiling(base),
        evaluate_many=evaluate_many, width=units.jobs,
    )  # fmt: skip
    document = capacity_document(base.scenario.name, engine, knob, current, result, slos)
    return CapacityAnswer(result=result, slos=slos, knob=knob, document=document)
