"""Input limits up front: every float finite, every size under its documented limit, routing
that leaves the network; each refused with the field and the limit named (issue 17)."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.config import limits
from twin.config.loader import load_scenario
from twin.errors import InputError

STATION = "network.stations.api"


def _error(path: Path, overrides: list[str]) -> InputError:
    with pytest.raises(InputError) as caught:
        load_scenario(path, overrides)
    assert "\n" not in str(caught.value)
    return caught.value


@pytest.mark.parametrize(
    ("override", "field", "words"),
    [
        ("network.sources.0.rate_per_s=.inf", "network.sources.0.rate_per_s", "finite"),
        ("network.sources.0.rate_per_s=.nan", "network.sources.0.rate_per_s", "finite"),
        (
            "network.sources.0.rate_per_s=[[0, 1], [10, .inf]]",
            "network.sources.0.rate_per_s",
            "finite",
        ),
        (f"{STATION}.service.mean_s=.inf", f"{STATION}.service.mean_s", "finite number"),
        ("duration_s=.nan", "duration_s", "finite number"),
        (f"{STATION}.routes={{exit: .nan}}", f"{STATION}.routes.exit", "finite number"),
        (
            "network.sources.0.rate_per_s=2e9",
            "network.sources.0.rate_per_s",
            "rate_per_s 2,000,000,000 is over the limit of 1,000,000,000",
        ),
        (
            f"{STATION}.servers=1000000000",
            f"{STATION}.servers",
            "servers 1,000,000,000 is over the limit of 1,000,000 (MAX_NETWORK_SERVERS",
        ),
        ("interval_s=0.0001", "interval_s", "over the limit of 1,000,000 rows (MAX_ROWS"),
        ("seed=-1", "seed", "greater than or equal to 0"),
        ("seed=9223372036854775808", "seed", "(MAX_SEED"),
        (
            f"{STATION}.routes={{api: 1.0}}",
            f"{STATION}.routes",
            "requests at api can never leave the network",
        ),
    ],
)
def test_a_bare_network_past_a_limit_is_refused(
    scenarios_dir: Path, override: str, field: str, words: str
) -> None:
    path = scenarios_dir / "mmc-example.yaml"
    err = _error(path, [override])
    assert (err.source, err.field) == (str(path), field)
    assert words in err.message


def test_a_closed_class_of_stations_is_refused_even_beside_an_exit(scenarios_dir: Path) -> None:
    service = "{dist: exponential, mean_s: 0.1}"
    err = _error(
        scenarios_dir / "mmc-example.yaml",
        [
            f"network.stations.a={{servers: 1, service: {service}, routes: {{b: 1.0}}}}",
            f"network.stations.b={{servers: 1, service: {service}, routes: {{a: 1.0}}}}",
            f"{STATION}.routes={{a: 0.1, exit: 0.9}}",
        ],
    )
    assert err.field == "network.stations.a.routes"
    assert err.message.startswith("requests at a, b can never leave the network")


ARCH = "architecture_changes.components"


@pytest.mark.parametrize(
    ("override", "field", "words"),
    [
        (
            "population.riders=1e15",
            "population.riders",
            "riders 1e+15 is over the limit of 200,000,000 (MAX_RIDERS",
        ),
        (
            "demand.growth={factor: 100, over_s: 60}",
            "demand.growth.factor",
            "riders x growth.factor = 300,000,000 is over the limit of 200,000,000",
        ),
        (
            "duration_s=1e15",
            "duration_s",
            "duration_s / tick 1 s = 1e+15 ticks is over the limit of 250,000 ticks",
        ),
        ("tick_s=0.001", "duration_s", "3,600,000 ticks is over the limit"),
        ("start=.inf", "start", "datetime"),
        ("slo.0.target=.nan", "slo.0.target", "finite number"),
        (
            "incidents=[{type: surge, multiplier: 1e6, start_s: 0, end_s: 60}]",
            "incidents.0.surge.multiplier",
            "over the limit of 1,000 (MAX_SURGE",
        ),
        (
            "incidents=[{type: shard_count, component: kinesis,shards: 1e9, start_s: 0, end_s: 1}]",
            "incidents.0.shard_count.shards",
            "over the limit of 1,000,000 (MAX_SHARDS",
        ),
        (f"{ARCH}.cdn.cdn.egress_gbps=.inf", f"{ARCH}.cdn.cdn.egress_gbps", "finite number"),
        (f"{ARCH}.kinesis.stream.shards=1e9", f"{ARCH}.kinesis.stream.shards", "(MAX_SHARDS"),
        (f"{ARCH}.api.count=1e9", f"{ARCH}.api.count", "(MAX_INSTANCES"),
        (
            f"{ARCH}.api.station.servers_per_instance=1e12",
            f"{ARCH}.api.station.servers_per_instance",
            "servers_per_instance x most instances = 80,000,000,000,000 is over the limit of "
            "1,000,000,000",
        ),
    ],
)
def test_a_platform_past_a_limit_is_refused(
    scenarios_dir: Path, override: str, field: str, words: str
) -> None:
    path = scenarios_dir / "daily-peak.yaml"
    err = _error(path, [override])
    assert (err.source, err.field) == (str(path), field)
    assert words in err.message


def test_the_limits_sit_above_every_shipped_scenario(scenarios_dir: Path) -> None:
    for path in sorted(scenarios_dir.glob("*.yaml")):
        scenario = load_scenario(path)
        if scenario.kind == "platform":
            assert scenario.population.riders <= limits.MAX_RIDERS / 4
            assert scenario.duration_s / scenario.tick_s <= limits.MAX_TICKS / 4
        else:
            assert scenario.duration_s <= limits.MAX_TICKS


def test_seed_and_replications_checks() -> None:
    assert limits.check_seed(0) == 0 and limits.check_seed(2**63 - 1) == 2**63 - 1
    for bad in (-1, 2**63):
        with pytest.raises(InputError, match="between 0 and 2\\*\\*63-1"):
            limits.check_seed(bad)
    with pytest.raises(InputError, match="replications 1,001 is over the limit of 1,000"):
        limits.check_replications(1001)
    with pytest.raises(InputError, match="must be >= 1"):
        limits.check_replications(0)
