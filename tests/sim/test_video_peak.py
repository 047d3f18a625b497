"""The worst moment of degraded video as a share that holds at any scale (twin.sim.video_peak).

- On the whole platform a tick holds more viewing than the span, so the peak is the worst
  tick's share, as "at every moment" says.
- The same episode at 1/500 of the riders reads the same peak, where the worst tick's share
  (one rider stalled among a handful) read 100 %.
- A single stalled segment at a small scale is a sliver; a run that never holds a span's worth
  of viewing is one span; nobody watching is 0.
"""

from __future__ import annotations

import numpy as np
import pytest

from twin.sim.video_peak import PEAK_SPAN_RIDER_S, peak_share


def _evening(riders: float, ticks: int = 3600) -> tuple[np.ndarray, np.ndarray]:
    """Riders watching per 1 s tick and a 10-minute episode with 40 % of them degraded."""
    watching = np.full(ticks, riders)
    degraded = np.zeros(ticks)
    degraded[1200:1800] = 0.4 * riders
    return watching, degraded


def test_on_the_whole_platform_the_peak_is_the_worst_tick() -> None:
    watching, degraded = _evening(50_000.0)
    degraded[100] = 0.6 * 50_000.0  # one bad second
    assert peak_share(watching, degraded, 1.0) == pytest.approx(0.6)


def test_the_same_episode_reads_the_same_at_a_small_scale() -> None:
    full = peak_share(*_evening(50_000.0), 1.0)
    small_w, small_d = _evening(100.0)
    small_d[100] = 1.0  # one rider of a hundred stalled for a second...
    small_d[101] = 100.0  # ...and every rider for one second: a tick at 100 %
    assert full == pytest.approx(0.4)
    assert peak_share(small_w, small_d, 1.0) == pytest.approx(0.4)
    tick_max = float(np.max(small_d / small_w))
    assert tick_max == 1.0  # what the worst tick read


def test_slivers_short_runs_and_nobody_watching() -> None:
    watching = np.full(7200, 2.0)  # two riders for two hours, 5 s ticks
    degraded = np.zeros(7200)
    degraded[10] = 1.0
    assert peak_share(watching, degraded, 5.0) == pytest.approx(5.0 / PEAK_SPAN_RIDER_S)
    short_w, short_d = np.ones(100), np.r_[np.ones(10), np.zeros(90)]
    assert peak_share(short_w, short_d, 1.0) == pytest.approx(0.1)  # 100 rider-s: one span
    assert peak_share(np.zeros(10), np.zeros(10), 1.0) == 0.0
