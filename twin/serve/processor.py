"""The stream processor: telemetry stream -> leaderboards, one consumer per shard.

Each consumer reads its shard in batches, applies the batch to the class leaderboards and
acknowledges it in one atomic `Backend.commit`, then records the leaderboard lag of every
sample: now minus the time the sample was taken on the bike. That is the DESIGN's first-class
metric (the 2021 IoT incident was this lag growing for four hours while shards were too few).
A drill pauses consumers through `Faults.paused_consumers` (shards 0..n-1 stop reading), which
makes their backlog and lag grow exactly as a lost shard would.

`health(max_lag_s)` says why the processor is degraded, for `/healthz`: a shard whose consumer's
last attempt failed, or a shard that has held a backlog without progress for over `max_lag_s`.

On Redis the consumers of every `twin serve` process join one consumer group per shard, named
`w{worker}-c{shard}`, so a restarted process first finishes what it had read before it died.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from twin.serve.backends.base import StreamEntry

if TYPE_CHECKING:
    from twin.serve.backends.base import Backend
    from twin.serve.faults import Faults
    from twin.serve.metrics import Metrics

__all__ = ["PROCESSOR_KEY", "StreamProcessor", "lags"]

PROCESSOR_KEY = "processor"  # where the app keeps its processor (`ServeState.extras`)

log = logging.getLogger("twin.serve")


def lags(entries: Sequence[StreamEntry], now: float) -> list[float]:
    """Leaderboard lag of each sample applied at `now` (never negative: clocks may disagree)."""
    return [max(0.0, now - t) for e in entries for t in e.times]


class StreamProcessor:
    """Runs one consumer task per shard until `stop()`."""

    def __init__(
        self,
        backend: Backend,
        metrics: Metrics,
        faults: Faults,
        *,
        worker: int = 0,
        batch: int = 200,
        block_s: float = 0.25,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.backend = backend
        self.metrics = metrics
        self.faults = faults
        self.worker = worker
        self.batch = batch
        self.block_s = block_s
        self.clock = clock
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self.failing: dict[int, str] = {}  # shard -> why its last attempt failed
        self._backlog: dict[int, int] = {}
        self._since = [clock()] * backend.shards  # last progress, or last seen with no backlog

    def health(self, max_lag_s: float) -> list[str]:
        """Why the processor is degraded (empty: it is not): a shard whose consumer is failing,
        or one holding a backlog it has not moved for more than `max_lag_s` seconds."""
        now = self.clock()
        reasons = [f"shard {k}: consumer failing: {why}" for k, why in sorted(self.failing.items())]
        for shard, waiting in sorted(self._backlog.items()):
            stalled = now - self._since[shard]
            if waiting > 0 and stalled > max_lag_s and shard not in self.failing:
                reasons.append(
                    f"shard {shard}: {waiting} samples behind, no progress for {stalled:.0f} s "
                    f"(limit {max_lag_s:g} s)"
                )
        return reasons

    async def start(self) -> None:
        for shard in range(self.backend.shards):
            name = f"twin-consumer-{shard}"
            self._tasks.append(asyncio.create_task(self._consume(shard), name=name))
        self._tasks.append(asyncio.create_task(self._watch_backlog(), name="twin-backlog"))

    async def stop(self, grace_s: float = 2.0) -> None:
        """Let each consumer finish its read (at most `block_s`), then cancel what is left.

        A Redis command cancelled mid-flight can leave redis-py's connection pool waiting
        forever; a consumer that stops between commands cannot.
        """
        self._stopping.set()
        if not self._tasks:
            return
        _, pending = await asyncio.wait(self._tasks, timeout=self.block_s + grace_s)
        for task in pending:
            task.cancel()
        if pending:
            _, stuck = await asyncio.wait(pending, timeout=grace_s)
            if stuck:
                log.warning("stream processor: %d task(s) did not stop", len(stuck))
        self._tasks.clear()

    async def _consume(self, shard: int) -> None:
        consumer = f"w{self.worker}-c{shard}"
        while not self._stopping.is_set():
            if shard < self.faults.paused_consumers:
                await self._pause(0.05)
                continue
            try:
                await self.step(shard, consumer)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a Redis restart or a network blip: retry, never die
                self.failing[shard] = f"{type(exc).__name__}: {str(exc)[:200]}"
                log.warning("consumer %s: %s; retrying in 0.5 s", consumer, exc)
                await self._pause(0.5)
            else:
                self.failing.pop(shard, None)

    async def step(self, shard: int, consumer: str) -> int:
        """Read one batch of the shard, apply it, record its lags; how many were applied."""
        entries = await self.backend.read_shard(shard, consumer, self.batch, self.block_s)
        if not entries:
            return 0
        applied = await self.backend.commit(shard, entries)
        now = self.clock()
        self._since[shard] = now
        self._observe(shard, lags(entries, now))
        return applied

    def _observe(self, shard: int, values: list[float]) -> None:
        self.metrics.lag.observe_many(values)
        self.metrics.lag_last.labels(str(shard)).set(values[-1])
        self.metrics.processed.labels(str(shard)).inc(len(values))

    async def _watch_backlog(self, every_s: float = 1.0) -> None:
        while not self._stopping.is_set():
            try:
                self._note_backlog(await self.backend.backlog())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("backlog: %s", exc)
            await self._pause(every_s)

    def _note_backlog(self, backlog: dict[int, int]) -> None:
        self.metrics.set_backlog(backlog)
        now = self.clock()
        for shard, waiting in backlog.items():
            if waiting <= 0:
                self._since[shard] = now
        self._backlog = backlog

    async def _pause(self, seconds: float) -> None:
        """Sleep `seconds`, or less if `stop()` is called meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)
