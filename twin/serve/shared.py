"""What the worker processes of `twin serve --redis URL --workers N` share besides the data.

The workers share nothing but Redis, so two more things live there on the Redis backend:

- the rate-limit buckets (`RedisLimiter`): a token bucket per key in a Redis hash, spent by one
  Lua script on Redis' own clock, so a token's 10 r/s is 10 r/s whichever worker answers;
- the faults a drill injects (`FaultSync`): after an admin call changes this worker's
  `Faults`, `publish()` stores them under `twin:faults` and announces them on the channel of
  the same name; every worker listens and loads what another one published, and loads the
  stored ones when it starts, so a fault set through any worker applies to all of them.

A worker ignores its own announcements, and nothing is polled: local changes that were not
published (a test setting `state.faults` directly) stay until the next publication.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from twin.serve.backends.redis import RedisBackend
    from twin.serve.state import Faults

__all__ = ["BUCKET_FUNCTION", "FAULTS_KEY", "FaultSync", "RedisLimiter"]

log = logging.getLogger("twin.serve")

FAULTS_KEY = "twin:faults"  # the faults in force, and the channel that announces them
BUCKET_PREFIX = "twin:rl:"

# `take(key, rate, burst, cost, expire_ms)`: nil when `cost` tokens were spent, else the wait in
# seconds as a string ("inf" when the cost exceeds the burst), nothing spent. The clock is
# Redis' own, the same for every worker. A bucket idle for burst/rate seconds is full again
# and carries no information, so it expires. The Redis backend's INGEST script uses it too.
BUCKET_FUNCTION = """
local function take(key, rate, burst, cost, expire)
  local clock = redis.call('TIME')
  local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
  local held = redis.call('HMGET', key, 't', 'at')
  local tokens = burst
  if held[1] then
    tokens = math.min(burst, tonumber(held[1]) + math.max(0, now - tonumber(held[2])) * rate)
  end
  if tokens >= cost then
    redis.call('HSET', key, 't', tokens - cost, 'at', now)
    redis.call('PEXPIRE', key, expire)
    return nil
  end
  if cost > burst then return 'inf' end
  return tostring((cost - tokens) / rate)
end
"""

TOKEN_BUCKET = (
    BUCKET_FUNCTION
    + """
local wait = take(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4])
return wait or '0'
"""
)


class RedisLimiter:
    """A `twin.serve.ratelimit.Limiter` whose buckets live in Redis, shared by every worker."""

    def __init__(self, backend: RedisBackend, name: str, rate: float, burst: float) -> None:
        self.backend = backend
        self.name = name
        self.rate = rate
        self.burst = burst
        self.expire_ms = math.ceil(burst / rate * 1000.0) + 1000
        self._script: Any = None

    def redis_key(self, key: str) -> str:
        return f"{BUCKET_PREFIX}{self.name}:{key}"

    async def take(self, key: str, cost: float = 1.0) -> float:
        if self._script is None:  # the client exists once the backend started
            self._script = self.backend.redis.register_script(TOKEN_BUCKET)
        reply = await self._script(
            keys=[self.redis_key(key)], args=[self.rate, self.burst, cost, self.expire_ms]
        )
        return float(reply)


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
