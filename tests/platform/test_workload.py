"""Requests, bytes and telemetry from sessions; the rendition rule."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from twin.config.platform import DemandSpec
from twin.config.vocabulary import BITRATE_MBPS, DEVICES, TELEMETRY_BATCH_S
from twin.platform.demand import compute_demand
from twin.platform.workload import (
    compute_workload,
    rendition_for,
    rendition_shares,
)


def test_rendition_rule_needs_headroom_and_respects_the_cap():
    bw = np.array([2.0, 4.5, 8.9, 9.0, 23.9, 24.0, 100.0])
    assert rendition_for(bw, 2).tolist() == [0, 0, 0, 1, 1, 2, 2]  # 1.5 x 3, 6, 16 Mb/s
    assert rendition_for(bw, 1).tolist() == [0, 0, 0, 1, 1, 1, 1]
    assert rendition_for(bw, 0).tolist() == [0] * 7


def test_screens_cap_bikes_at_1080p_and_phase1_at_720p(population):
    shares = rendition_shares(population, "4k")
    assert shares[DEVICES.index("bike"), 2] == 0 and shares[DEVICES.index("app"), 2] > 0.5
    assert np.allclose(shares.sum(axis=1), 1.0)
    assert np.allclose(rendition_shares(population, "720p")[:, 0], 1.0)


@pytest.fixture(scope="module")
def work(population, catalog):
    d = compute_demand(
        population,
        catalog,
        DemandSpec(),
        start_utc=datetime(2026, 11, 23, 23, tzinfo=UTC),
        duration_s=600,
    )
    return d, compute_workload(d, population, max_rendition="1080p", segment_s=4.0)


def test_request_rates_follow_sessions(work):
    d, w = work
    live = d.active_live.sum(axis=0)
    assert np.allclose(w.rates["segment"], d.active / 4.0)
    assert np.allclose(w.rates["join"], d.starts)
    assert np.allclose(w.rates["workout"], d.ends)
    assert np.allclose(w.rates["feedback"], 0.3 * d.ends)
    assert np.allclose(w.rates["playlist"], live / 4.0 + d.starts_od.sum(axis=0))
    devices = (d.active_live + d.active_od)[[0, 1]].sum(axis=0)
    assert np.allclose(w.rates["telemetry"], devices / TELEMETRY_BATCH_S)
    assert np.allclose(w.telemetry_samples_per_s, devices)  # 1 Hz samples


def test_segment_bytes_are_bitrate_times_riders(work, population):
    d, w = work
    shares = rendition_shares(population, "1080p")
    per_device = d.active_live + d.active_od
    expected = sum(per_device[k] * (shares[k] @ BITRATE_MBPS) * 1e6 / 8 for k in range(3))
    assert np.allclose(w.segment_bytes_per_s, expected)
    assert np.allclose(w.riders_by_rendition.sum(axis=0), d.active)
