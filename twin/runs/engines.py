"""Which engine runs a model: the one place an engine is chosen.

A model is what an engine is given: a bare network (`NetworkScenario`) or a compiled platform
(`CompiledPlatform`). Both engines take both; only the exact engine adds replications until
a precision is met, and only on a bare network.

`auto` (the default) picks the exact engine when the work looks small enough to finish in
about a minute, the fluid engine otherwise: the work is the station visits the offered load
makes (every request at every hop it reaches, replications included), at the rate the exact
engine simulates them on one core (`EXACT_VISITS_PER_S`, measured with `make bench`'s
rider-session benchmark). Retries in overload add visits the estimate does not see.

Replications of the exact engine are units of work (`twin.runs.units`): given a parallel
runner they run at once, each on its own streams. The fluid engine's replications share one
solved flow and differ only in their probe requests (a small part of its time), so they stay
in the process that solved it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from twin.config.limits import AUTO_BUDGET_S, EXACT_VISITS_PER_S
from twin.config.network import NetworkScenario
from twin.errors import InputError
from twin.sim.exact import run_exact
from twin.sim.exact.platform import run_exact_platform
from twin.sim.fanout import Fanout
from twin.sim.fluid import run_fluid
from twin.sim.platform_input import CompiledPlatform
from twin.sim.result import RunResult

__all__ = [
    "AUTO_BUDGET_S",
    "ENGINES",
    "EXACT_VISITS_PER_S",
    "check_engine",
    "choose_engine",
    "estimated_visits",
    "simulate",
]

ENGINES = ("auto", "exact", "fluid")
Progress = Callable[[float, float], None]


def check_engine(engine: str) -> str:
    """`engine` if the twin has it, else an InputError naming `--engine`."""
    if engine not in ENGINES:
        raise InputError(
            "--engine", None, f"unknown engine {engine!r} (known: {', '.join(ENGINES)})"
        )
    return engine


def estimated_visits(model: NetworkScenario | CompiledPlatform) -> float:
    """Station visits the model's offered load makes in one replication."""
    if isinstance(model, CompiledPlatform):
        tick = float(model.tick_s)
        return float(sum(float(s.arrivals.sum()) * tick for s in model.services.values()))
    return model.expected_visits()


def choose_engine(
    model: NetworkScenario | CompiledPlatform, engine: str, replications: int = 1
) -> tuple[str, str | None]:
    """The engine to run and, for `auto`, why (None when the user named one)."""
    check_engine(engine)
    if engine != "auto":
        return engine, None
    visits = estimated_visits(model) * replications
    seconds = visits / EXACT_VISITS_PER_S
    if seconds <= AUTO_BUDGET_S:
        return "exact", f"auto: exact, {visits:,.0f} station visits take about {seconds:.0f} s"
    return "fluid", (
        f"auto: fluid, {visits:.3g} station visits would take about "
        f"{_duration(seconds)} request by request (--engine exact to insist)"
    )


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "forever"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def simulate(
    model: NetworkScenario | CompiledPlatform,
    *,
    engine: str,
    name: str,
    seed: int,
    replications: int = 1,
    precision: float | None = None,
    progress: Progress | None = None,
    fanout: Fanout | None = None,
) -> RunResult:
    """Run `model` on `engine` (`auto`: see the module); `name` and `seed` are the scenario's.
    With `auto` the summary says which engine ran and why (`engine_choice`); with `fanout`,
    the exact engine's replications run as units of work."""
    if precision is not None and engine == "auto":
        engine = "exact"  # only the exact engine adds replications to a precision
    engine, why = choose_engine(model, engine, replications)
    result = _simulate(model, engine, name, seed, replications, precision, progress, fanout)
    if why is not None:
        result.summary["engine_choice"] = why
    return result


def _simulate(
    model: NetworkScenario | CompiledPlatform,
    engine: str,
    name: str,
    seed: int,
    replications: int,
    precision: float | None,
    progress: Progress | None,
    fanout: Fanout | None = None,
) -> RunResult:
    if precision is not None and not (engine == "exact" and isinstance(model, NetworkScenario)):
        raise InputError(
            "--precision", None, "only the exact engine on a bare network adds replications"
        )
    if isinstance(model, NetworkScenario):
        if engine == "exact":
            return run_exact(
                model, seed=seed, replications=replications, precision=precision,
                progress=progress, fanout=fanout,
            )  # fmt: skip
        return run_fluid(model, seed=seed, replications=replications, progress=progress)
    if engine == "exact":
        return run_exact_platform(
            model, name=name, seed=seed, replications=replications, progress=progress,
            fanout=fanout,
        )  # fmt: skip
    return run_fluid(model, seed=seed, replications=replications, progress=progress)
