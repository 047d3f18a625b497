"""The overload fluids of `twin.drill.overload` against what they stand for.

The egress fluid is held to the reference platform's own byte bucket (`EgressBucket`, the
GCRA that serves segments), fed the same segments one by one; the stream fluid to a fluid
queue's closed forms (a consumer slower than its arrivals: a backlog growing at the
difference, a FIFO wait growing with it) and to a pause's obvious figures (a shard paused P
seconds holds its share of P seconds of samples, and its oldest sample waits P seconds).
"""

from __future__ import annotations

import numpy as np
import pytest

from twin.drill.overload import (
    EGRESS_MAX_WAIT_S,
    egress_wait,
    fault_series,
    route_errors,
    shard_shares,
    stream_lag,
)
from twin.serve.streaming import MAX_QUEUE_S, EgressBucket


def test_the_fault_series_cumulates_the_replayed_patches():
    timeline = [
        (2.0, {"paused_consumers": 1, "origin_down": False, "origin_egress_bps": None,
               "routes": {"join": {"error_ratio": 0.5}}}),
        (5.0, {"paused_consumers": 0, "origin_down": True, "origin_egress_bps": 8e6,
               "routes": {"join": None}}),
    ]  # fmt: skip
    f = fault_series(timeline, 8)
    assert f.paused.tolist() == [0, 0, 1, 1, 1, 0, 0, 0]
    assert f.origin_down.tolist() == [False] * 5 + [True] * 3
    assert np.isnan(f.egress_bps[:5]).all() and (f.egress_bps[5:] == 8e6).all()
    assert f.error_ratio["join"].tolist() == [0, 0, 0.5, 0.5, 0.5, 0, 0, 0]
    assert f.any and not fault_series([], 8).any


def test_route_errors_count_injected_and_origin_503s():
    rates = {"join": np.full(4, 2.0), "segment": np.full(4, 10.0), "recommend": np.ones(4)}
    f = fault_series([(1.0, {"routes": {"join": {"error_ratio": 0.25}}}),
                      (3.0, {"origin_down": True})], 4)  # fmt: skip
    failed = route_errors(rates, f, refused_segments=np.array([0.0, 0.5, 0.5, 0.0]))
    assert failed["join"].tolist() == [0.0, 0.5, 0.5, 0.5]
    assert failed["segment"].tolist() == [0.0, 5.0, 5.0, 10.0]  # refused, then all down
    assert failed["recommend"].tolist() == [0.0] * 4


def _bucket_run(per_s: float, nbytes: float, cap_bps: float, seconds: int):
    """The server's bucket fed `per_s` evenly spaced segments a second: mean wait and share
    refused per second."""
    bucket = EgressBucket(cap_bps / 8, burst_bytes=nbytes, max_wait_s=MAX_QUEUE_S)
    waits, refused = np.zeros(seconds), np.zeros(seconds)
    n = int(per_s)
    for k in range(seconds):
        got = [bucket.reserve(int(nbytes), k + (i + 0.5) / n) for i in range(n)]
        waits[k] = np.mean([w for w in got if w is not None] or [0.0])
        refused[k] = sum(w is None for w in got) / n
    return waits, refused


@pytest.mark.parametrize("load", [0.5, 1.5, 3.0])
def test_the_egress_fluid_follows_the_servers_own_bucket(load):
    nbytes, cap, seconds = 3e6, 48e6, 40  # 2 segments/s fill the cap
    per_s = 2.0 * load
    fluid_wait, fluid_refused = egress_wait(np.full(seconds, per_s), nbytes,
                                            np.full(seconds, cap), burst_bytes=nbytes)  # fmt: skip
    real_wait, real_refused = _bucket_run(per_s, nbytes, cap, seconds)
    assert EGRESS_MAX_WAIT_S == MAX_QUEUE_S
    if load < 1:
        assert fluid_wait.max() == 0 and fluid_refused.max() == 0
        assert real_wait.max() < 0.5 and real_refused.max() == 0
        return
    # the wait grows by (load - 1) s each second until the bucket's limit, then refusals hold
    # the admitted bytes at the cap: the share refused tends to 1 - 1 / load
    assert abs(fluid_wait[-10:].mean() - real_wait[-10:].mean()) < 0.6
    assert abs(fluid_refused[-10:].mean() - (1 - 1 / load)) < 0.05
    assert abs(real_refused[-10:].mean() - (1 - 1 / load)) < 0.1
    growing = slice(1, 4)
    assert np.allclose(np.diff(fluid_wait[growing]), load - 1, atol=0.05)


def test_a_paused_shard_holds_its_share_and_its_oldest_sample_waits_the_pause():
    seconds, rate, pause = 30, 20.0, (5, 15)
    paused = np.zeros(seconds)
    paused[pause[0]:pause[1]] = 1  # shard 0 stops reading
    shares = (0.25, 0.25, 0.25, 0.25)
    lag = stream_lag(np.full(seconds, rate), paused, shares, drain_per_shard_s=500.0,
                     batch_s=5.0, width_s=1.0, n=seconds)  # fmt: skip
    held = rate * shares[0] * (pause[1] - pause[0])
    assert lag.backlog[pause[1] - 1] == pytest.approx(held, rel=0.02)
    assert lag.backlog[: pause[0]].max() < 0.5 and lag.backlog[-5:].max() < 0.5
    # samples applied at the resume waited up to the whole pause, plus up to 4 s of batch age:
    # the held ones' waits spread evenly over 0-10 s, so their p99 is near, not at, 14 s
    assert 12.5 <= lag.lag_p99_s[pause[1]] <= pause[1] - pause[0] + 4
    assert lag.lag_p99_s[: pause[0]].max() < 4.5  # before it: the batch age alone
    # while paused, shards 1-3 still apply samples; the paused one none: p99 < its wait
    assert np.all(lag.lag_p99_s[pause[0]:pause[1]] < 4.5)


def test_a_slow_consumer_queues_as_a_fluid_queue_does():
    """Offered 30 samples/s to one shard draining 20/s: the backlog grows 10/s, and a sample
    applied at t arrived when the arrivals reached what has left: at t * 20 / 30."""
    seconds = 30
    lag = stream_lag(np.full(seconds, 30.0), np.zeros(seconds), (1.0,),
                     drain_per_shard_s=20.0, batch_s=1.0, width_s=1.0, n=seconds)  # fmt: skip
    assert np.allclose(lag.backlog[4:], 10.0 * np.arange(5, seconds + 1), rtol=0.02)
    # lag at t = t - 2t/3 = t/3 (age 0 with 1 s batches), the interval's newest departure
    assert np.allclose(lag.lag_p99_s[5:], (np.arange(5, seconds) + 1) / 3, atol=0.2)


def test_shards_are_shared_as_the_server_hashes_devices():
    from twin.serve.backends.base import shard_of

    devices = [f"bike-{i:04x}" for i in range(50)]
    shares = shard_shares(devices, 4)
    assert shares.sum() == pytest.approx(1.0)
    for k in range(4):
        assert shares[k] == pytest.approx(sum(shard_of(d, 4) == k for d in devices) / 50)
    assert shard_shares([], 4).tolist() == [0.25] * 4


def test_a_capped_origin_delays_the_segments_and_what_waits_behind_them():
    from twin.drill.predict_timeline import _Egress

    egress = _Egress(wait_s=np.array([0.0, 8.0, 2.0]), refused=np.array([0.0, 0.5, 0.0]),
                     segment_s=4.0)  # fmt: skip
    assert egress.delay_ms("segment", 0, 0.95) == 0.0  # no cap, no wait
    # half refused at once: the p50 is a refusal's, the p95 an admitted segment's 8 s
    assert egress.delay_ms("segment", 1, 0.5) == 0.0
    assert egress.delay_ms("segment", 1, 0.95) == 8000.0
    # the admitted half keeps the player busy 4 s of each 4 s: every telemetry batch waits,
    # evenly over 0 .. 8 s
    assert egress.delay_ms("telemetry", 1, 0.5) == pytest.approx(4000.0)
    assert egress.delay_ms("leaderboard", 1, 0.95) == pytest.approx(7600.0)
    # a 2 s wait keeps it busy half the time: the lower half of batches do not wait
    assert egress.delay_ms("telemetry", 2, 0.4) == 0.0
    assert egress.delay_ms("telemetry", 2, 0.75) == pytest.approx(1000.0)
    assert egress.delay_ms("playlist", 1, 0.95) == 0.0  # as measured: see _Egress
    assert egress.delay_ms("join", 1, 0.95) == 0.0  # sent before the player starts


def test_the_whole_drills_figures_take_the_faults_in():
    from twin.drill.predict_timeline import with_faults

    predicted = {"replications": 3, "requests": {
        "segment": {"count": 300, "errors": 0, "latency_ms": {"mean": 20.0, "p50": 10.0,
                                                               "p95": 30.0, "p99": 50.0}},
        "join": {"count": 30, "errors": 3, "latency_ms": {"p50": 2.0, "p95": 5.0}},
    }}  # fmt: skip
    whole = {"segment": {"errors": 40.0, "latency_ms": {"p50": 12.0, "p95": 8000.0,
                                                        "p99": 8100.0}}}  # fmt: skip
    out = with_faults(predicted, whole)
    seg = out["requests"]["segment"]
    assert seg["errors"] == 120  # 40 a replication, over the summary's three
    assert seg["latency_ms"] == {"mean": 20.0, "p50": 12.0, "p95": 8000.0, "p99": 8100.0}
    assert out["requests"]["join"] == predicted["requests"]["join"]
    assert predicted["requests"]["segment"]["errors"] == 0  # the input is left as it was
