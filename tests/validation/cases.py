"""The validation suite's cases: every incident scenario and its fixed variant, each at a scale
the exact engine rides rider by rider in about a minute per replication on one core.

The scales follow each scenario's work (station visits, `twin.runs.engines`, and measured
wall time): the New Year surge is 50x an evening, so it runs at 3e-4 (900 riders); an
ordinary daily peak at 2.5e-3 (7,500 riders). Where writes meet a database's write capacity
the scale must leave that capacity many writes a second: the exact engine's gate is a token
bucket (`twin.sim.exact.gate`) that Poisson bursts overrun when the scaled capacity is a few
writes a second (the surge's fix at 3e-4: ~10 writes/s at 77 % load, and one replication in
five met a minute of waits up to 500 ms, workout p99 106 +-260 ms over five), where the fluid
engine, which drains a tick's worth, sees none; so the surge's fix runs at 1e-3 and the
broadcast failure, whose feedback writes were as few, at 3e-3. The IoT overload runs at 5e-3
(15,000 riders, about two minutes a replication): its backlog is convex in a load that sits
just past the shards' limit, and at 5e-4 (~45 riders at the peak) the exact engine's bursts
of riders built 2.7x the fluid engine's lag. Both engines run the same scaled scenario, so
agreement is judged on identical inputs. covid-growth is six weeks of minute ticks; it is
cut to the evening that carries its incident: the last week's Thursday, 17:00-21:00 New
York, with the riders at the end of the growth (300,000 x 10 = 3,000,000, growth removed),
at 5 s ticks.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CASES", "COVID_WINDOW", "Case", "case_named"]

# The last evening of covid-growth's six weeks, at the riders the growth ends with.
COVID_WINDOW = (
    "start=2020-04-16T17:00:00",
    "duration_s=14400",
    "population.riders=3000000",
    "demand.growth=null",
    "tick_s=5",
)


@dataclass(frozen=True)
class Case:
    """One scenario at one scale, with the `--set` overrides it runs under."""

    scenario: str
    scale: float
    sets: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.scenario


def _pair(scenario: str, scale: float, sets: tuple[str, ...] = ()) -> list[Case]:
    return [Case(scenario, scale, sets), Case(f"{scenario}-fixed", scale, sets)]


CASES: tuple[Case, ...] = (
    Case("new-year-surge", 3e-4),
    Case("new-year-surge-fixed", 1e-3),
    *_pair("daily-peak", 2.5e-3),
    *_pair("music-partner-launch", 8e-4),
    *_pair("iot-pipeline-overload", 5e-3),
    *_pair("live-broadcast-failure", 3e-3),
    *_pair("covid-growth", 5e-4, COVID_WINDOW),
)


def case_named(name: str) -> Case:
    """The case of scenario `name` (KeyError naming the known ones)."""
    for case in CASES:
        if case.name == name:
            return case
    raise KeyError(f"no validation case {name!r} (known: {', '.join(c.name for c in CASES)})")
