"""Requests, bytes and telemetry from sessions; the adaptive-bitrate rule."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from twin.platform.demand import compute_demand
from twin.platform.population import DEVICES
from twin.platform.scenario import DemandSpec
from twin.platform.workload import (
    BITRATE_MBPS,
    TELEMETRY_BATCH_S,
    compute_workload,
    downshift,
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


def test_downshift_moves_the_top_renditions_first():
    riders = np.array([0.0, 100.0, 100.0])  # 100 at 1080p, 100 at 4K = 2.2 Gb/s wanted
    plenty = downshift(riders, 3e9)
    assert (plenty.delivered_bps, plenty.downshifted, plenty.rebuffering) == (2.2e9, 0.0, 0.0)
    short = downshift(riders, 1.2e9)
    # 1.2 Gb/s: all 4K riders to 1080p (1.2 Gb/s exactly); nobody stalls.
    assert short.downshifted == pytest.approx(100.0)
    assert short.rebuffering == pytest.approx(0.0)
    starved = downshift(riders, 0.3e9)
    # Even everyone at 720p needs 0.6 Gb/s: half of them stall.
    assert starved.rebuffering == pytest.approx(100.0)
    assert starved.delivered_bps == pytest.approx(0.3e9)


def test_without_adaptive_bitrate_the_excess_stalls():
    out = downshift(np.array([100.0, 0.0, 0.0]), 0.15e9, adaptive=False)
    assert out.rebuffering == pytest.approx(50.0) and out.downshifted == 0.0


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
