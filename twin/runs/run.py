"""Run a scenario: the one way `twin run`, `twin capacity`, drills and tests simulate one.

The scenario file is read once (`twin.config.loader.load`, which also reads its architecture);
a platform is built (riders, sessions) and compiled; the engine is chosen in
`twin.runs.engines`; and the result comes back complete: cost and incidents for a platform,
queueing theory for a bare network, the scenario's SLO verdicts for both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from twin.config.limits import check_replications, check_seed
from twin.config.loader import Loaded, load
from twin.config.network import NetworkScenario
from twin.config.platform import PlatformScenario
from twin.config.scaling import check_scale
from twin.errors import InputError
from twin.results.summary import Summary
from twin.runs.compile import PlatformBuild, build_platform, build_scaled
from twin.runs.complete import add_analytic, add_slo_verdicts, complete_platform
from twin.runs.engines import check_engine, simulate
from twin.runs.units import Units

__all__ = ["Run", "run_file", "run_loaded"]

Progress = Callable[[float, float], None]


@dataclass(frozen=True)
class Run:
    """A finished run: its input as loaded, the complete summary and the time series."""

    loaded: Loaded
    summary: dict[str, Any]
    timeseries: pd.DataFrame
    build: PlatformBuild | None = None

    @property
    def name(self) -> str:
        return str(self.loaded.scenario.name)


def run_file(
    path: str | Path,
    overrides: Iterable[str] = (),
    *,
    engine: str,
    seed: int | None = None,
    replications: int = 1,
    precision: float | None = None,
    progress: Progress | None = None,
    scale: float | None = None,
    units: Units | None = None,
) -> Run:
    """Load the scenario at `path` (with `--set` overrides) and run it on `engine`."""
    check_engine(engine)
    loaded = load(path, overrides)
    return run_loaded(
        loaded, engine=engine, seed=seed, replications=replications, precision=precision,
        progress=progress, scale=scale, units=units,
    )  # fmt: skip


def run_loaded(
    loaded: Loaded,
    *,
    engine: str,
    seed: int | None = None,
    replications: int = 1,
    precision: float | None = None,
    progress: Progress | None = None,
    scale: float | None = None,
    units: Units | None = None,
) -> Run:
    """Run a loaded scenario on `engine` and complete its summary; with `scale`, a platform
    runs at that fraction of its riders and capacities (`twin.config.scaling`); with a
    parallel `units`, its replications run as units of work (`twin.runs.units`)."""
    scenario = loaded.scenario
    seed = check_seed(int(scenario.seed if seed is None else seed))
    check_replications(replications)
    build = None
    if isinstance(scenario, PlatformScenario):
        if precision is not None:
            raise InputError("--precision", None, "applies to bare networks on the exact engine")
        assert loaded.architecture is not None  # the loader reads a platform's architecture
        architecture = loaded.architecture
        if scale is None:
            build = build_platform(scenario, architecture)
        else:
            build = build_scaled(scenario, architecture, scale)
            scenario = build.scenario
        model: Any = build.compiled
    else:
        if scale is not None:
            raise InputError("--scale", None, "applies to platform scenarios (kind: platform)")
        model = scenario
    result = simulate(
        model, engine=engine, name=scenario.name, seed=seed, replications=replications,
        precision=precision, progress=progress,
        fanout=units.map if units is not None and units.parallel else None,
    )  # fmt: skip
    summary, timeseries = dict(result.summary), result.timeseries
    if build is not None:
        summary, timeseries = complete_platform(summary, timeseries, build)
    if isinstance(scenario, NetworkScenario):
        add_analytic(scenario, summary)
    if scale is not None:
        summary["scale"] = check_scale(scale)
    add_slo_verdicts(scenario, summary, str(loaded.path))
    typed = Summary.from_mapping(summary).to_mapping()  # the contract's keys and types, or fail
    return Run(loaded=loaded, summary=typed, timeseries=timeseries, build=build)
