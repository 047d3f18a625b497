"""Rate-limit buckets in Redis, shared by every worker process of `twin serve --workers N`.

`RedisLimiter` is the `twin.serve.ratelimit.Limiter` of the Redis backend: a token bucket per
key in a Redis hash (`twin:rl:{limit}:{key}`), spent by one Lua script on Redis' own clock, so a
token's 10 r/s is 10 r/s whichever worker answers. The bucket's Lua function,
`BUCKET_FUNCTION`, is also the first part of the Redis backend's `INGEST` script
(`twin.serve.backends.redis`), which spends a telemetry request's charges with its write.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

__all__ = ["BUCKET_FUNCTION", "RedisHost", "RedisLimiter"]

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


class RedisHost(Protocol):
    """What a limiter needs of its backend (a `RedisBackend`): the client, once it started.

    A protocol rather than the class itself, because the Redis backend imports this module.
    """

    @property
    def redis(self) -> Any: ...


class RedisLimiter:
    """A `twin.serve.ratelimit.Limiter` whose buckets live in Redis, shared by every worker."""

    def __init__(self, backend: RedisHost, name: str, rate: float, burst: float) -> None:
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
