"""A design sweep: one scenario run at every point of a grid of `--set` values.

`--grid architecture=phase2-microservices,phase3-global --grid riders=1e5,1e6` is two axes
and four points (`twin.config.grid` reads them). The whole grid is checked before anything
runs: its shape and size, then every point loaded and validated (an unknown key or a bad
value is refused naming `--grid`). Then the points run as units of work (`twin.runs.units`),
each with the scenario's seed and its own replications, so where they run does not change
what they give.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from itertools import product
from pathlib import Path
from typing import Any

from twin.config.builtin import find_scenario
from twin.config.grid import Axis, override, parse_grid
from twin.config.limits import check_replications
from twin.config.loader import Loaded, load, read_yaml
from twin.errors import InputError
from twin.results.slo import Slo, verdicts
from twin.results.sweep import SweepPoint
from twin.runs.engines import check_engine
from twin.runs.run import run_loaded
from twin.runs.units import Done, Units

__all__ = ["Sweep", "plan_sweep", "run_point", "run_sweep"]


@dataclass(frozen=True)
class Sweep:
    """A checked grid: its axes, and every point loaded and validated, in grid order."""

    path: Path
    axes: tuple[Axis, ...]
    points: tuple[SweepPoint, ...]
    loaded: tuple[Loaded, ...]

    @property
    def name(self) -> str:
        return str(self.loaded[0].scenario.name)


def plan_sweep(path: str | Path, overrides: Sequence[str], grid: Sequence[str]) -> Sweep:
    """Check the grid and load every point (the scenario file is read once)."""
    axes = parse_grid(grid)
    path = find_scenario(path)
    data = read_yaml(path)
    points, loaded = [], []
    for index, values in enumerate(product(*(a.values for a in axes))):
        point = SweepPoint(
            index=index, values=dict(zip((a.label for a in axes), values, strict=True))
        )
        sets = [override(a.key, v) for a, v in zip(axes, values, strict=True)]
        at = ", ".join(f"{k}={v}" for k, v in point.values.items())
        loaded.append(_load_point(path, [*overrides, *sets], data, at))
        points.append(point)
    return Sweep(path=path, axes=axes, points=tuple(points), loaded=tuple(loaded))


def _load_point(path: Path, overrides: list[str], data: dict[str, Any], at: str) -> Loaded:
    """A point loaded and validated; its error says which point (and `--grid` for a key no
    scenario has)."""
    try:
        return load(path, overrides, data=data)
    except InputError as exc:
        source = "--grid" if exc.source == "--set" else exc.source
        raise InputError(source, exc.field, f"{exc.message} (at the grid point {at})") from None


def run_point(engine: str, seed: int | None, replications: int, loaded: Loaded) -> dict[str, Any]:
    """One point as a unit of work: its summary (replications run in this process)."""
    return run_loaded(loaded, engine=engine, seed=seed, replications=replications).summary


def run_sweep(
    sweep: Sweep, units: Units, *, engine: str, seed: int | None = None, replications: int = 1,
    slos: Sequence[Slo] = (), done: Done | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Every point's summary, in grid order, run on `units`; the `slos` (`--slo`) are judged
    beside the scenario's own."""
    check_engine(engine)
    check_replications(replications)
    unit = partial(run_point, engine, seed, replications)
    summaries = units.map(unit, sweep.loaded, done)
    for summary in summaries:
        judged = {v["name"] for v in summary.get("slo", [])}
        extra = verdicts([s for s in slos if s.name not in judged], summary)
        if extra:
            summary["slo"] = [*summary.get("slo", []), *extra]
    return summaries
