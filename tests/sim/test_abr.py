"""Adaptive bitrate under short egress: the top renditions step down first, the rest stalls."""

from __future__ import annotations

import numpy as np
import pytest

from twin.sim.abr import downshift


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
