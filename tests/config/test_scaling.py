"""Similarity scaling (`--scale F`): what scales by F, and how exactly.

A stream's write limit is a rate, so it keeps its proportion exactly: the IoT overload's 9
shards at 1/2000 stay 9 shards, each writing F of a shard's records and megabytes a second
(rounding to a whole shard would give it 222 times its scaled capacity and lose the
incident), and the fixed variant's shard autoscaling keeps its bounds (9 to 100), so its fix
survives the scaling. The riders are a miniature of the full population, so the load is the
full scenario's times F exactly, not a smaller sample off by its sampling error.
"""

from __future__ import annotations

import numpy as np
import pytest

from twin.config.loader import load_platform
from twin.config.scaling import scale_platform
from twin.platform.scenario_riders import scenario_cohorts
from twin.runs.compile import build_platform, build_scaled

F = 0.0005


def test_a_streams_shards_stay_and_each_takes_f_of_a_shard() -> None:
    scenario, arch = load_platform("iot-pipeline-overload")
    before = arch.components["kinesis"].stream
    assert before is not None and before.shards == 9
    _s, scaled = scale_platform(scenario, arch, F)
    after = scaled.components["kinesis"].stream
    assert after is not None and after.shards == 9
    assert after.write_records_per_shard_s == pytest.approx(before.write_records_per_shard_s * F)
    assert after.write_mb_per_shard_s == pytest.approx(before.write_mb_per_shard_s * F)
    assert after.usd_per_shard_hour == pytest.approx(before.usd_per_shard_hour * F)


def test_shard_autoscaling_keeps_its_bounds_so_the_fix_survives() -> None:
    scenario, arch = load_platform("iot-pipeline-overload-fixed")
    _s, scaled = scale_platform(scenario, arch, F)
    auto = scaled.components["kinesis"].stream.autoscaling
    assert auto is not None and (auto.min, auto.max) == (9, 100)


def test_a_miniature_population_keeps_every_proportion() -> None:
    scenario, _arch = load_platform("iot-pipeline-overload")
    full = scenario_cohorts(scenario)
    small = full.miniature(F)
    assert len(small) == round(len(full) * F)
    assert small.rides_by_hour.sum() == pytest.approx(full.rides_by_hour.sum() * F)
    np.testing.assert_allclose(small.rides_by_hour / small.rides_by_hour.sum(),
                               full.rides_by_hour / full.rides_by_hour.sum())  # fmt: skip
    with pytest.raises(ValueError, match="factor"):
        full.miniature(0.0)


@pytest.mark.parametrize("f", [0.0005, 0.002])
def test_the_scaled_stream_is_loaded_exactly_as_at_full_scale(f: float) -> None:
    scenario, arch = load_platform("iot-pipeline-overload")
    full = build_platform(scenario, arch).compiled.services["kinesis"]
    small = build_scaled(scenario, arch, f).compiled.services["kinesis"]
    assert small.records_capacity_per_s is not None and full.records_capacity_per_s is not None
    assert small.records_capacity_per_s[0] == pytest.approx(full.records_capacity_per_s[0] * f)
    # the load is the full scenario's times f, so the stream is as loaded as at full scale
    np.testing.assert_allclose(small.arrivals, full.arrivals * f, rtol=1e-9)


def test_an_autoscaling_floor_never_rounds_to_zero_instances() -> None:
    # phase 3's api scales between 20 and 80 instances: at 1/1000 a floor of 0 would let a
    # quiet minute (no busy time) retire every instance for good
    scenario, arch = load_platform("live-broadcast-failure")
    _s, scaled = scale_platform(scenario, arch, 1e-3)
    auto = scaled.components["api"].autoscaling
    assert auto is not None and auto.min == 1 and auto.max >= 1


def test_active_active_keeps_an_instance_per_region() -> None:
    scenario, arch = load_platform("live-broadcast-failure-fixed")
    assert arch.components["live"].failover.regions == 2
    _s, scaled = scale_platform(scenario, arch, 1e-3)
    live = scaled.components["live"]
    assert live.count == 2  # 15 x 1e-3 rounds to one: losing its region would lose them all
