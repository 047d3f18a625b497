"""Demand: class-start spikes, surge shape, local-evening peaks, conservation, the cap."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from twin.config.platform import DemandSpec, Growth, Surge
from twin.config.vocabulary import REGION_CODES
from twin.platform.demand import compute_demand, join_cdf, surge_multiplier
from twin.platform.population import build_population

MONDAY_23_UTC = datetime(2026, 11, 23, 23, 0, tzinfo=UTC)  # 18:00 in New York


def _surge(**kw) -> Surge:
    base = {"type": "surge", "multiplier": 11.0, "start_s": 100.0, "ramp_s": 100.0, "end_s": 400.0}
    return Surge.model_validate(base | kw)


def test_surge_ramps_holds_and_decays():
    s = _surge(decay_s=50.0)
    t = np.array([0.0, 100.0, 150.0, 200.0, 300.0, 400.0, 450.0, 500.0])
    m = surge_multiplier(t, s)
    assert m[:2].tolist() == [1.0, 1.0]
    assert m[2] == pytest.approx(6.0)  # half way up the ramp: 1 + 10 x 0.5
    assert m[3] == m[4] == m[5] == pytest.approx(11.0)
    assert m[6] == pytest.approx(1 + 10 * np.exp(-1))
    assert m[7] == pytest.approx(1 + 10 * np.exp(-2))


def test_surge_without_decay_stops_at_its_end():
    m = surge_multiplier(np.array([399.0, 401.0]), _surge(ramp_s=0.0))
    assert m.tolist() == [11.0, 1.0]


def test_join_cdf_is_a_distribution_centred_on_the_start():
    tau = np.linspace(-400, 1300, 3401)
    cdf = join_cdf(tau)
    assert cdf[0] == 0 and cdf[-1] == 1 and np.all(np.diff(cdf) >= 0)
    within_two_minutes = join_cdf(np.array([60.0]))[0] - join_cdf(np.array([-60.0]))[0]
    assert within_two_minutes > 0.6


@pytest.fixture(scope="module")
def evening(population, catalog):
    return compute_demand(
        population, catalog, DemandSpec(), start_utc=MONDAY_23_UTC, duration_s=3600
    )


def test_live_joins_spike_at_the_top_and_half_of_the_hour(evening):
    joins = evening.starts_live.sum(axis=0)
    minute = (evening.t // 60).astype(int) % 30
    near = (minute <= 1) | (minute >= 29)  # within a minute or so of :00 / :30
    assert joins[near].mean() > 10 * joins[~near].mean()
    for slot in (0.0, 1800.0):
        window = (evening.t > slot - 300) & (evening.t < slot + 300)
        peak_t = evening.t[window][np.argmax(joins[window])]
        assert abs(peak_t - (slot - 20)) <= 30  # the spike peaks ~20 s before the start


def test_live_class_riders_add_up_to_the_joins(evening, population):
    classes = [c for c in evening.live_classes if c.start_s == 1800.0]
    joined = evening.starts_live.sum(axis=0)[(evening.t >= 1500) & (evening.t < 2400)].sum()
    assert sum(c.riders for c in classes) == pytest.approx(joined, rel=0.05)
    top = max(c.riders for c in evening.live_classes)
    assert top > 0.003 * len(population)  # a popular class: 0.3%+ of all riders at once


def test_flows_are_consistent(evening):
    assert np.all(evening.active >= 0) and np.all(evening.starts >= 0) and np.all(evening.ends >= 0)
    # Little's law on the on-demand side: riders = start rate x mean session length.
    mean_len = evening.active_od.sum() / evening.starts_od.sum()
    assert 20 * 60 < mean_len < 40 * 60


def test_starts_over_a_day_follow_weekly_rides(catalog):
    pop = build_population(100_000, np.random.default_rng(4), regions={"UK": 1.0})
    day = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)  # a Wednesday in London (UTC+0)
    d = compute_demand(pop, catalog, DemandSpec(), start_utc=day, duration_s=86400, tick_s=60)
    expected = (
        pop.weekly_rides.sum() / 7 * (1.0 / np.mean([1.10, 1.05, 1.00, 0.95, 0.80, 1.00, 1.10]))
    )
    assert d.starts.sum() * 60 == pytest.approx(expected, rel=0.03)


@pytest.mark.parametrize(("market", "utc_offset"), [("DE", 1), ("US", -5)])
def test_the_peak_is_the_local_evening(catalog, market, utc_offset):
    pop = build_population(50_000, np.random.default_rng(5), regions={market: 1.0})
    day = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
    d = compute_demand(pop, catalog, DemandSpec(), start_utc=day, duration_s=86400, tick_s=60)
    hourly = d.active.reshape(24, 60).mean(axis=1)
    local_peak = (int(np.argmax(hourly)) + utc_offset) % 24
    if market == "US":  # four zones spread the peak over the evening
        assert 17 <= local_peak <= 21
    else:
        assert 18 <= local_peak <= 20
    assert hourly.max() > 3 * hourly.min()


def test_surge_multiplies_starts_and_the_cap_holds(population, catalog):
    base = compute_demand(
        population, catalog, DemandSpec(), start_utc=MONDAY_23_UTC, duration_s=3600, tick_s=10
    )
    surge = _surge(multiplier=5.0, start_s=0.0, ramp_s=0.0, end_s=3600.0)
    big = compute_demand(
        population,
        catalog,
        DemandSpec(),
        start_utc=MONDAY_23_UTC,
        duration_s=3600,
        tick_s=10,
        surges=[surge],
    )
    after = (base.t >= 60) & (base.t < 3540)  # edge minutes interpolate with unsurged ones
    assert big.starts_od[:, after].sum() == pytest.approx(
        5 * base.starts_od[:, after].sum(), rel=1e-6
    )
    capped_spec = DemandSpec(max_concurrent_fraction=0.02)
    capped = compute_demand(
        population,
        catalog,
        capped_spec,
        start_utc=MONDAY_23_UTC,
        duration_s=3600,
        tick_s=10,
        surges=[surge],
    )
    limit = 0.02 * len(population)
    assert 0.9 * limit <= capped.active.max() <= 1.3 * limit
    assert big.active.max() > 2.5 * limit


def test_growth_multiplies_riders_over_time(population, catalog):
    spec = DemandSpec(growth=Growth(factor=10.0, over_s=86400.0))
    d = compute_demand(
        population, catalog, spec, start_utc=MONDAY_23_UTC, duration_s=86400, tick_s=300
    )
    assert d.riders[0] == pytest.approx(len(population))
    assert d.riders[-1] == pytest.approx(len(population) * 10 ** ((86400 - 300) / 86400))


def test_segments_are_surged_alone(catalog):
    a = build_population(20_000, np.random.default_rng(1))
    b = build_population(20_000, np.random.default_rng(2))
    from twin.platform.population import concatenate

    both = concatenate([a, b])
    kw = {
        "start_utc": MONDAY_23_UTC,
        "duration_s": 600,
        "tick_s": 10,
        "segments": ["a", "b"],
        "segment": both.segment,
    }
    plain = compute_demand(both, catalog, DemandSpec(), **kw)
    surge = _surge(multiplier=3.0, start_s=0.0, ramp_s=0.0, end_s=600.0, segment="b")
    surged = compute_demand(both, catalog, DemandSpec(), surges=[surge], **kw)
    only_a = compute_demand(
        a, catalog, DemandSpec(), start_utc=MONDAY_23_UTC, duration_s=600, tick_s=10
    )
    only_b = compute_demand(
        b, catalog, DemandSpec(), start_utc=MONDAY_23_UTC, duration_s=600, tick_s=10
    )
    late = (plain.t >= 60) & (plain.t < 540)

    def total(d):
        return d.starts_od[:, late].sum()

    assert total(plain) == pytest.approx(total(only_a) + total(only_b), rel=1e-9)
    assert total(surged) == pytest.approx(total(only_a) + 3 * total(only_b), rel=1e-9)
    assert "MX" in REGION_CODES
