"""Riders as cohorts: the same laws as riders drawn one by one, at a size riders do not change."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from twin.config.platform import DemandSpec
from twin.config.vocabulary import DEVICES
from twin.platform.catalog import Catalog
from twin.platform.cohorts import (
    Cohorts,
    band_probabilities,
    draw_cohorts,
    hour_bin_probabilities,
    mean_weekly_rides,
    stack,
)
from twin.platform.demand import compute_demand
from twin.platform.population import Population, build_population
from twin.platform.workload import BAND_EDGES_MBPS, rendition_for, rendition_shares

EDGES = BAND_EDGES_MBPS.tolist()


def _cohorts(n: int, seed: int = 1, **kw: object) -> Cohorts:
    return draw_cohorts(n, np.random.default_rng(seed), band_edges_mbps=EDGES, **kw)  # type: ignore[arg-type]


def test_every_rider_is_counted_once_in_every_table() -> None:
    c = _cohorts(1_234_567)
    assert len(c) == 1_234_567
    assert c.by_type.sum() == c.by_band.sum() == 1_234_567
    per_hour_riders = c.rides_by_hour.sum() / mean_weekly_rides()
    assert per_hour_riders == pytest.approx(1_234_567, rel=1e-12)


def test_the_laws_are_the_per_rider_populations(population: Population) -> None:
    """Against 200,000 riders drawn one by one (tests/conftest.py): each table's shares within
    four standard errors of the per-rider draw."""
    n = len(population)

    def close(observed: np.ndarray, p: np.ndarray) -> None:
        se = np.sqrt(p * (1 - p) / n)
        # four standard errors, and a few riders' worth where a cell is too rare for that
        assert np.all(np.abs(observed - p) <= 4 * se + 3 / n), (observed, p)

    hours = np.minimum((population.preferred_hour * 4).astype(np.int64), 95)
    close(np.bincount(hours, minlength=96) / n, hour_bin_probabilities())
    bands = (population.bandwidth_mbps[:, None] >= BAND_EDGES_MBPS[None, :]).sum(axis=1)
    close(np.bincount(bands, minlength=len(EDGES) + 1) / n, band_probabilities(EDGES))
    # weekly rides: the clipped gamma's mean, computed, against the riders' average
    se = population.weekly_rides.std() / np.sqrt(n)
    assert abs(population.weekly_rides.mean() - mean_weekly_rides()) < 4 * se
    big = _cohorts(50_000_000)
    by_type = big.device_type_counts() / len(big)
    codes = population.device.astype(np.int64) * by_type.shape[1] + population.preferred_types
    close(np.bincount(codes, minlength=by_type.size).reshape(by_type.shape) / n, by_type)


def test_rendition_shares_agree_with_riders_one_by_one(population: Population) -> None:
    cohort = rendition_shares(_cohorts(50_000_000), "4k")
    riders = rendition_shares(population, "4k")
    assert cohort == pytest.approx(riders, abs=0.005)
    assert cohort.sum(axis=1) == pytest.approx(np.ones(len(DEVICES)))
    # a bike never shows 4K, whatever its bandwidth
    assert cohort[DEVICES.index("bike"), 2] == 0
    assert rendition_for(np.array([1e6]), 1)[0] == 1


def test_size_and_drawing_do_not_grow_with_riders() -> None:
    small, huge = _cohorts(30_000), _cohorts(100_000_000)
    assert small.nbytes == huge.nbytes < 100_000
    assert len(huge) == 100_000_000


def test_same_seed_same_cohorts_and_segments_stack_in_order() -> None:
    a, b = _cohorts(10_000, seed=3), _cohorts(10_000, seed=3)
    assert np.array_equal(a.by_type, b.by_type) and np.array_equal(a.by_band, b.by_band)
    app_only = _cohorts(500, seed=4, mix={"app": 1.0})
    both = stack([a, app_only])
    assert len(both) == 10_500 and both.by_type.shape[0] == 2
    assert both.by_type[1, :, DEVICES.index("bike")].sum() == 0


def test_demand_from_cohorts_is_demand_from_riders(catalog: Catalog) -> None:
    """Session starts over an evening hour from 2M riders one by one, and from cohorts."""
    start = datetime(2024, 1, 8, 23, tzinfo=UTC)  # 18:00 in New York
    kwargs = {"start_utc": start, "duration_s": 3600.0, "tick_s": 60.0}
    riders = build_population(2_000_000, np.random.default_rng(9))
    by_rider = compute_demand(riders, catalog, DemandSpec(), **kwargs)  # type: ignore[arg-type]
    by_cohort = compute_demand(_cohorts(2_000_000, seed=9), catalog, DemandSpec(), **kwargs)  # type: ignore[arg-type]
    assert by_cohort.starts.sum() == pytest.approx(by_rider.starts.sum(), rel=0.01)
    assert by_cohort.active.mean() == pytest.approx(by_rider.active.mean(), rel=0.01)
    assert np.allclose(by_cohort.riders, by_rider.riders)
