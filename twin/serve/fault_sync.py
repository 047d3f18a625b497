"""Faults shared between the worker processes of `twin serve --redis URL --workers N`.

The workers share nothing but Redis, so on the Redis backend the faults a drill injects live
there too: after an admin call changes this worker's `Faults`, `FaultSync.publish()` stores
them under `twin:faults` and announces them on the channel of the same name; every worker
listens and loads what another one published, and loads the stored ones when it starts, so a
fault set through any worker applies to all of them. (The rate-limit buckets the workers share
are `twin.serve.backends.redis_limiter`.)

A worker ignores its own announcements, and nothing is polled: local changes that were not
published (a test setting `state.faults` directly) stay until the next publication.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from twin.serve.backends.redis import RedisBackend
    from twin.serve.faults import Faults

__all__ = ["FAULTS_KEY", "FaultSync"]

log = logging.getLogger("twin.serve")

FAULTS_KEY = "twin:faults"  # the faults in force, and the channel that announces them


class FaultSync:
    """Keeps this worker's `Faults` equal to the last ones any worker published."""

    def __init__(self, backend: RedisBackend, faults: Faults) -> None:
        self.backend = backend
        self.faults = faults
        self.origin = uuid.uuid4().hex  # to recognise (and skip) our own announcements
        self._task: asyncio.Task[None] | None = None
        self.loaded = asyncio.Event()  # set once the stored faults were loaded at start

    async def publish(self) -> None:
        """Store this worker's faults and announce them to the others."""
        doc = json.dumps({"origin": self.origin, "faults": self.faults.to_doc()})
        async with self.backend.redis.pipeline(transaction=True) as pipe:
            pipe.set(FAULTS_KEY, doc)
            pipe.publish(FAULTS_KEY, doc)
            await pipe.execute()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="twin-fault-sync")
        await asyncio.wait_for(self.loaded.wait(), 10.0)

    async def stop(self, grace_s: float = 2.0) -> None:
        if self._task is not None:
            self._task.cancel()  # it waits on its own connection: nothing else to disturb
            await asyncio.wait([self._task], timeout=grace_s)

    def _apply(self, raw: str | None) -> None:
        if not raw:
            return
        doc = json.loads(raw)
        if doc.get("origin") != self.origin:
            self.faults.load(doc["faults"])

    async def _listen(self) -> None:
        while True:
            try:
                async with self.backend.redis.pubsub() as pubsub:
                    await pubsub.subscribe(FAULTS_KEY)  # first, so no announcement is missed
                    self._apply(await self.backend.redis.get(FAULTS_KEY))
                    self.loaded.set()
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            self._apply(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis restarting: resubscribe and reload
                log.warning("fault sync: %s; retrying in 0.5 s", exc)
                await asyncio.sleep(0.5)
