"""The seam to the engines: incidents on capacity, offered load per service, routes."""

from __future__ import annotations

import numpy as np
import pytest

from twin.config.loader import load_platform
from twin.config.vocabulary import TELEMETRY_BATCH_S
from twin.platform.scenario_riders import scenario_population
from twin.runs.compile import WRITE_TYPES, compile_platform, predictive_instances, route_visits


def _compiled(scenarios_dir, name, *overrides):
    scenario, arch = load_platform(scenarios_dir / name, ["population.riders=30000", *overrides])
    return scenario, arch, compile_platform(scenario, arch, scenario_population(scenario))


@pytest.fixture(scope="module")
def outage(scenarios_dir):
    return _compiled(scenarios_dir, "live-broadcast-failure.yaml")


def test_route_visits_pass_only_misses_beyond_the_cdn(outage):
    _, arch, cp = outage
    assert route_visits(arch.routes["segment"], arch) == [
        ("cdn", 1.0),
        ("live", pytest.approx(0.03)),
    ]
    assert cp.visits["join"] == [("glb", 1.0), ("api", 1.0), ("live", 1.0), ("redis_global", 1.0)]


def test_offered_load_is_the_sum_of_the_routes_and_the_ingest(outage):
    _, _, cp = outage
    crossing_api = [r for r, route in cp.routes.items() if "api" in route]  # no music: no tempo
    assert set(crossing_api) == {
        "recommend",
        "join",
        "telemetry",
        "leaderboard",
        "workout",
        "feedback",
    }
    assert np.allclose(cp.services["api"].arrivals, sum(cp.demand[r] for r in crossing_api))
    # workout = leaderboard polls + workout posts + every telemetry record it processes.
    expected = cp.demand["leaderboard"] + cp.demand["workout"] + cp.telemetry_records_per_s
    assert np.allclose(cp.services["workout"].arrivals, expected)
    live = cp.demand["join"] + 0.03 * (cp.demand["playlist"] + cp.demand["segment"])
    assert np.allclose(cp.services["live"].arrivals, live)


def test_database_writes_are_posts_plus_persisted_metrics(outage):
    _, arch, cp = outage
    writes = sum(cp.demand[r] for r in WRITE_TYPES if "pg_cluster" in arch.routes[r])
    persist = cp.telemetry_records_per_s * TELEMETRY_BATCH_S / arch.ingest.persist_every_s
    assert np.allclose(cp.services["pg_cluster"].writes_per_s, writes + persist)
    assert np.allclose(cp.services["pg_cluster"].write_capacity_per_s, 4000.0)


def test_a_single_point_of_failure_is_down_for_the_whole_window(outage):
    scenario, _, cp = outage
    inc = scenario.incidents[0]
    live = cp.services["live"]
    inside = (cp.t >= inc.start_s) & (cp.t < inc.end_s)
    assert inside.sum() == 7200
    assert np.all(live.servers[inside] == 0) and np.all(live.servers[~inside] == 15 * 16)
    assert np.all(cp.services["api"].up == 1.0)
    assert (
        cp.live_segment_share.max() > 0.2
    )  # live sessions' share of segments: lost with the origin


def test_active_active_keeps_the_surviving_region(scenarios_dir):
    scenario, _, cp = _compiled(scenarios_dir, "live-broadcast-failure-fixed.yaml")
    inc = scenario.incidents[0]
    inside = (cp.t >= inc.start_s) & (cp.t < inc.end_s)
    assert np.all(cp.services["live"].servers[inside] == 120)
    assert np.all(cp.services["live"].up[inside] == 0.5)


def test_capacity_cut_and_shard_count_apply_in_their_window(scenarios_dir):
    incidents = (
        "incidents=[{type: capacity_cut, component: cdn, remaining: 0.25,"
        " start_s: 600, end_s: 1200},"
        " {type: shard_count, component: kinesis, shards: 3, start_s: 0, end_s: 900}]"
    )
    _, _, cp = _compiled(scenarios_dir, "daily-peak.yaml", incidents)
    egress = cp.services["cdn"].egress_bps
    assert egress[599] == 1500e9 and egress[600] == 375e9 and egress[1200] == 1500e9
    k = cp.services["kinesis"]
    assert k.shards[899] == 3 and k.shards[900] == 400
    assert k.records_capacity_per_s[0] == 3000 and k.bytes_capacity_per_s[0] == 3e6
    assert k.servers[0] == 3


def test_predictive_shards_stay_ahead_of_the_forecast(scenarios_dir):
    _, _, cp = _compiled(
        scenarios_dir,
        "iot-pipeline-overload-fixed.yaml",
        "population.riders=3000000",
        "duration_s=7200",
    )
    k = cp.services["kinesis"]
    assert k.autoscaling is None  # done here, nothing left for the engine
    assert np.all(k.shards >= 9) and k.shards.max() > 9
    utilization = cp.telemetry_records_per_s / k.records_capacity_per_s
    assert utilization.max() <= 0.7 + 1e-9


def test_predictive_instances_look_ahead():
    from twin.config.architecture import Autoscaling

    scaling = Autoscaling(
        min=1, max=10, target_utilization=0.5, provisioning_delay_s=0, predictive_lead_s=2
    )
    load = np.array([0.0, 0, 0, 400, 0, 0])
    # 400 req/s at 100 req/s per instance and 50% target -> 8 instances, two ticks early.
    assert predictive_instances(load, 100.0, scaling, 1.0).tolist() == [1, 8, 8, 8, 1, 1]


def test_same_inputs_same_arrays(scenarios_dir):
    _, _, a = _compiled(scenarios_dir, "daily-peak.yaml", "duration_s=300")
    _, _, b = _compiled(scenarios_dir, "daily-peak.yaml", "duration_s=300")
    assert all(np.array_equal(a.demand[k], b.demand[k]) for k in a.demand)
    assert np.array_equal(a.bytes_per_s, b.bytes_per_s)
    assert a.t.size == 300 and a.tick_s == 1.0
