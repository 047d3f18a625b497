"""The event loop's lag: how late a timer fires because the loop was busy.

Every request `twin serve` answers runs its Python on one event loop per process, so time the
loop spends on one request (parsing a batch, signing a token, copying a segment into the
transport) or on the stream's consumers is time every other request waits, before any handler
(and `twin_http_request_duration_seconds`) sees it. A task sleeps `every_s` over and over and
observes how much later than asked it woke: `twin_event_loop_lag_seconds`, the same measure as
Node.js's `eventLoopLag` and Python's own slow-callback warning, at 100 samples a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

__all__ = ["LAG_BUCKETS", "LOOP_LAG_KEY", "LoopLag"]

LOOP_LAG_KEY = "loop_lag"  # where the app keeps its sampler (`ServeState.extras`)
LAG_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class LoopLag:
    """Observes into `histogram` how late each `every_s` sleep ends, until `stop()`."""

    def __init__(
        self, histogram: Any, every_s: float = 0.01, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.histogram = histogram
        self.every_s = every_s
        self.clock = clock
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._sample(), name="twin-loop-lag")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _sample(self) -> None:
        while True:
            asked = self.clock() + self.every_s
            await asyncio.sleep(self.every_s)
            self.histogram.observe(max(0.0, self.clock() - asked))
