"""Similarity scaling (`--scale F`): what scales by F, and how exactly.

A stream's write limit is a rate, so it keeps its proportion exactly: the IoT overload's 9
shards at 1/2000 become one shard writing 9 x F of a shard's records and megabytes a second
(rounding to a whole shard alone would give it 222 times its scaled capacity and lose the
incident).
"""

from __future__ import annotations

import pytest

from twin.config.loader import load_platform
from twin.config.scaling import scale_platform
from twin.runs.compile import build_platform

F = 0.0005


def test_a_streams_write_limit_scales_exactly_though_its_shards_round_up() -> None:
    scenario, arch = load_platform("iot-pipeline-overload")
    before = arch.components["kinesis"].stream
    assert before is not None and before.shards == 9
    _s, scaled = scale_platform(scenario, arch, F)
    after = scaled.components["kinesis"].stream
    assert after is not None and after.shards == 1
    assert after.shards * after.write_records_per_shard_s == pytest.approx(
        9 * before.write_records_per_shard_s * F
    )
    assert after.shards * after.write_mb_per_shard_s == pytest.approx(
        9 * before.write_mb_per_shard_s * F
    )


def test_the_compiled_stream_capacity_is_the_scenarios_times_f() -> None:
    scenario, arch = load_platform("iot-pipeline-overload")
    full = build_platform(scenario, arch).compiled.services["kinesis"]
    f = 0.002  # 6,000 riders: enough that their load is the scenario's within a few %
    small = build_platform(*scale_platform(scenario, arch, f)).compiled.services["kinesis"]
    assert small.records_capacity_per_s is not None and full.records_capacity_per_s is not None
    assert small.records_capacity_per_s[0] == pytest.approx(full.records_capacity_per_s[0] * f)
    # the load scales with the riders: the stream is as loaded as at full scale
    assert small.arrivals.mean() / small.records_capacity_per_s[0] == pytest.approx(
        full.arrivals.mean() / full.records_capacity_per_s[0], rel=0.05
    )
