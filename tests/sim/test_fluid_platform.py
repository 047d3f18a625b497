"""The fluid engine's platform path on a small hand-built compiled platform.

Each mechanism is checked against arithmetic it must reproduce: shards' write limit turning
a telemetry surge into leaderboard lag, CDN egress short of demand degrading video (with and
without adaptive bitrate), a database's write capacity capping what it serves, and reactive
autoscaling adding instances after its provisioning delay until utilization meets target.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import numpy as np
import pytest

from twin.config.architecture import Autoscaling, Ingest
from twin.config.clients import Clients
from twin.config.network import ServiceTime
from twin.sim.fluid import run_fluid
from twin.sim.fluid.experience import video_degraded
from twin.sim.fluid.platform_flows import platform_flows
from twin.sim.platform_input import CompiledPlatform, ServiceSpec

TICKS = 1200
T = np.arange(TICKS, dtype=float)
SURGE = (T >= 300) & (T < 600)
CDN_SHORT = (T >= 600) & (T < 900)
RIDERS = 10_000.0  # all watching 1080p (6 Mb/s): 60 Gb/s wanted


def _spec(name: str, kind: str, servers: float, mean_s: float, arrivals, **extra) -> ServiceSpec:
    dist = extra.pop("dist", "exponential")
    fields = {
        "name": name,
        "kind": kind,
        "servers": np.full(TICKS, servers, dtype=np.int64),
        "instances": np.full(TICKS, extra.pop("instances", 1.0)),
        "servers_per_instance": extra.pop("per", int(servers)),
        "service": ServiceTime(dist=dist, mean_s=mean_s),
        "queue_capacity": extra.pop("queue_capacity", None),
        "timeout_s": extra.pop("timeout_s", None),
        "autoscaling": extra.pop("autoscaling", None),
        "connection_pool": None,
        "up": np.ones(TICKS),
        "arrivals": np.asarray(arrivals, dtype=float),
    }
    return ServiceSpec(**fields, **extra)


def _platform() -> CompiledPlatform:
    telemetry = np.where(SURGE, 15_000.0, 5_000.0)  # records/s; 10 shards take 10,000/s
    recommend = np.where(T >= 300, 1_200.0, 300.0)  # api: 2 instances x 4 servers x 100/s
    workout = np.full(TICKS, 2_000.0)  # all writes; the database takes 1,000 writes/s
    segment = np.full(TICKS, RIDERS / 4.0)
    zero = np.zeros(TICKS)
    scaling = Autoscaling(
        min=2, max=10, target_utilization=0.5, provisioning_delay_s=120, cooldown_s=300
    )
    services = {
        "api": _spec("api", "compute", 8, 0.01, recommend, instances=2.0, per=4,
                     autoscaling=scaling, timeout_s=5.0),
        "cdn": _spec("cdn", "cdn", 1_000_000, 0.001, segment, dist="deterministic",
                     egress_bps=np.where(CDN_SHORT, 40e9, 100e9), hit_ratio=0.9, origin="live"),
        "live": _spec("live", "compute", 16, 0.002, segment * 0.1, dist="deterministic"),
        "kinesis": _spec("kinesis", "stream", 100_000, 0.001, telemetry, dist="deterministic",
                         shards=np.full(TICKS, 10.0),
                         records_capacity_per_s=np.full(TICKS, 10_000.0),
                         bytes_capacity_per_s=np.full(TICKS, 10e6)),
        "processor": _spec("processor", "compute", 100, 0.001, telemetry),
        "store": _spec("store", "cache", 10, 0.0001, telemetry),
        "db": _spec("db", "database", 16, 0.002, workout, queue_capacity=5_000,
                    write_capacity_per_s=np.full(TICKS, 1_000.0), lock_contention=0.0,
                    writes_per_s=workout),
    }  # fmt: skip
    demand = {
        "recommend": recommend, "join": zero, "playlist": zero, "segment": segment,
        "telemetry": telemetry, "leaderboard": zero, "workout": workout, "feedback": zero,
    }  # fmt: skip
    visits = {
        "recommend": [("api", 1.0)], "join": [("api", 1.0)],
        "playlist": [("cdn", 1.0), ("live", 0.1)],
        "segment": [("cdn", 1.0), ("live", 0.1)], "telemetry": [("kinesis", 1.0)],
        "leaderboard": [("store", 1.0)], "workout": [("db", 1.0)], "feedback": [("db", 1.0)],
    }  # fmt: skip
    by_rendition = np.zeros((3, TICKS))
    by_rendition[1] = RIDERS
    return CompiledPlatform(
        t=T, tick_s=1.0, services=services, demand=demand,
        routes={k: [h for h, _ in v] for k, v in visits.items()}, visits=visits,
        active_riders=np.full(TICKS, RIDERS), riders=np.full(TICKS, 50_000.0),
        bytes_per_s=np.full(TICKS, RIDERS * 6e6 / 8.0), riders_by_rendition=by_rendition,
        telemetry_records_per_s=telemetry, telemetry_bytes_per_s=telemetry * 400.0,
        telemetry_samples_per_s=telemetry * 5.0,
        ingest=Ingest(stream="kinesis", processor="processor", store="store", persist="db"),
        adaptive_bitrate=True, live_segment_share=np.zeros(TICKS),
        live_playlist_share=np.zeros(TICKS),
        # patient clients: these checks are of the services' own mechanisms, not of retries
        clients=Clients(retries=0, timeout_s={"telemetry": 3600.0}),
    )  # fmt: skip


@pytest.fixture(scope="module")
def platform() -> CompiledPlatform:
    return _platform()


@pytest.fixture(scope="module")
def result(platform):
    return run_fluid(platform, seed=3)


def test_shard_limit_turns_a_telemetry_surge_into_leaderboard_lag(result) -> None:
    # 5,000 records/s beyond 10 shards' 10,000 for 300 s: 1.5M records, 150 s behind at the
    # surge's end; the batch period adds up to 5 s.
    lag = result.summary["experience"]["leaderboard_lag_s"]
    assert lag["max"] == pytest.approx(152.5, abs=4.0)
    assert lag["p99"] > 140.0
    assert lag["p50"] < lag["p99"]
    kinesis = result.summary["services"]["kinesis"]
    assert kinesis["dropped"] == 0
    assert kinesis["completed"] == pytest.approx(kinesis["arrivals"], rel=1e-6)


def test_cdn_short_of_egress_degrades_video(platform, result) -> None:
    # 60 Gb/s wanted, 40 Gb/s for a quarter of the run. Adaptive: 20 Gb/s / 3 Mb/s = 6,667
    # riders drop to 720p; without it a third of riders (1 - 40/60) rebuffer.
    assert result.summary["experience"]["video_degraded_fraction"] == pytest.approx(
        0.25 * 2 / 3, rel=1e-3
    )
    assert result.summary["experience"]["video_degraded_peak_fraction"] == pytest.approx(
        2 / 3, rel=1e-3
    )
    rigid = platform_flows(replace(platform, adaptive_bitrate=False))
    fraction, peak = video_degraded(rigid)
    assert fraction == pytest.approx(0.25 / 3, rel=1e-3)
    assert peak == pytest.approx(1 / 3, rel=1e-3)


def test_database_serves_no_more_than_its_write_capacity(result) -> None:
    db = result.summary["services"]["db"]
    assert db["throughput_per_s"] == pytest.approx(1_000.0, rel=0.01)
    # 2,000 writes/s offered, 1,000 served, a 5,000-write queue: the rest is dropped.
    assert db["dropped"] == pytest.approx(2_000 * TICKS - 1_000 * TICKS - 5_000, rel=0.01)
    assert result.summary["requests"]["workout"]["errors"] == pytest.approx(db["dropped"], rel=0.05)


def test_autoscaling_adds_instances_after_the_delay_until_target(platform) -> None:
    flows = platform_flows(platform)
    instances = flows.instances["api"]
    assert instances[:300].max() == 2  # 300/s on 800/s of capacity: nothing to add
    # Saturated from 300 s: the 360 s evaluation asks for 4, serving from 480 s.
    assert instances[479] == 2 and instances[480] == 4
    # 1,200/s at 50 % target on 400/s instances: 6 at the end, never beyond the max.
    assert instances[-1] == 6
    assert instances.max() <= 10
    api = flows.laws[flows.index["api"]]
    assert api.dropped[300:480].sum() > 0  # requests behind more than the 5 s timeout give up
    assert api.dropped[700:].sum() == 0


def test_request_types_follow_their_routes(result) -> None:
    requests = result.summary["requests"]
    assert set(requests) == {
        "recommend",
        "join",
        "playlist",
        "segment",
        "telemetry",
        "leaderboard",
        "workout",
        "feedback",
    }
    seg = requests["segment"]
    # 90 % of segments end at the CDN (1 ms); misses add the origin's 2 ms.
    assert seg["latency_ms"]["mean"] == pytest.approx(1.0 + 0.1 * 2.0, rel=0.02)
    assert seg["count"] == pytest.approx(RIDERS / 4.0 * TICKS, rel=0.01)


def test_progress_reaches_the_end_and_riders_are_reported(platform) -> None:
    seen: list[tuple[float, float]] = []
    result = run_fluid(platform, seed=3, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (float(TICKS), float(TICKS))
    assert all(b[0] >= a[0] for a, b in pairwise(seen))
    assert result.summary["riders"] == 50_000
    assert result.summary["active_riders_peak"] == RIDERS
    assert result.summary["engine"] == "fluid"
