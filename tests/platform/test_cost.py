"""Cost per phase against seed 001's figures, and how usage moves the bill."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.config.architecture import load_architecture
from twin.platform.cost import UNITEMIZED, Usage, monthly_cost


def _arch(name: str, folder: Path):
    return load_architecture(name, folder)


@pytest.mark.parametrize(
    ("name", "riders", "monthly", "per_user_cents"),
    [
        ("phase1-monolith", 1_000, 3_250.0, 325),  # seed 001: $3,250/month, $3.25 per user
        ("phase2-microservices", 500_000, 38_550.0, 8),  # $38,550/month, $0.08 per user
        ("phase3-global", 3_000_000, 455_000.0, 15),  # $455,000/month, $0.15 per user
    ],
)
def test_each_phase_costs_what_the_seed_says_at_its_own_scale(
    architectures_dir, name, riders, monthly, per_user_cents
):
    arch = _arch(name, architectures_dir)
    cost = monthly_cost(arch)
    assert arch.riders == riders
    assert cost.monthly_usd == pytest.approx(monthly)
    assert round(cost.per_user_month_usd * 100) == per_user_cents


def test_phase1_per_user_is_exactly_three_dollars_twenty_five(architectures_dir):
    cost = monthly_cost(_arch("phase1-monolith", architectures_dir))
    assert cost.per_user_month_usd == pytest.approx(3.25)


def test_phase3_components_sum_to_449k_and_the_gap_is_an_explicit_line(architectures_dir):
    arch = _arch("phase3-global", architectures_dir)
    assert arch.itemized_monthly_usd == pytest.approx(449_000.0)
    lines = {line.component: line for line in monthly_cost(arch).lines}
    assert lines[UNITEMIZED].monthly_usd == pytest.approx(6_000.0)
    assert sum(v.monthly_usd for k, v in lines.items() if k != UNITEMIZED) == pytest.approx(
        449_000.0
    )


def test_phases_one_and_two_have_no_unitemized_line(architectures_dir):
    for name in ("phase1-monolith", "phase2-microservices"):
        assert UNITEMIZED not in monthly_cost(_arch(name, architectures_dir)).by_component


def test_autoscaled_instances_are_billed_by_the_instance(architectures_dir):
    arch = _arch("phase3-global", architectures_dir)
    # api: 20 x c5.2xlarge for $20,000 -> $1,000 each; a month at a mean of 35 costs $35,000.
    cost = monthly_cost(arch, Usage(instances={"api": 35.0}))
    assert cost.by_component["api"] == pytest.approx(35_000.0)
    assert cost.monthly_usd == pytest.approx(455_000.0 + 15_000.0)


def test_cdn_egress_beyond_the_commit_is_billed_per_gb(architectures_dir):
    arch = _arch("phase3-global", architectures_dir)
    cdn = arch.components["cdn"].cdn
    extra_gb = 1_000_000.0  # 1 PB over the commit
    usage = Usage(egress_gb_month={"cdn": cdn.included_egress_tb_month * 1000 + extra_gb})
    assert monthly_cost(arch, usage).by_component["cdn"] == pytest.approx(
        50_000.0 + extra_gb * cdn.usd_per_gb
    )
    below = Usage(egress_gb_month={"cdn": 10.0})
    assert monthly_cost(arch, below).by_component["cdn"] == pytest.approx(50_000.0)


def test_extra_stream_shards_cost_the_public_shard_hour_price(architectures_dir):
    arch = _arch("phase3-global", architectures_dir)
    shards = arch.components["kinesis"].stream.shards
    cost = monthly_cost(arch, Usage(shards={"kinesis": shards + 100}))
    assert cost.by_component["kinesis"] == pytest.approx(15_000.0 + 100 * 0.015 * 730)


def test_sharding_beyond_the_listed_primaries_adds_instances(architectures_dir):
    arch = load_architecture(
        "phase3-global", architectures_dir, {"components.pg_cluster.database.shards": 16}
    )
    assert monthly_cost(arch).by_component["pg_cluster"] == pytest.approx(80_000.0)
    same = load_architecture(
        "phase3-global", architectures_dir, {"components.pg_cluster.database.shards": 8}
    )
    assert monthly_cost(same).by_component["pg_cluster"] == pytest.approx(40_000.0)


def test_per_user_follows_the_riders_priced_over(architectures_dir):
    cost = monthly_cost(_arch("phase2-microservices", architectures_dir), riders=50_000)
    assert cost.per_user_month_usd == pytest.approx(38_550.0 / 50_000)
    summary = cost.as_summary()
    assert summary["monthly_usd"] == pytest.approx(38_550.0)
    assert set(summary) == {"monthly_usd", "per_user_month_usd", "by_component"}
