"""The storage and stream backends directly, both of them: idempotent ingest, exactly-once
leaderboard updates, crash recovery of read-but-uncommitted entries, paused consumers
(the 2021 IoT incident in miniature) and what survives a restart."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from tests.serve.helpers import BACKENDS, flush_redis
from twin.serve.backends.base import Backend, shard_of
from twin.serve.backends.embedded import EmbeddedBackend
from twin.serve.backends.redis import RedisBackend
from twin.serve.faults import Faults
from twin.serve.metrics import Metrics
from twin.serve.processor import StreamProcessor, lags
from twin.serve.validation import TelemetryBatch

CLASS = "live-20260101T1200-cycling-01"


def make_batch(
    device: str, seqs: range, watts: float = 200.0, t: float | None = None
) -> TelemetryBatch:
    t = time.time() if t is None else t
    docs = json.dumps([{"seq": s, "t": t, "power_w": watts} for s in seqs], separators=(",", ":"))
    n = len(seqs)
    return TelemetryBatch(device, CLASS, list(seqs), [t] * n, [watts] * n, docs)


@pytest.fixture(params=BACKENDS)
def factory(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Backend]:
    if request.param == "embedded":
        return lambda: EmbeddedBackend(tmp_path, shards=4)
    url = request.getfixturevalue("redis_url")
    flush_redis(url)
    return lambda: RedisBackend(url, shards=4)


def run(
    factory: Callable[[], Backend], scenario: Callable[[Backend], Coroutine[Any, Any, Any]]
) -> Any:
    async def main() -> Any:
        backend = factory()
        await backend.start()
        try:
            return await scenario(backend)
        finally:
            await backend.close()

    return asyncio.run(main())


async def drain(backend: Backend, shard: int, consumer: str = "c") -> int:
    applied = 0
    while entries := await backend.read_shard(shard, consumer, 1000, 0.05):
        applied += await backend.commit(shard, entries)
    return applied


def test_ingest_stores_and_streams_each_seq_once(factory: Callable[[], Backend]) -> None:
    async def scenario(b: Backend) -> None:
        t = time.time()
        first = await b.ingest(make_batch("d1", range(10), t=t))
        clash = await b.ingest(make_batch("d1", range(5, 15), watts=999.0, t=t))
        again = await b.ingest(make_batch("d1", range(5, 15), t=t))  # a true retry, and more
        assert (first.accepted, first.duplicates) == (10, 0)
        assert clash.conflict is not None and clash.conflict.seq == 5  # other content: refused
        assert (clash.accepted, clash.duplicates) == (0, 0)
        assert json.loads(clash.conflict.stored_json)["power_w"] == 200.0
        assert (again.accepted, again.duplicates) == (5, 5) and again.conflict is None
        shard = shard_of("d1", 4)
        assert (await b.backlog())[shard] == 15  # 15 entries streamed, not 20
        docs = [json.loads(d) for d in await b.samples_json("d1")]
        assert [d["seq"] for d in docs] == list(range(15))
        assert [d["power_w"] for d in docs] == [200.0] * 15  # the refused batch left no trace
        assert await drain(b, shard) == 15
        top, total = await b.leaderboard(CLASS, 10)
        assert top == [("device:d1", pytest.approx(15 * 200 / 1000))] and total == 1

    run(factory, scenario)


def test_a_partly_repeated_batch_streams_only_its_new_samples(
    factory: Callable[[], Backend],
) -> None:
    """The stream entry of a retried batch carries exactly the times and output of the samples
    that were new (on Redis: the Lua script's 0/1 mask), in the batch's order."""
    t0 = time.time() - 100

    def batch(seqs: list[int]) -> TelemetryBatch:
        docs = json.dumps([{"seq": s} for s in seqs], separators=(",", ":"))
        times, watts = [t0 + s for s in seqs], [100.0 + s for s in seqs]
        return TelemetryBatch("d-mask", CLASS, seqs, times, watts, docs)

    async def scenario(b: Backend) -> None:
        await b.ingest(batch([2, 4]))
        result = await b.ingest(batch([1, 2, 3, 4, 5]))
        assert (result.accepted, result.duplicates) == (3, 2)
        entries = await b.read_shard(shard_of("d-mask", 4), "c", 10, 0.1)
        assert [e.times for e in entries] == [(t0 + 2, t0 + 4), (t0 + 1, t0 + 3, t0 + 5)]
        assert [e.output_kj for e in entries] == pytest.approx([0.206, 0.309])
        assert (await b.backlog())[shard_of("d-mask", 4)] == 5

    run(factory, scenario)


def test_a_commit_is_applied_once(factory: Callable[[], Backend]) -> None:
    async def scenario(b: Backend) -> None:
        await b.join(CLASS, "rider-a", "d2")
        await b.ingest(make_batch("d2", range(20), watts=250.0))
        shard = shard_of("d2", 4)
        entries = await b.read_shard(shard, "c", 1000, 0.1)
        assert len(entries) == 1 and entries[0].member == "rider-a"  # one entry per batch
        assert entries[0].samples == 20 and entries[0].output_kj == pytest.approx(5.0)
        assert await b.commit(shard, entries) == 20
        assert await b.commit(shard, entries) == 0  # a retried commit changes nothing
        assert (await b.leaderboard(CLASS, 1))[0] == [("rider-a", pytest.approx(5.0))]
        assert (await b.backlog())[shard] == 0

    run(factory, scenario)


def test_entries_read_before_a_crash_are_reread_and_counted_once(redis_url: str) -> None:
    flush_redis(redis_url)
    shard = shard_of("d3", 4)

    async def main() -> None:
        before = RedisBackend(redis_url, shards=4)
        await before.start()
        await before.ingest(make_batch("d3", range(30), watts=100.0))
        read = await before.read_shard(shard, "w0-c1", 1000, 0.1)
        assert sum(e.samples for e in read) == 30
        await before.close()  # dies between read and commit: the entries stay pending
        after = RedisBackend(redis_url, shards=4)
        await after.start()
        assert (await after.backlog())[shard] == 30
        assert await drain(after, shard, "w0-c1") == 30
        assert (await after.leaderboard(CLASS, 1))[0] == [("device:d3", pytest.approx(3.0))]
        await after.close()

    asyncio.run(main())


def test_a_paused_consumer_builds_backlog_and_lag(factory: Callable[[], Backend]) -> None:
    """Pause the shard's consumer, ingest, resume: the backlog drains and every sample's lag
    is at least the pause (the 2021 incident: too few consumers, leaderboards hours late)."""
    device = next(f"p{i}" for i in range(100) if shard_of(f"p{i}", 4) == 0)

    async def scenario(b: Backend) -> None:
        metrics, faults = Metrics(), Faults(paused_consumers=1)
        processor = StreamProcessor(b, metrics, faults, block_s=0.05)
        await processor.start()
        sent_at = time.time()
        await b.ingest(make_batch(device, range(40), t=sent_at))
        await asyncio.sleep(0.5)
        assert (await b.backlog())[0] == 40
        assert (await b.leaderboard(CLASS, 1))[1] == 0
        faults.paused_consumers = 0
        for _ in range(200):
            if (await b.backlog())[0] == 0 and (await b.leaderboard(CLASS, 1))[1] == 1:
                break
            await asyncio.sleep(0.02)
        await processor.stop()
        assert (await b.leaderboard(CLASS, 1))[0] == [(f"device:{device}", pytest.approx(8.0))]
        value = metrics.registry.get_sample_value
        assert value("twin_leaderboard_lag_seconds_sum") >= 40 * 0.5
        assert value("twin_leaderboard_lag_seconds_count") == 40.0
        assert value("twin_leaderboard_lag_seconds_bucket", {"le": "0.25"}) == 0.0

    run(factory, scenario)


def test_lag_is_never_negative() -> None:
    from twin.serve.backends.base import StreamEntry

    entries = [
        StreamEntry("1", CLASS, "m", (100.0, 101.5), 1.0),
        StreamEntry("2", CLASS, "m", (105.0,), 1.0),
    ]
    assert lags(entries, 103.0) == [3.0, 1.5, 0.0]


T_RESTART = time.time()


def test_embedded_restart_keeps_samples_leaderboards_and_interactions(tmp_path: Path) -> None:
    async def first_life() -> None:
        b = EmbeddedBackend(tmp_path, shards=2)
        await b.start()
        await b.join(CLASS, "rider-z", "dz")
        await b.ingest(make_batch("dz", range(10), watts=300.0, t=T_RESTART))
        await b.add_interaction("rider-z", CLASS, 0.75)
        await b.close()  # the stream was never consumed: the board must come from SQLite

    async def second_life() -> tuple[Any, ...]:
        b = EmbeddedBackend(tmp_path, shards=2)
        await b.start()
        result = (
            len(await b.samples_json("dz")),
            await b.leaderboard(CLASS, 5),
            await b.interactions(),
            await b.ingest(make_batch("dz", range(5, 15), watts=300.0, t=T_RESTART)),  # a retry
        )
        await b.close()
        return result

    asyncio.run(first_life())
    count, board, interactions, retry = asyncio.run(second_life())
    assert count == 10
    assert board == ([("rider-z", pytest.approx(3.0))], 1)
    assert interactions == [("rider-z", CLASS, 0.75)]
    assert (retry.accepted, retry.duplicates) == (5, 5)  # what is stored is known after restart
