"""Who rides in a scenario: its riders (as cohorts for a run, or one record each) by
segment, and its class catalogue, from its seed.

Each piece draws from its own generator (`component_rng(seed, "population", segment)`), so
adding a segment or changing the catalogue size does not change the other draws.
"""

from __future__ import annotations

from twin.config.platform import PlatformScenario
from twin.platform.catalog import Catalog, build_catalog
from twin.platform.cohorts import Cohorts, draw_cohorts, stack
from twin.platform.population import Population, build_population, concatenate
from twin.platform.workload import BAND_EDGES_MBPS
from twin.rng import component_rng

__all__ = [
    "scenario_catalog",
    "scenario_cohorts",
    "scenario_population",
    "segment_scales",
]


def segment_riders(scenario: PlatformScenario) -> list[int]:
    """Riders per segment: shares of `population.riders`, rounded so they add up."""
    segments = scenario.population.resolved_segments()
    total = scenario.population.riders
    counts = [int(total * s.share) for s in segments]
    counts[-1] += total - sum(counts)
    return counts


def segment_scales(scenario: PlatformScenario) -> list[float]:
    """Each segment's multiplier on its riders' weekly rides."""
    return [s.weekly_rides_scale for s in scenario.population.resolved_segments()]


def scenario_population(scenario: PlatformScenario) -> Population:
    """The scenario's riders, segment by segment, with each rider's `segment` code."""
    parts = []
    for seg, n in zip(
        scenario.population.resolved_segments(), segment_riders(scenario), strict=True
    ):
        rng = component_rng(scenario.seed, "population", seg.name)
        parts.append(build_population(n, rng, mix=seg.mix, regions=seg.regions))
    return concatenate(parts)


def scenario_cohorts(scenario: PlatformScenario) -> Cohorts:
    """The scenario's riders as cohorts (what a run needs), segment by segment: their size
    and drawing time do not grow with riders."""
    parts = []
    for seg, n in zip(
        scenario.population.resolved_segments(), segment_riders(scenario), strict=True
    ):
        rng = component_rng(scenario.seed, "cohorts", seg.name)
        parts.append(
            draw_cohorts(
                n, rng, band_edges_mbps=BAND_EDGES_MBPS.tolist(), mix=seg.mix, regions=seg.regions
            )
        )
    return stack(parts)


def scenario_catalog(scenario: PlatformScenario) -> Catalog:
    """The class catalogue of the scenario's seed."""
    return build_catalog(component_rng(scenario.seed, "catalog"), names_now=False)
