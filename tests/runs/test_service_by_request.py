"""Per-request-type service times at a station: the schema's checks and the compile's mixture.

A station's `service_by_request` gives some request types their own service time; the
compile hands the engines the mixture the station serves, weighted by the run's offered
load, with the mixture's exact mean and second moment (checked here by hand), and keeps the
listed `service` as `own_service` for the exact engine's other types and ingest flows.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from twin.config.architecture import load_architecture
from twin.config.loader import load_platform
from twin.config.network import ServiceTime
from twin.errors import InputError
from twin.platform.scenario_riders import scenario_population
from twin.runs.compile import compile_platform, predictive_instances, service_mixture

EXP_2MS = ServiceTime(dist="exponential", mean_s=0.002)
LOGN_10MS = ServiceTime(dist="lognormal", mean_s=0.010, cv=1.5)
OWN = "components.api.station.service_by_request"


def test_mixture_has_the_exact_mean_and_second_moment():
    # 150/s at 2 ms (E[S^2] = 2 m^2) and 40/s at 10 ms with cv 1.5 (E[S^2] = 3.25 m^2):
    # mean = (150 x 2 + 40 x 10) / 190 ms = 3.68421 ms,
    # E[S^2] = (150 x 8e-6 + 40 x 3.25e-4) / 190 s^2 = 7.47368e-5 s^2,
    # cv = sqrt(7.47368e-5 / 3.68421e-3^2 - 1) = 2.12276.
    mixed = service_mixture([(150.0, EXP_2MS), (40.0, LOGN_10MS)])
    assert mixed.dist == "lognormal"
    assert mixed.mean == pytest.approx(0.7 / 190, rel=1e-12)
    assert mixed.cv == pytest.approx(math.sqrt(7.473684e-5 / (0.7 / 190) ** 2 - 1), rel=1e-6)
    assert mixed.cv == pytest.approx(2.12276, abs=1e-5)
    # Loads weigh as shares: the same mix in other units is the same service.
    scaled = service_mixture([(15.0, EXP_2MS), (4.0, LOGN_10MS)])
    assert (scaled.mean, scaled.cv) == pytest.approx((mixed.mean, mixed.cv), rel=1e-12)


def test_mixture_keeps_a_lone_service_and_names_the_exponential_and_deterministic_cases():
    gamma = ServiceTime(dist="gamma", mean_s=0.02, cv=0.5)
    assert service_mixture([(10.0, gamma), (0.0, EXP_2MS)]) is gamma  # no load, no part in it
    assert service_mixture([(0.0, gamma), (0.0, EXP_2MS)]) is gamma  # no load at all: own
    lognormal_cv1 = ServiceTime(dist="lognormal", mean_s=0.002, cv=1.0)
    assert service_mixture([(1.0, EXP_2MS), (3.0, lognormal_cv1)]) == EXP_2MS
    fixed = ServiceTime(dist="deterministic", mean_s=0.01)
    same_values = ServiceTime(dist="empirical", values=[0.01, 0.01])
    assert service_mixture([(1.0, fixed), (2.0, same_values)]) == fixed


@pytest.fixture(scope="module")
def phase1(scenarios_dir, architectures_dir):
    """Phase 1 at 20K riders, its API serving telemetry batches in 5 ms instead of 25 ms."""
    scenario, _ = load_platform(
        scenarios_dir / "daily-peak.yaml", ["population.riders=20000", "duration_s=600"]
    )
    changes = {
        f"{OWN}.telemetry": {"dist": "exponential", "mean_s": 0.005},
        "components.api.autoscaling": {
            "min": 1,
            "max": 40,
            "target_utilization": 0.6,
            "provisioning_delay_s": 0,
            "predictive_lead_s": 120,
        },
    }
    arch = load_architecture("phase1-monolith", architectures_dir, changes)
    plain = load_architecture("phase1-monolith", architectures_dir)
    population = scenario_population(scenario)
    return (
        arch,
        compile_platform(scenario, arch, population),
        compile_platform(scenario, plain, population),
    )


def test_compile_serves_the_offered_load_mixture(phase1):
    arch, cp, plain = phase1
    api = cp.services["api"]
    listed = arch.components["api"].station.service  # lognormal 25 ms, cv 1
    assert api.own_service == listed and dict(api.service_by_request) == {
        "telemetry": ServiceTime(dist="exponential", mean_s=0.005)
    }
    # By hand: telemetry's requests at 5 ms (E[S^2] = 2 x 5^2 ms^2), every other type at
    # 25 ms (E[S^2] = 2 x 25^2 ms^2), weighted by the run's requests reaching the api.
    telemetry = cp.demand["telemetry"].sum()
    others = sum(cp.demand[t].sum() for t in ("recommend", "join", "leaderboard", "workout"))
    others += cp.demand["feedback"].sum()
    w = telemetry / (telemetry + others)
    mean = w * 0.005 + (1 - w) * 0.025
    second = w * 2 * 0.005**2 + (1 - w) * 2 * 0.025**2
    assert 0.5 < w < 0.99  # telemetry dominates the API's requests but not all of them
    assert api.service.dist == "lognormal"
    assert api.service.mean == pytest.approx(mean, rel=1e-9)
    assert api.service.cv == pytest.approx(math.sqrt(second / mean**2 - 1), rel=1e-9)
    assert api.arrivals.sum() == pytest.approx(telemetry + others, rel=1e-9)
    # Capacity and predictive autoscaling size the API on the mixture, not the listed 25 ms.
    assert np.allclose(api.capacity_per_s, api.servers / mean)
    scaling = arch.components["api"].autoscaling
    expected = predictive_instances(api.arrivals, 2 / mean, scaling, cp.tick_s)
    assert np.array_equal(api.instances, expected)
    assert api.instances.max() < predictive_instances(api.arrivals, 2 / 0.025, scaling, 1.0).max()
    # Services without per-request times, and the plain architecture, compile as before.
    assert cp.services["bike"].own_service is None and not cp.services["bike"].service_by_request
    assert plain.services["api"].service == listed and plain.services["api"].own_service is None


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("rowing", "unknown request type"),
        ("segment", "route segment does not cross api"),
    ],
)
def test_service_by_request_names_the_field(architectures_dir, key, message):
    change = {f"{OWN}.{key}": {"dist": "exponential", "mean_s": 0.005}}
    with pytest.raises(InputError) as info:
        load_architecture("phase1-monolith", architectures_dir, change)
    assert info.value.field == f"{OWN}.{key}"
    assert message in info.value.message
    assert "\n" not in str(info.value)


def test_a_bad_per_request_service_time_names_its_field(architectures_dir):
    change = {f"{OWN}.telemetry": {"dist": "lognormal", "mean_s": 0.005}}
    with pytest.raises(InputError) as info:
        load_architecture("phase1-monolith", architectures_dir, change)
    assert info.value.field == f"{OWN}.telemetry"
    assert "cv" in info.value.message


def test_service_per_mb_adds_the_workloads_megabytes_to_segments(scenarios_dir, architectures_dir):
    """`service_per_mb_s` on the origin (`video`): a segment's time there grows by that much
    per MB of the workload's own segments (bytes / segment requests), shape kept."""
    from twin.config.vocabulary import BITRATE_MBPS
    from twin.runs.compile import segment_mb

    scenario, _ = load_platform(
        scenarios_dir / "daily-peak.yaml", ["population.riders=20000", "duration_s=600"]
    )
    change = {"components.video.station.service_per_mb_s": 0.002}
    arch = load_architecture("phase1-monolith", architectures_dir, change)
    cp = compile_platform(scenario, arch, scenario_population(scenario))
    mb = segment_mb(cp.demand, cp.bytes_per_s)
    # phase 1 streams 720p only: every segment is 3 Mb/s x 4 s / 8 = 1.5 MB
    assert arch.video.max_rendition == "720p"
    assert mb == pytest.approx(float(BITRATE_MBPS[0]) * arch.video.segment_s / 8, rel=1e-9)
    video = cp.services["video"]
    listed = arch.components["video"].station.service  # deterministic 10 ms
    assert video.own_service == listed
    segment = video.service_by_request["segment"]
    assert segment.mean == pytest.approx(0.010 + 0.002 * 1.5, rel=1e-12)
    assert segment.scv == pytest.approx(0.0, abs=1e-12)  # one size, deterministic base
    # the station serves the mixture of segments (heavier) and the playlists crossing it
    assert listed.mean < video.service.mean < 0.010 + 0.002 * mb


def test_segment_sizes_follow_the_rendition_mix():
    """Segments of one length are as big as their rendition's bitrate: 720p, 1080p and 4K
    segments in the shares of the riders watching, averaging the workload's MB."""
    from twin.config.vocabulary import BITRATE_MBPS
    from twin.runs.segment_service import plus_segment_mb, segment_mb_mix

    watching = np.array([[30.0, 30.0], [50.0, 50.0], [20.0, 20.0]])  # renditions x ticks
    mix = segment_mb_mix(4.0, watching)
    assert [s for _, s in mix] == pytest.approx([0.3, 0.5, 0.2])
    sizes = np.array([m for m, _ in mix])
    assert sizes / sizes[0] == pytest.approx(BITRATE_MBPS / BITRATE_MBPS[0])
    assert sum(m * s for m, s in mix) == pytest.approx(4.0)
    base = ServiceTime(dist="lognormal", mean_s=0.001, cv=0.5)
    seg = plus_segment_mb(base, 0.002, mix)
    values = np.sort(np.asarray(seg.values))
    assert seg.mean == pytest.approx(0.001 + 0.002 * 4.0, rel=0.01)
    # the median segment is a 1080p one (half the segments), the top fifth 4K
    assert 0.002 * sizes[1] < np.median(values) < 0.002 * sizes[1] + 0.003
    assert np.mean(values > 0.002 * sizes[2]) == pytest.approx(0.2, abs=0.01)
    # per rendition the base keeps its own law: the 720p stratum's median is the base's
    low = values[values < 0.002 * sizes[1]]
    assert np.median(low) - 0.002 * sizes[0] == pytest.approx(
        0.001 / math.sqrt(1.25), rel=0.02
    )  # lognormal median = mean / sqrt(1 + cv^2)


def test_service_per_mb_needs_segments_to_cross_the_station(architectures_dir):
    change = {"components.api.station.service_per_mb_s": 0.002}
    with pytest.raises(InputError) as info:
        load_architecture("phase1-monolith", architectures_dir, change)
    assert info.value.field == "components.api.station.service_per_mb_s"
    assert "route segment does not cross api" in info.value.message
