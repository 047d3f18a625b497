"""The vectorized population: shares, compact arrays, preferences that fit the device."""

from __future__ import annotations

import time

import numpy as np
import pytest

from twin.config.vocabulary import DEVICES, REGIONS
from twin.platform.catalog import CLASS_TYPES, EQUIPMENT
from twin.platform.population import (
    ZONES,
    build_population,
    concatenate,
    device_mix,
)


def _within_binomial(observed: np.ndarray, p: np.ndarray, n: int) -> None:
    sd = np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(observed - p) <= 5 * sd + 1e-12), (observed, p)


def test_region_and_device_shares_match_the_table(population):
    n = len(population)
    _within_binomial(
        population.counts("region", len(REGIONS)) / n, np.array([r.share for r in REGIONS]), n
    )
    _within_binomial(population.counts("device", len(DEVICES)) / n, device_mix(None), n)


def test_the_nine_markets_are_the_seeds(population):
    assert [r.code for r in REGIONS] == ["US", "UK", "AU", "DE", "AT", "CA", "MX", "SE", "ES"]
    assert sum(r.share for r in REGIONS) == pytest.approx(1.0)


def test_zone_belongs_to_the_riders_region(population):
    zone_region = np.array([z.region for z in ZONES])
    assert np.array_equal(zone_region[population.zone], population.region)


def test_app_riders_never_prefer_classes_that_need_equipment(population):
    app = population.preferred_types[population.device == DEVICES.index("app")]
    needs = {CLASS_TYPES.index(t) for t, dev in EQUIPMENT.items() if dev is not None}
    assert not np.isin(app, list(needs)).any()
    bike = population.preferred_types[population.device == DEVICES.index("bike")]
    assert np.mean(bike == CLASS_TYPES.index("cycling")) == pytest.approx(0.70, abs=0.01)


def test_attribute_ranges(population):
    assert population.preferred_hour.min() >= 0 and population.preferred_hour.max() < 24
    assert population.weekly_rides.mean() == pytest.approx(3.5, rel=0.02)
    assert population.weekly_rides.min() >= 0.25 and population.weekly_rides.max() <= 14
    assert np.median(population.bandwidth_mbps) == pytest.approx(40.0, rel=0.03)
    evening = np.mean((population.preferred_hour >= 17) & (population.preferred_hour < 20))
    night = np.mean(population.preferred_hour < 4)
    assert evening > 0.3 and night < 0.01


def test_arrays_are_compact_and_read_only(population):
    assert population.nbytes / len(population) <= 16  # 4 one-byte codes + 3 float32
    with pytest.raises(ValueError):
        population.device[0] = 2


def test_a_mix_and_markets_can_be_given(population):
    pop = build_population(
        50_000, np.random.default_rng(1), mix={"app": 1.0}, regions={"MX": 1, "SE": 1}
    )
    assert set(np.unique(pop.device)) == {DEVICES.index("app")}
    assert set(np.unique(pop.region)) == {6, 7}
    with pytest.raises(ValueError, match="unknown device 'rowing'"):
        build_population(10, np.random.default_rng(1), mix={"rowing": 1.0})


def test_same_seed_same_riders():
    a = build_population(10_000, np.random.default_rng(5))
    b = build_population(10_000, np.random.default_rng(5))
    assert all(
        np.array_equal(getattr(a, f), getattr(b, f)) for f in ("device", "zone", "preferred_hour")
    )


def test_concatenate_marks_segments():
    a = build_population(1_000, np.random.default_rng(1))
    b = build_population(500, np.random.default_rng(2), mix={"app": 1})
    both = concatenate([a, b])
    assert len(both) == 1_500
    assert np.bincount(both.segment).tolist() == [1_000, 500]
    assert np.array_equal(both.device[1_000:], b.device)
    assert len(both.subset(both.segment == 1)) == 500


def test_three_million_riders_build_in_bulk():
    start = time.perf_counter()
    pop = build_population(3_000_000, np.random.default_rng(3))
    elapsed = time.perf_counter() - start
    print(f"3,000,000 riders built in {elapsed:.2f} s, {pop.nbytes / 1e6:.0f} MB")
    assert len(pop) == 3_000_000
    assert pop.nbytes <= 48_000_000
