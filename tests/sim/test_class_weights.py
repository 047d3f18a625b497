"""Live classes' joiners kept per class over its join window (twin.platform.class_weights),
against the dense devices x classes x ticks array it replaces: the same numbers at every tick,
for a run of one evening, at a fraction of the memory."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from twin.config.platform import DemandSpec
from twin.config.vocabulary import DEVICES
from twin.platform.demand import _joined, class_joiners, compute_demand
from twin.sim.class_weights import ClassWeights


@pytest.fixture(scope="module")
def evening(population, catalog):
    start = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)  # 17:00 in New York
    return compute_demand(
        population, catalog, DemandSpec(), start_utc=start, duration_s=6 * 3600, tick_s=5.0
    )


def _dense_reference(classes, t, tick_s):
    """The dense array as it was built before: every class over every tick."""
    out = np.zeros((len(DEVICES), len(classes), len(t)))
    for c, x in enumerate(classes):
        riders = np.asarray(x.by_device or [x.riders / len(DEVICES)] * len(DEVICES))[:, None]
        end = x.start_s + x.duration_s
        out[:, c] = riders * ((_joined(x, t + tick_s) - _joined(x, t)) * (t < end))
    return out


def test_the_kept_windows_hold_every_joiner_of_the_dense_array(evening):
    first, blocks, _at0, _ends = class_joiners(evening.live_classes, evening.t, evening.tick_s)
    weights = ClassWeights(len(DEVICES), len(evening.t), first, blocks)
    dense = _dense_reference(evening.live_classes, evening.t, evening.tick_s)
    assert weights.classes == dense.shape[1] > 10
    np.testing.assert_array_equal(weights.dense(), dense)
    for k in (0, 100, 1000, len(evening.t) - 1):
        np.testing.assert_array_equal(weights.at(k), dense[:, :, k])
    rng = np.random.default_rng(7)
    devices = rng.integers(0, len(DEVICES), 500)
    ticks = rng.integers(0, len(evening.t), 500)
    np.testing.assert_array_equal(weights.rows(devices, ticks), dense[devices, :, ticks])
    np.testing.assert_allclose(weights.totals(), dense.sum(axis=1), rtol=1e-12, atol=1e-15)
    assert weights.nbytes < dense.nbytes / 5  # a class takes joiners for 25 of its minutes


def test_from_dense_keeps_each_class_s_nonzero_span():
    dense = np.zeros((2, 3, 10))
    dense[0, 0, 2:5] = 1.0
    dense[1, 2, 7] = 2.0
    weights = ClassWeights.from_dense(dense)
    assert weights.first.tolist() == [2, 0, 7]
    assert [b.shape[1] for b in weights.blocks] == [3, 0, 1]
    np.testing.assert_array_equal(weights.dense(), dense)
