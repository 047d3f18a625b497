"""`twin_event_loop_lag_seconds`: a loop held busy shows as lag, an idle one does not."""

from __future__ import annotations

import asyncio
import time

from prometheus_client import CollectorRegistry, Histogram

from twin.serve.loop_lag import LAG_BUCKETS, LoopLag


def _histogram() -> Histogram:
    return Histogram("lag", "lag", buckets=LAG_BUCKETS, registry=CollectorRegistry())


def _counts(h: Histogram) -> dict[float, float]:
    out = {}
    for sample in h.collect()[0].samples:
        if sample.name.endswith("_bucket"):
            out[float(sample.labels["le"])] = sample.value
    return out


async def _run(block_s: float, blocks: int) -> dict[float, float]:
    h = _histogram()
    lag = LoopLag(h, every_s=0.01)
    await lag.start()
    for _ in range(blocks):
        await asyncio.sleep(0.03)
        time.sleep(block_s)  # the loop does nothing else meanwhile: as a long handler would
    await asyncio.sleep(0.03)
    await lag.stop()
    return _counts(h)


def test_a_loop_held_for_50_ms_shows_lags_of_tens_of_ms():
    counts = asyncio.run(_run(0.05, 5))
    total = counts[float("inf")]
    assert total >= 15
    # each block delays the one pending timer by up to 50 ms: five samples past 10 ms
    assert total - counts[0.01] >= 5
    assert counts[0.25] == total  # nothing far past what the loop was held for


def test_an_idle_loop_shows_almost_no_lag():
    counts = asyncio.run(_run(0.0, 10))
    assert counts[float("inf")] >= 25
    # timers within a few ms of their time (a busy test machine may delay one now and then)
    assert counts[0.025] >= 0.9 * counts[float("inf")]
